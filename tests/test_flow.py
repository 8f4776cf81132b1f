"""End-to-end Prefect runs into a real DuckLake warehouse."""

import codecs
import json
import shutil

import pyarrow as pa
import pytest
from conftest import SEEDS
from conftest import query_warehouse as _query

from warehouse.lake import connect, land_tables

TABLES = (
    "articles",
    "paragraphs",
    "removed_lines",
    "captions",
    "quarantine",
    "article_sources",
    "shared_passages",
    "story_signatures",
    "stories",
)
# docs/stories.md: 000, 001, 002 and 004 report the 2+2 meeting of January 2022; 003 the
# committee's meeting of January 2023.
SAME_EVENT = ("000", "001", "002", "004")


def _counts(warehouse) -> dict[str, int]:
    connection = connect(warehouse, read_only=True)
    try:
        return {t: connection.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def seeded_warehouse(tmp_path_factory, prefect_harness):
    from flows.ingest import ingest

    warehouse = tmp_path_factory.mktemp("warehouse")
    summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse), batch_size=2)
    return warehouse, summary


def test_seed_run_lands_five_clean_articles(seeded_warehouse):
    warehouse, summary = seeded_warehouse
    assert summary.status == "succeeded"
    assert (summary.files_seen, summary.articles_landed, summary.files_quarantined) == (5, 5, 0)
    rows = _query(warehouse, "select title, body_text, word_count, language from articles")
    assert len(rows) == 5
    for title, body, word_count, language in rows:
        assert title
        assert language == "en"
        assert word_count > 200
        assert "Add a comment" not in body
        assert "Newspapers in English" not in body
    assert list((warehouse / "data").rglob("*.parquet")), "tables are real Parquet files"


def test_the_flow_groups_the_seeds_into_stories_across_batches(seeded_warehouse):
    warehouse, _ = seeded_warehouse
    story_of = {
        uri.rsplit("/", 1)[-1][:3]: story
        for uri, story in _query(warehouse, "select source_uri, story_id from articles")
    }
    assert len({story_of[seed] for seed in SAME_EVENT}) == 1
    assert story_of["003"] != story_of["000"]
    assert _query(warehouse, "select sum(article_count) from stories") == [(5,)]
    assert _query(warehouse, "select count(*) from shared_passages")[0][0] > 0
    assert _query(warehouse, "select count(*) from articles where originality is null") == [(0,)]


def test_seed_run_records_the_run(seeded_warehouse):
    warehouse, summary = seeded_warehouse
    runs = _query(warehouse, "select run_id, status, files_seen, articles_landed from runs")
    assert runs == [(summary.run_id, "succeeded", 5, 5)]


def test_every_line_is_accounted_for_in_the_warehouse(seeded_warehouse):
    warehouse, _ = seeded_warehouse
    articles = _query(warehouse, "select article_id, source_uri from articles")
    for article_id, source_uri in articles:
        path = SEEDS / source_uri.rsplit("/", 1)[-1]
        nonblank = {
            number
            for number, line in enumerate(path.read_text().split("\n"), start=1)
            if line.strip()
        }
        accounted = [
            row[0]
            for row in connect(warehouse, read_only=True)
            .execute(
                "select line_number from paragraphs where article_id = $1 "
                "union all select line_number from removed_lines where article_id = $1",
                [article_id],
            )
            .fetchall()
        ]
        assert sorted(accounted) == sorted(nonblank)


def test_rerun_on_same_input_adds_nothing(seeded_warehouse, prefect_harness):
    from flows.ingest import ingest

    warehouse, _ = seeded_warehouse
    before = _counts(warehouse)
    summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse))
    assert summary.articles_landed == 0
    assert summary.files_skipped == 5
    assert _counts(warehouse) == before


