"""Stories: signatures, near duplicates, story assignment, originality, incremental reloads."""

import os
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest
from conftest import REPO
from stories_fixtures import article, prose, reloaded_index, story_tables

from tasks.settings import Settings
from tasks.stories import signatures as sig
from tasks.stories.engine import StoryIndex, assign
from tasks.stories.evaluation import StandInWarehouse, pair_scores

SETTINGS = Settings()
DAY = datetime(2022, 1, 7, 9, 0)


def _assign(articles: list[dict], index: StoryIndex | None = None, settings=SETTINGS):
    table, paragraphs = story_tables(articles)
    return assign(index or StoryIndex.empty(), table, paragraphs, settings)


def _by_id(assignment) -> dict[str, dict]:
    return {row["article_id"]: row for row in assignment.articles.to_pylist()}


# ---------------------------------------------------------------- signatures


def test_spelling_variants_and_plurals_get_the_same_token_id():
    pairs = [("defence", "defense"), ("destabilise", "destabilize"), ("vows", "vow")]
    for left, right in pairs:
        assert sig.token_ids([left])[0] == sig.token_ids([right])[0], (left, right)
    assert sig.token_ids(["japan"])[0] != sig.token_ids(["china"])[0]
    assert sig.token_ids(["is"])[0] != sig.token_ids(["i"])[0], "short words keep their 's'"


def test_shingles_never_span_two_paragraphs():
    one = sig.shingle_paragraphs(["alpha beta gamma delta epsilon"])
    split = sig.shingle_paragraphs(["alpha beta gamma", "delta epsilon"])
    assert len(one.hashes) == 2
    assert len(split.hashes) == 0


