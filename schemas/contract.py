"""The published table contract: `schemas/contract.json`, generated from the pandera models.

Downstream teams rely on column names, types and nullability. Every change to them gets a new
contract version, recorded beside the previous ones:
- minor: a new table, a new nullable column, a required column becoming nullable;
- major: a table or column removed or renamed, a type changed, a nullable column becoming
  required, or a required column added to an existing table (rows landed before it have none).

To change the models: bump CONTRACT_VERSION, then run `python -m schemas.contract`, which
appends the new version and refuses a bump smaller than the change needs. `--check` exits 1
when the committed contract does not match the models.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from schemas.arrow import duckdb_columns
from schemas.tables import TABLE_MODELS

CONTRACT_VERSION = "1.4.0"
CONTRACT_PATH = Path(__file__).resolve().parent / "contract.json"
BUMP_ORDER = ("none", "patch", "minor", "major")

Tables = dict[str, dict[str, dict[str, object]]]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two contract versions and the bump it needs."""

    bump: str
    what: str


def current_tables() -> Tables:
    """Table -> column -> {type, nullable}, in model order, from the pandera models."""
    tables: Tables = {}
    for table, model in TABLE_MODELS.items():
        columns = model.to_schema().columns
        tables[table] = {
            name: {"type": kind, "nullable": bool(columns[name].nullable)}
            for name, kind in duckdb_columns(table)
        }
    return tables


def compare_tables(old: Tables, new: Tables) -> list[Change]:
    """Every difference from `old` to `new`, each with the version bump it needs."""
    changes: list[Change] = []
    for table in old.keys() - new.keys():
        changes.append(Change("major", f"table {table} removed"))
    for table in new.keys() - old.keys():
        changes.append(Change("minor", f"table {table} added"))
    for table in old.keys() & new.keys():
        before, after = old[table], new[table]
        for column in before.keys() - after.keys():
            changes.append(Change("major", f"column {table}.{column} removed or renamed"))
        for column in after.keys() - before.keys():
            if after[column]["nullable"]:
                changes.append(Change("minor", f"nullable column {table}.{column} added"))
            else:
                changes.append(
                    Change("major", f"required column {table}.{column} added: old rows lack it")
                )
        for column in before.keys() & after.keys():
            was, now = before[column], after[column]
            if was["type"] != now["type"]:
                changes.append(
                    Change("major", f"{table}.{column} type {was['type']} -> {now['type']}")
                )
            if was["nullable"] and not now["nullable"]:
                changes.append(Change("major", f"{table}.{column} became required"))
            if not was["nullable"] and now["nullable"]:
                changes.append(Change("minor", f"{table}.{column} became nullable"))
    return sorted(changes, key=lambda change: (-BUMP_ORDER.index(change.bump), change.what))


def required_bump(changes: list[Change]) -> str:
    """The largest bump any change needs ('none' when nothing changed)."""
    return max((change.bump for change in changes), key=BUMP_ORDER.index, default="none")


def _parts(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def bump_between(old: str, new: str) -> str:
    """What kind of bump `old` -> `new` is: 'major', 'minor', 'patch' or 'none' (or lower)."""
    before, after = _parts(old), _parts(new)
    if after <= before:
        return "none"
    if after[0] > before[0]:
        return "major"
    return "minor" if after[1] > before[1] else "patch"


def load_contract(path: Path = CONTRACT_PATH) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def updated_contract(committed: dict[str, object] | None) -> dict[str, object]:
    """The contract with the models' tables as version CONTRACT_VERSION; ValueError if the
    models changed without a large enough version bump."""
    tables = current_tables()
    versions = list(committed["versions"]) if committed else []
    if versions:
        last = versions[-1]
        changes = compare_tables(last["tables"], tables)
        needed = required_bump(changes)
        if needed == "none":
            if last["version"] != CONTRACT_VERSION:
                raise ValueError(
                    f"CONTRACT_VERSION is {CONTRACT_VERSION} but the models did not change "
                    f"since {last['version']}"
                )
            return committed
        done = bump_between(last["version"], CONTRACT_VERSION)
        if BUMP_ORDER.index(done) < BUMP_ORDER.index(needed):
            listed = "; ".join(f"{change.bump}: {change.what}" for change in changes)
            raise ValueError(
                f"the models changed since contract {last['version']} and need a {needed} "
                f"version bump ({listed}); CONTRACT_VERSION is {CONTRACT_VERSION}"
            )
    versions.append({"version": CONTRACT_VERSION, "tables": tables})
    return {
        "contract": "news-etl warehouse tables",
        "version": CONTRACT_VERSION,
        "rules": "minor: table or nullable column added; major: anything removed, renamed, "
        "retyped or made required",
        "versions": versions,
    }


def render(contract: dict[str, object]) -> str:
    return json.dumps(contract, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Append the models' contract as CONTRACT_VERSION, or with --check fail when stale."""
    parser = argparse.ArgumentParser(prog="python -m schemas.contract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if contract.json is stale")
    args = parser.parse_args(argv)
    committed = load_contract() if CONTRACT_PATH.exists() else None
    try:
        contract = updated_contract(committed)
    except ValueError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    if args.check:
        if contract != committed:
            sys.stderr.write(f"{CONTRACT_PATH} is stale: run `python -m schemas.contract`\n")
            return 1
        return 0
    CONTRACT_PATH.write_text(render(contract), encoding="utf-8")
    sys.stdout.write(f"wrote {CONTRACT_PATH} (contract {CONTRACT_VERSION})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