def _write_bad_inputs(folder) -> dict[str, str]:
    """Bad inputs and what must happen to each: 'landed' or the quarantine check name."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    article = (SEEDS / "003_4492cd740cc923e9.txt").read_text()
    latin = article.replace("’", "'").replace("“", '"').replace("”", '"').replace("©", "(c)")
    (folder / "latin1.txt").write_bytes(
        ("Café crème: " + latin).encode("latin-1", errors="replace")
    )
    (folder / "utf16.txt").write_bytes(codecs.BOM_UTF16_LE + article.encode("utf-16-le"))
    (folder / "nul.txt").write_bytes(
        (SEEDS / "004_47d3a070607f175a.txt").read_bytes() + b"\x00\x00 "
    )
    (folder / "navigation.txt").write_text("Home\nWorld\nSports\nSubscribe\n")
    with open(folder / "huge.txt", "wb") as handle:
        handle.write(b"word " * 10_000_000)  # 50 MB
    return {
        "empty.txt": "empty_file",
        "image.txt": "binary_content",
        "latin1.txt": "landed",
        "utf16.txt": "landed",
        "nul.txt": "landed",
        "navigation.txt": "no_article_text",
        "huge.txt": "file_too_large",
    }


def test_bad_inputs_are_landed_or_quarantined_with_reasons(tmp_path, prefect_harness):
    from flows.ingest import ingest

    expected = _write_bad_inputs(tmp_path / "inbox")
    warehouse = tmp_path / "warehouse"
    summary = ingest(sources=[str(tmp_path / "inbox")], warehouse=str(warehouse))
    landed = {
        uri.rsplit("/", 1)[-1] for (uri,) in _query(warehouse, "select source_uri from articles")
    }
    quarantined = {
        uri.rsplit("/", 1)[-1]: (check, error)
        for uri, check, error in _query(
            warehouse, "select source_uri, check_name, error from quarantine"
        )
    }
    for name, outcome in expected.items():
        if outcome == "landed":
            assert name in landed, name
        else:
            assert quarantined[name][0] == outcome, name
            assert len(quarantined[name][1]) > 20, "the reason is written out in words"
    assert summary.files_seen == len(expected)
    assert summary.files_quarantined == len(quarantined) == 4
    assert len(summary.quarantined) == 4
    latin_title = _query(
        warehouse, "select body_text from articles where source_uri like '%latin1%'"
    )
    assert "Japan" in latin_title[0][0]


def test_repeated_content_under_two_paths_lands_once(tmp_path, prefect_harness):
    from flows.ingest import ingest

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SEEDS / "002_b5e49ef3225955b8.txt", inbox / "a.txt")
    shutil.copy(SEEDS / "002_b5e49ef3225955b8.txt", inbox / "b.txt")
    summary = ingest(sources=[str(inbox)], warehouse=str(tmp_path / "warehouse"), batch_size=1)
    assert (summary.articles_landed, summary.files_skipped) == (1, 1)
    sources = _query(
        tmp_path / "warehouse", "select source_uri from article_sources order by source_uri"
    )
    assert [uri.rsplit("/", 1)[-1] for (uri,) in sources] == ["a.txt", "b.txt"]


def test_failed_landing_leaves_the_warehouse_as_it_was(seeded_warehouse):
    warehouse, _ = seeded_warehouse
    before = _counts(warehouse)
    snapshots_before = _query(warehouse, "select count(*) from ducklake_snapshots('lake')")
    good = pa.table({"article_id": ["a" * 32], "position": [0], "kind": ["paragraph"],
                     "text": ["kept?"], "line_number": [1]})  # fmt: skip
    broken = pa.table({"run_id": ["x"], "started_at": ["not a timestamp"]})
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure must roll back
        land_tables(warehouse, {"paragraphs": good, "runs": broken})
    assert _counts(warehouse) == before
    assert _query(warehouse, "select count(*) from ducklake_snapshots('lake')") == snapshots_before


def test_run_publishes_a_summary_artifact(seeded_warehouse):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    _, summary = seeded_warehouse
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["news-etl-run-summary"]))
        )
    markdown = [artifact.data for artifact in artifacts if summary.run_id in str(artifact.data)]
    assert markdown, "the run's summary artifact is stored in Prefect"
    assert "| 5 | 5 | 0 | 0 |" in markdown[0]


class _RecordingProgress:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, total_files: int) -> None:
        self.events.append(("start", total_files))

    def advance(self, files: int) -> None:
        self.events.append(("advance", files))

    def finish(self) -> None:
        self.events.append(("finish",))


def test_worker_processes_land_what_one_thread_lands_and_report_progress(
    seeded_warehouse, tmp_path, monkeypatch
):
    from flows import progress
    from flows.ingest import ingest

    monkeypatch.setenv("NEWS_ETL_PARALLEL_MIN_FILES", "1")  # worker processes even for 5 files
    monkeypatch.setenv("NEWS_ETL_WORKERS", "2")
    sink = _RecordingProgress()
    warehouse = tmp_path / "warehouse"
    with progress.reporting(sink):
        summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse), batch_size=2)
    sql = "select article_id, source_uri, title, body_text, word_count from articles order by 1"
    assert _query(warehouse, sql) == _query(seeded_warehouse[0], sql)
    assert _counts(warehouse) == _counts(seeded_warehouse[0])
    # Three batches of 2, 2 and 1 files, reported in file order as each finishes.
    assert sink.events == [
        ("start", 5),
        ("advance", 2),
        ("advance", 2),
        ("advance", 1),
        ("finish",),
    ]
    stages = summary.stage_seconds
    assert {"discover", "read_clean_extract", "validate", "stories", "land"} <= set(stages)
    assert all(seconds >= 0 for seconds in stages.values())
    recorded = json.loads(_query(warehouse, "select stage_seconds from runs")[0][0])
    assert recorded["read_clean_extract"] == stages["read_clean_extract"]


def test_the_run_summary_says_where_time_went(seeded_warehouse):
    from flows.summary import render_text

    _, summary = seeded_warehouse
    text = render_text(summary)
    assert "seconds per stage: discover" in text
    assert "read_clean_extract" in text