def test_signatures_are_the_same_in_another_process():
    """Persisted keys must not depend on Python's per-process string hashing."""
    code = (  # load the module by path: the package __init__ imports Prefect (slow)
        "import importlib.util as u; "
        "spec = u.spec_from_file_location('s', 'tasks/stories/signatures.py'); "
        "s = u.module_from_spec(spec); spec.loader.exec_module(s); "
        "print(int(s.shingle_paragraphs(['the ministers expressed concerns today']).hashes[0]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_minhash_agreement_estimates_jaccard():
    rng = np.random.default_rng(3)
    common = rng.integers(0, 2**63, 600, dtype=np.uint64)
    left = np.concatenate([common, rng.integers(0, 2**63, 200, dtype=np.uint64)])
    right = np.concatenate([common, rng.integers(0, 2**63, 400, dtype=np.uint64)])
    jaccard = 600 / 1200
    hashes = np.concatenate([left, right])
    owner = np.repeat([0, 1], [len(left), len(right)])
    signatures = sig.minhash_signatures(hashes, owner, 2)
    agreement = (signatures[0] == signatures[1]).mean()
    assert abs(agreement - jaccard) < 0.15


def test_names_skip_sentence_openers_and_titles():
    names = sig.article_names(
        ["Officials met in Tokyo on Friday, said Antony Blinken. Japan and the U.S. agreed."]
    )
    assert {"tokyo", "antony", "blinken", "us"} <= set(names)
    assert "officials" not in names, "sentence openers are skipped"
    assert "japan" not in names
    assert "friday" not in names


# ---------------------------------------------------------------- near duplicates


def test_an_edited_copy_is_a_near_duplicate_of_the_original_and_a_copy_of_a_copy_too():
    body = [prose(seed) for seed in range(8)]
    edited = [text.replace(" ", " also ", 1) for text in body]
    twice = [*edited[:-1], edited[-1] + " Updated."]
    result = _by_id(
        _assign(
            [
                article(1, body, published_at=DAY),
                article(2, edited, published_at=DAY + timedelta(hours=2)),
                article(3, twice, published_at=DAY + timedelta(hours=3)),
            ]
        )
    )
    original = f"{1:032x}"
    assert result[original]["duplicate_of"] is None
    assert result[f"{2:032x}"]["duplicate_of"] == original
    assert result[f"{3:032x}"]["duplicate_of"] == original, "always the original, not a copy"
    assert {row["story_id"] for row in result.values()} == {original}
    assert result[f"{2:032x}"]["originality"] < 0.2


@pytest.mark.parametrize(
    ("kept", "is_duplicate"),
    [(7, True), (6, True), (3, False)],  # of 8 paragraphs: 88%, 75% and 38% of the body
)
def test_a_truncated_copy_is_a_near_duplicate_only_if_it_keeps_most_of_the_body(kept, is_duplicate):
    body = [prose(seed) for seed in range(10, 18)]
    result = _by_id(
        _assign(
            [
                article(1, body, published_at=DAY),
                article(2, body[:kept], published_at=DAY + timedelta(hours=1)),
            ]
        )
    )
    copy = result[f"{2:032x}"]
    assert (copy["duplicate_of"] is not None) == is_duplicate
    assert copy["story_id"] == f"{1:032x}", "shared paragraphs make it the same story anyway"


def test_the_threshold_is_a_setting():
    body = [prose(seed) for seed in range(20, 30)]
    # Four of ten paragraphs rewritten: 6 of 10 shared (containment 0.6, Jaccard 0.43).
    rewritten = [*body[:6], *(prose(seed) for seed in range(30, 34))]
    articles = [article(1, body, published_at=DAY), article(2, rewritten, published_at=DAY)]
    strict = _by_id(_assign(articles))[f"{2:032x}"]
    loose = _by_id(_assign(articles, settings=Settings(near_duplicate_threshold=0.45)))
    assert strict["duplicate_of"] is None
    assert loose[f"{2:032x}"]["duplicate_of"] == f"{1:032x}"


# ---------------------------------------------------------------- stories


def _wire_story() -> tuple[list[str], list[dict]]:
    """A wire article and two outlets that wrap three of its paragraphs in their own text."""
    wire = [prose(seed) for seed in range(100, 106)]
    outlets = [
        article(2, [prose(200), wire[0], prose(201), wire[2], wire[3]],
                 published_at=DAY + timedelta(hours=3), title="Allies vow closer ties"),
        article(3, [prose(300), prose(301), wire[2], wire[3], wire[5], prose(302)],
                 title="Closer ties vowed by allies"),
    ]  # fmt: skip
    return wire, outlets


def test_outlets_rewriting_around_wire_paragraphs_form_one_story_with_their_originality():
    wire, outlets = _wire_story()
    articles = [article(1, wire, published_at=DAY, title="Allies pledge closer ties"), *outlets]
    assignment = _assign(articles)
    result = _by_id(assignment)
    assert {row["story_id"] for row in result.values()} == {f"{1:032x}"}
    assert all(row["duplicate_of"] is None for row in result.values())
    assert result[f"{1:032x}"]["originality"] == 1.0
    # Outlet 2 prints two paragraphs of its own and three wire paragraphs of equal length.
    assert result[f"{2:032x}"]["originality"] == pytest.approx(2 / 5, abs=0.01)
    # The undated outlet comes after both: its 3 of 6 paragraphs are the story's.
    assert result[f"{3:032x}"]["originality"] == pytest.approx(3 / 6, abs=0.01)
    passages = {
        (row["article_id"][-1], row["position"], row["other_article_id"][-1], row["other_position"])
        for row in assignment.shared_passages.to_pylist()
    }
    assert ("2", 1, "1", 0) in passages
    # The wire paragraph outlet 3 prints is also in outlet 2: one row, to the earliest carrier.
    assert ("3", 2, "1", 2) in passages
    assert ("3", 2, "2", 3) not in passages
    positions = [(row[0], row[1]) for row in passages]
    assert len(positions) == len(set(positions)), "one row per paragraph"


def test_the_same_topic_a_year_later_is_another_story():
    wire, _outlets = _wire_story()
    background = wire[4:6]  # the later coverage reuses two background paragraphs
    later = DAY + timedelta(days=365)
    articles = [
        article(1, wire, published_at=DAY, title="Allies pledge closer ties"),
        article(4, [prose(400), *background, prose(401)], published_at=later,
                 title="Allies pledge closer ties again"),
    ]  # fmt: skip
    result = _by_id(_assign(articles))
    assert result[f"{4:032x}"]["story_id"] == f"{4:032x}"
    assert result[f"{4:032x}"]["originality"] == 1.0, "nothing shared with its own story"


def test_an_ambiguous_day_month_date_agrees_under_either_reading():
    wire = [prose(seed) for seed in range(500, 504)]
    # Printed 01/07/2022 and read month first: 1 July; the story is on 7 January.
    ambiguous = datetime(2022, 1, 7).replace(month=7, day=1)
    articles = [
        article(1, wire, published_at=datetime(2022, 1, 7)),
        article(2, [prose(600), *wire[:2]], published_at=ambiguous,
                 date_confidence="ambiguous_day_month"),
        article(3, [prose(700), *wire[:2]], published_at=ambiguous),
    ]  # fmt: skip
    result = _by_id(_assign(articles))
    assert result[f"{2:032x}"]["story_id"] == f"{1:032x}"
    assert result[f"{3:032x}"]["story_id"] != f"{1:032x}", "a sure date far away stays apart"


def test_shared_names_alone_do_not_join_undated_articles():
    names = "Minister Hayashi met Secretary Blinken and Secretary Austin in Washington"
    articles = [
        article(1, [prose(800) + f" {names}.", prose(801)], title="Allies meet in Washington"),
        article(2, [prose(900) + f" {names}.", prose(901)], title="Allies meet in Washington"),
    ]
    result = _by_id(_assign(articles))
    assert result[f"{2:032x}"]["story_id"] == f"{2:032x}"


def test_dated_articles_with_the_same_headline_and_names_join_without_shared_text():
    names = "Hayashi met Blinken, Austin and Kishi in Washington"
    articles = [
        article(1, [prose(810) + f" Then {names}.", prose(811)],
                 title="Allies meet in Washington on space", published_at=DAY),
        article(2, [prose(910) + f" Later {names}.", prose(911)],
                 title="Allies meet in Washington on space", published_at=DAY),
    ]  # fmt: skip
    result = _by_id(_assign(articles))
    assert result[f"{2:032x}"]["story_id"] == f"{1:032x}"


# ---------------------------------------------------------------- incremental


def test_a_later_run_joins_stories_of_earlier_runs_and_keeps_their_ids():
    wire, outlets = _wire_story()
    first_run = [article(1, wire, published_at=DAY, title="Allies pledge closer ties")]
    warehouse = StandInWarehouse()
    try:
        one = _assign(first_run)
        warehouse.land(one)
        reloaded = StoryIndex.load(warehouse.connection)
        assert len(reloaded) == 1
        two = _assign(outlets, index=reloaded)
        warehouse.land(two)
        assert {row["story_id"] for row in two.articles.to_pylist()} == {f"{1:032x}"}
        landed = warehouse.connection.execute(
            "SELECT article_id, story_id FROM articles ORDER BY article_id"
        ).fetchall()
    finally:
        warehouse.close()
    assert landed == [(f"{n:032x}", f"{1:032x}") for n in (1, 2, 3)]
    in_one_go = _by_id(_assign([*first_run, *outlets]))
    assert {key: row["originality"] for key, row in in_one_go.items()} == {
        row["article_id"]: row["originality"]
        for row in [*one.articles.to_pylist(), *two.articles.to_pylist()]
    }


def test_signature_rows_rebuild_the_same_index():
    wire, outlets = _wire_story()
    articles = [article(1, wire, published_at=DAY), *outlets]
    assignment = _assign(articles)
    reloaded = reloaded_index(assignment)
    built = assignment.index
    assert reloaded.article_ids == built.article_ids
    assert [reloaded.story_ids[s] for s in reloaded.story_of] == [
        built.story_ids[s] for s in built.story_of
    ]
    assert reloaded.anchor_count == built.anchor_count
    for kind, postings in built.postings.items():
        assert np.array_equal(reloaded.postings[kind].packed, postings.packed), kind
    assert sorted(reloaded.paragraph_anchors.tolist()) == sorted(built.paragraph_anchors.tolist())


def test_a_retried_batch_adds_nothing_and_keeps_its_stories():
    wire, outlets = _wire_story()
    articles = [article(1, wire, published_at=DAY), *outlets]
    first = _assign(articles)
    again = _assign(articles, index=first.index)
    assert again.shared_passages.num_rows == 0
    assert again.story_signatures.num_rows == 0
    assert (
        again.articles.column("story_id").to_pylist()
        == first.articles.column("story_id").to_pylist()
    )


def test_pair_scores_count_pairs():
    truth = {"a": "x", "b": "x", "c": "x", "d": "y"}
    predicted = {"a": "1", "b": "1", "c": "2", "d": "2"}
    scores = pair_scores(truth, predicted)
    assert (scores.true_pairs, scores.predicted_pairs, scores.shared_pairs) == (3, 2, 1)
    assert scores.precision == 0.5
    assert scores.recall == pytest.approx(1 / 3)


def test_the_index_can_hold_only_recent_landings():
    wire, outlets = _wire_story()
    warehouse = StandInWarehouse()  # each landing is one second after the one before
    try:
        warehouse.land(_assign([article(1, wire, published_at=DAY)]))
        warehouse.land(_assign(outlets))
        everything = StoryIndex.load(warehouse.connection)
        recent = StoryIndex.load(warehouse.connection, days=0.5 / 86_400)
    finally:
        warehouse.close()
    assert len(everything) == 3
    assert recent.article_ids == [outlet["id"] for outlet in outlets]
