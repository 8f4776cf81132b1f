"""The published table contract: it matches the models, and changes carry a version bump."""

import copy
import itertools

import pytest

from schemas import contract
from schemas.contract import (
    bump_between,
    compare_tables,
    current_tables,
    load_contract,
    required_bump,
    updated_contract,
)

BASE = {
    "articles": {
        "article_id": {"type": "VARCHAR", "nullable": False},
        "title": {"type": "VARCHAR", "nullable": True},
    }
}


def _changed(edit) -> dict:
    tables = copy.deepcopy(BASE)
    edit(tables["articles"])
    return tables


def test_committed_contract_matches_the_models():
    committed = load_contract()
    try:
        assert updated_contract(committed) == committed, (
            "schemas/contract.json is stale: run `python -m schemas.contract` and commit it"
        )
    except ValueError as error:
        pytest.fail(f"the models changed without a contract version bump: {error}")
    assert committed["version"] == contract.CONTRACT_VERSION
    assert committed["versions"][-1]["tables"] == current_tables()


def test_every_recorded_version_bumps_as_much_as_its_changes_need():
    versions = load_contract()["versions"]
    for old, new in itertools.pairwise(versions):
        needed = required_bump(compare_tables(old["tables"], new["tables"]))
        done = bump_between(old["version"], new["version"])
        order = contract.BUMP_ORDER
        assert done != "none", f"{new['version']} does not follow {old['version']}"
        assert order.index(done) >= order.index(needed), (old["version"], new["version"])


@pytest.mark.parametrize(
    ("edit", "bump"),
    [
        (lambda table: None, "none"),
        (lambda table: table.update(section={"type": "VARCHAR", "nullable": True}), "minor"),
        (lambda table: table.update(score={"type": "DOUBLE", "nullable": False}), "major"),
        (lambda table: table.pop("title"), "major"),
        (lambda table: table.update(headline=table.pop("title")), "major"),  # a rename
        (lambda table: table["title"].update(type="BIGINT"), "major"),
        (lambda table: table["title"].update(nullable=False), "major"),
        (lambda table: table["article_id"].update(nullable=True), "minor"),
    ],
    ids=[
        "same",
        "add-nullable",
        "add-required",
        "remove",
        "rename",
        "retype",
        "require",
        "relax",
    ],
)
def test_changes_need_the_right_bump(edit, bump):
    assert required_bump(compare_tables(BASE, _changed(edit))) == bump


def test_tables_added_or_removed():
    assert required_bump(compare_tables(BASE, {**BASE, "runs": {}})) == "minor"
    assert required_bump(compare_tables(BASE, {})) == "major"


@pytest.mark.parametrize(
    ("version", "change", "accepted"),
    [
        ("1.0.0", "add-nullable", False),  # models changed, version not bumped
        ("1.0.1", "add-nullable", False),  # a patch bump is not enough
        ("1.1.0", "add-nullable", True),
        ("1.1.0", "remove", False),  # removing needs a major bump
        ("2.0.0", "remove", True),
    ],
)
def test_a_model_change_without_a_large_enough_bump_is_refused(
    monkeypatch, version, change, accepted
):
    committed = {"versions": [{"version": "1.0.0", "tables": BASE}]}
    edits = {
        "add-nullable": lambda table: table.update(note={"type": "VARCHAR", "nullable": True}),
        "remove": lambda table: table.pop("title"),
    }
    monkeypatch.setattr(contract, "current_tables", lambda: _changed(edits[change]))
    monkeypatch.setattr(contract, "CONTRACT_VERSION", version)
    if accepted:
        updated = updated_contract(committed)
        assert [entry["version"] for entry in updated["versions"]] == ["1.0.0", version]
    else:
        with pytest.raises(ValueError, match="version bump"):
            updated_contract(committed)
