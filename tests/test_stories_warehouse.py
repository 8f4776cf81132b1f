"""Stories in a real DuckLake warehouse: the seeds' stories, the views, a second run."""

import shutil
from datetime import datetime

import duckdb
import pytest
from conftest import SEEDS
from conftest import query_warehouse as _query

from schemas.tables import VIEW_MODELS
from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.process.engine import RunContext, process_batch
from tasks.read.engine import discover_files
from tasks.settings import Settings
from tasks.stories.engine import StoryIndex, assign
from tasks.validate.engine import validate_tables
from warehouse.lake import connect, land_tables
from warehouse.stories import (
    STORY_VIEWS,
    ensure_story_views,
    landed_sources,
    read_story_index_rows,
    read_story_index_rows_at,
)

RULES = load_rules(known_detectors=KNOWN_DETECTORS)
# The seeds (docs/stories.md): 000, 001, 002 and 004 report the 2+2 meeting of 7 January 2022
# (shared AFP/Reuters paragraphs); 003 (Bloomberg, ©2023) reports the committee's meeting of
# 11 January 2023 in Washington: same governments and people, another event.
SAME_EVENT = ("000", "001", "002", "004")


def _run(sources, warehouse, run_id: str, day: int) -> dict:
    """What the ingest flow does for one batch, plus story assignment, landed in one commit."""
    context = RunContext(
        run_id=run_id,
        ingested_at=datetime(2026, 1, day),
        cleaner_version="t",
        landed_hashes=frozenset(
            row[0] for row in _query_or_empty(warehouse, "select content_sha256 from articles")
        ),
        landed_sources=landed_sources(warehouse),
    )
    tables, failures = validate_tables(
        process_batch(discover_files(sources), RULES, Settings(), context).tables, context
    )
    assert failures == []
    index = StoryIndex.from_rows(*read_story_index_rows_at(warehouse))
    assignment = assign(index, tables["articles"], tables["paragraphs"], Settings())
    tables.update(assignment.tables())
    land_tables(warehouse, tables, run_id)
    connection = connect(warehouse)
    try:
        ensure_story_views(connection)
    finally:
        connection.close()
    return tables


def _query_or_empty(warehouse, sql):
    try:
        return _query(warehouse, sql)
    except Exception:  # no warehouse yet
        return []


def _stories_by_seed(warehouse) -> dict[str, str]:
    rows = _query(warehouse, "select source_uri, story_id from articles")
    return {uri.rsplit("/", 1)[-1][:3]: story for uri, story in rows}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Run 1: seeds 003 and 004. Run 2: all seeds, plus 000 again at a second path."""
    root = tmp_path_factory.mktemp("stories")
    first, second = root / "first", root / "second"
    first.mkdir()
    for path in sorted(SEEDS.glob("*.txt")):
        if path.name[:3] in ("003", "004"):
            shutil.copy(path, first / path.name)
    shutil.copytree(SEEDS, second / "seeds")
    shutil.copy(
        SEEDS / sorted(p.name for p in SEEDS.glob("000*"))[0], second / "zz-copy-of-000.txt"
    )
    warehouse = root / "wh"
    _run([first], warehouse, "run-1", 1)
    _run([second], warehouse, "run-2", 2)
    return warehouse


def test_the_seeds_fall_into_the_stories_a_careful_reader_draws(warehouse):
    stories = _stories_by_seed(warehouse)
    assert len({stories[seed] for seed in SAME_EVENT}) == 1
    assert stories["003"] != stories["000"]
    assert _query(warehouse, "select count(*) from stories") == [(2,)]


def test_story_ids_are_stable_across_runs(warehouse):
    first_run = dict(
        _query(warehouse, "select source_uri, story_id from articles where run_id = 'run-1'")
    )
    by_seed = _stories_by_seed(warehouse)
    for uri, story in first_run.items():
        seed = uri.rsplit("/", 1)[-1][:3]
        assert by_seed[seed] == story
        assert (
            story
            == _query(
                warehouse, "select article_id from articles where source_uri = ?", params=[uri]
            )[0][0]
        ), "a story is named by its first article"


def test_the_views_match_their_models(warehouse):
    connection = connect(warehouse, read_only=True)
    try:
        for view, model in VIEW_MODELS.items():
            frame = connection.execute(f"select * from {view}").df()
            assert len(frame) > 0, view
            model.validate(frame, lazy=True)
    finally:
        connection.close()


def test_views_describe_the_seed_story(warehouse):
    story = _stories_by_seed(warehouse)["000"]
    row = _query(
        warehouse,
        "select title, first_published_at, last_published_at, article_count, original_count "
        "from stories where story_id = ?",
        params=[story],
    )[0]
    title, first, last, count, originals = row
    assert (count, originals) == (4, 4)
    assert first == datetime(2022, 1, 7, 18, 2)
    assert last == datetime(2022, 1, 7, 21, 0)
    assert title.startswith("US, Japan pledge"), "the earliest dated article's headline"
    timeline = _query(
        warehouse,
        "select story_position, published_at from story_timeline where story_id = ? "
        "order by story_position",
        params=[story],
    )
    assert [position for position, _ in timeline] == [1, 2, 3, 4]
    assert [when for _, when in timeline][:2] == [first, last], "dated first, in time order"
    top = _query(
        warehouse,
        "select text, copies from syndicated_passages order by copies desc limit 1",
    )[0]
    assert top[1] >= 2
    assert "resolved to work together" in top[0] or "joint statement" in top[0]


def test_re_ingesting_adds_a_second_path_once(warehouse):
    sources = _query(
        warehouse,
        "select a.source_uri, s.source_uri from article_sources s join articles a using "
        "(article_id) where s.source_uri like '%zz-copy-of-000.txt'",
    )
    assert len(sources) == 1
    assert sources[0][0].endswith("/000_fcce72fbc55e8da1.txt")
    # Run 2 saw 003 and 004 again at new paths (under seeds/): recorded as sources too.
    assert _query(warehouse, "select count(*) from article_sources") == [(8,)]
    assert ("seeds" in uri for (uri,) in _query(warehouse, "select source_uri from articles"))


def test_the_index_reloads_from_the_lake(warehouse):
    connection = connect(warehouse, read_only=True)
    try:
        index = StoryIndex.load(connection)
        articles, rows = read_story_index_rows(connection)
    finally:
        connection.close()
    assert len(index) == 5
    assert set(index.story_ids) == set(_stories_by_seed(warehouse).values())
    assert (
        rows["passage"].num_rows
        == _query(warehouse, "select count(*) from story_signatures where kind = 'passage'")[0][0]
    )
    assert articles.column("article_id").to_pylist() == index.article_ids


def test_ensure_story_views_leaves_unchanged_views_alone(warehouse):
    connection = connect(warehouse)
    try:
        assert ensure_story_views(connection) == []
        assert set(STORY_VIEWS) <= {
            row[0] for row in connection.execute("select view_name from duckdb_views()").fetchall()
        }
    finally:
        connection.close()


def test_a_warehouse_from_before_stories_gives_an_empty_index(tmp_path):
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("create table articles (article_id varchar, source_uri varchar)")
        articles, rows = read_story_index_rows(connection)
    finally:
        connection.close()
    assert articles.num_rows == 0
    assert rows == {}
    assert len(StoryIndex.from_rows(*read_story_index_rows_at(tmp_path / "none"))) == 0
