"""Warehouse guarantees: snapshots per run, migrations, kill -9 mid-landing, concurrent runs."""

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, SEEDS
from conftest import query_warehouse as _query

from flows.cli import main
from schemas.arrow import arrow_schema
from warehouse.lake import (
    PAUSE_BEFORE_COMMIT_VARIABLE,
    PAUSE_MESSAGE,
    WarehouseError,
    connect,
    ensure_tables,
    land_tables,
    resolve_snapshot,
)
from warehouse.search import search_index_is_current, search_path

TABLES = ("articles", "paragraphs", "removed_lines", "captions", "quarantine", "runs")
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def _state(warehouse) -> dict[str, object]:
    """Everything a reader can see: row counts, article ids, and the snapshot list."""
    state: dict[str, object] = {
        table: _query(warehouse, f"select count(*) from {table}")[0][0] for table in TABLES
    }
    state["article_ids"] = sorted(_query(warehouse, "select article_id from articles"))
    state["snapshots"] = _query(warehouse, "select snapshot_id from ducklake_snapshots('lake')")
    return state


def _inbox(folder, files) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    return str(folder)


def _cli_process(args: list[str], tmp_path, **env: str) -> subprocess.Popen:
    """`news-etl ARGS` in its own process, with its own offline Prefect home."""
    home = tmp_path / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **env,
    }
    environment.pop("PREFECT_API_URL", None)  # the session harness's server is not theirs
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: killing it takes its Prefect API too
    )


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its embedded Prefect server)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, prefect_harness):
    """A warehouse with two runs: two seed articles, then the other three."""
    from flows.ingest import ingest

    tmp_path = tmp_path_factory.mktemp("two-runs")
    warehouse = tmp_path / "wh"
    first = ingest(sources=[_inbox(tmp_path / "a", SEED_FILES[:2])], warehouse=str(warehouse))
    second = ingest(sources=[_inbox(tmp_path / "b", SEED_FILES[2:])], warehouse=str(warehouse))
    return warehouse, first, second


def test_each_run_records_its_snapshot_and_query_reads_as_of_it(two_runs, capsys):
    warehouse, first, second = two_runs
    runs = dict(_query(warehouse, "select run_id, snapshot_id from runs"))
    assert runs == {first.run_id: first.snapshot_id, second.run_id: second.snapshot_id}
    assert second.snapshot_id > first.snapshot_id
    # The snapshot a run records is the one its commit created, and it names the run.
    messages = dict(
        _query(warehouse, "select snapshot_id, commit_message from ducklake_snapshots('lake')")
    )
    assert messages[first.snapshot_id] == f"run {first.run_id}"
    assert resolve_snapshot(warehouse, first.run_id) == first.snapshot_id

    sql = "select count(*) as n from articles"
    for as_of, expected in ((first.run_id, 2), (str(first.snapshot_id), 2), (second.run_id, 5)):
        assert main(["query", sql, "--warehouse", str(warehouse), "--as-of", as_of,
                     "--format", "csv"]) == 0  # fmt: skip
        assert capsys.readouterr().out.splitlines() == ["n", str(expected)]
    assert main(["query", sql, "--warehouse", str(warehouse), "--as-of", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_an_older_warehouse_gains_new_columns_and_keeps_its_rows(tmp_path):
    warehouse = tmp_path / "wh"
    connection = connect(warehouse)
    connection.execute("create table runs (run_id varchar, status varchar)")
    connection.execute("insert into runs values ('old-run', 'succeeded')")
    connection.close()
    connection = connect(warehouse)
    ensure_tables(connection)
    columns = [row[0] for row in connection.execute("describe runs").fetchall()]
    connection.close()
    assert columns[:2] == ["run_id", "status"]
    assert {"snapshot_id", "files_seen", "stage_seconds"} <= set(columns)
    assert _query(warehouse, "select run_id, snapshot_id, files_seen from runs") == [
        ("old-run", None, None)
    ]


def test_a_retried_landing_lands_nothing_twice(tmp_path):
    warehouse = tmp_path / "wh"
    rows = pa.table({"article_id": ["a" * 32], "position": [0], "kind": ["paragraph"],
                     "text": ["once"], "line_number": [1]})  # fmt: skip
    first = land_tables(warehouse, {"paragraphs": rows}, run_id="run-1")
    again = land_tables(warehouse, {"paragraphs": rows}, run_id="run-1")
    assert again == first
    assert _query(warehouse, "select count(*) from paragraphs") == [(1,)]


def _wait_for_line(stream, text: str, timeout: float) -> bool:
    """Read `stream` in a thread until a line contains `text`; keep draining afterwards."""
    found = threading.Event()

    def pump() -> None:
        for line in stream:
            if text in line:
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    return found.wait(timeout)


@pytest.mark.slow  # a real `news-etl run` process (its own Prefect API): about 30 s
def test_kill_9_while_landing_leaves_the_warehouse_as_it_was(tmp_path, prefect_harness):
    from flows.ingest import ingest

    warehouse = tmp_path / "wh"
    ingest(sources=[_inbox(tmp_path / "a", SEED_FILES[:2])], warehouse=str(warehouse))
    before = _state(warehouse)
    everything = _inbox(tmp_path / "all", SEED_FILES)

    process = _cli_process(
        ["run", everything, "--warehouse", str(warehouse)],
        tmp_path,
        **{PAUSE_BEFORE_COMMIT_VARIABLE: "120"},
    )
    try:
        assert _wait_for_line(process.stderr, PAUSE_MESSAGE, timeout=120), "never reached COMMIT"
        # The inserts are done (their Parquet files are written); the commit is not.
        assert len(list((warehouse / "data").rglob("*.parquet"))) > 5
        _kill_group(process)  # kill -9 of the run and of the Prefect API it started
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        _kill_group(process)
    assert (warehouse / ".write.lock").exists(), "the stale lock file is still there"
    assert _state(warehouse) == before

    summary = ingest(sources=[everything], warehouse=str(warehouse))
    assert (summary.articles_landed, summary.files_skipped) == (3, 2)
    after = _state(warehouse)
    assert after["articles"] == 5
    assert _query(warehouse, "select count(distinct content_sha256) from articles") == [(5,)]


@pytest.mark.slow  # two real `news-etl run` processes: about 30 s
def test_two_runs_started_at_once_both_finish_without_duplicates(tmp_path):
    warehouse = tmp_path / "wh"
    inbox = _inbox(tmp_path / "all", SEED_FILES)
    processes = [
        _cli_process(["run", inbox, "--warehouse", str(warehouse)], tmp_path / str(index))
        for index in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    runs = _query(warehouse, "select articles_landed, files_skipped, snapshot_id from runs")
    assert sorted(row[:2] for row in runs) == [(0, 5), (5, 0)]
    assert len({row[2] for row in runs}) == 2
    for table, key in (("articles", "article_id"), ("paragraphs", "article_id, position")):
        total, distinct = _query(
            warehouse, f"select count(*), count(distinct ({key})) from {table}"
        )[0]
        assert total == distinct, table
    assert _query(warehouse, "select count(*) from articles") == [(5,)]


def test_changes_exports_rows_inserted_since_a_snapshot(two_runs, tmp_path, capsys):
    warehouse, first, second = two_runs
    second_ids = sorted(
        _query(warehouse, f"select article_id from articles where run_id = '{second.run_id}'")
    )
    out = tmp_path / "new.parquet"
    args = ["changes", "--warehouse", str(warehouse), "--table", "articles", "--out"]
    assert main([*args, str(out), "--since", str(first.snapshot_id)]) == 0
    assert f"next pull: --since {second.snapshot_id}" in capsys.readouterr().out
    exported = pq.read_table(out)
    assert sorted((value,) for value in exported.column("article_id").to_pylist()) == second_ids
    assert exported.schema.names == [field.name for field in arrow_schema("articles")]

    for output_format in ("jsonl", "csv"):
        path = tmp_path / f"new.{output_format}"
        since = ["--since", str(first.snapshot_id), "--format", output_format]
        assert main([*args, str(path), *since]) == 0
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "new.csv").read_text())))) == 3
    assert len((tmp_path / "new.jsonl").read_text().splitlines()) == 3
    record = json.loads((tmp_path / "new.jsonl").read_text().splitlines()[0])
    assert record["run_id"] == second.run_id

    everything = tmp_path / "all.parquet"
    assert main([*args, str(everything), "--since", "0"]) == 0
    assert pq.read_table(everything).num_rows == 5
    nothing = tmp_path / "none.parquet"
    assert main([*args, str(nothing), "--since", str(second.snapshot_id)]) == 0
    assert pq.read_table(nothing).num_rows == 0
    capsys.readouterr()
    assert (
        main(
            [
                "changes",
                "--warehouse",
                str(warehouse),
                "--table",
                "nope",
                "--since",
                "0",
                "--out",
                str(nothing),
            ]
        )
        == 2
    )
    assert "unknown table 'nope'" in capsys.readouterr().err


def test_landed_parquet_files_are_readable_without_duckdb(two_runs):
    warehouse, _, _ = two_runs
    for table in ("articles", "paragraphs", "removed_lines", "captions", "runs"):
        files = sorted((warehouse / "data").rglob(f"main/{table}/*.parquet"))
        assert files, f"{table} has Parquet files (no rows inlined in the catalog)"
        rows = pa.concat_tables([pq.read_table(path) for path in files])
        assert rows.num_rows == _query(warehouse, f"select count(*) from {table}")[0][0]
        assert set(rows.schema.names) == {field.name for field in arrow_schema(table)}
    articles = pq.read_table(sorted((warehouse / "data").rglob("main/articles/*.parquet"))[0])
    assert articles.schema.field("published_at").type == pa.timestamp("us")


READER = """
import sys, time
from pathlib import Path
from warehouse.lake import connect
connection = connect(Path(sys.argv[1]), read_only=True, snapshot=int(sys.argv[2]))
print("attached", flush=True)
time.sleep(float(sys.argv[3]))
print(connection.execute("select count(*) from articles").fetchone()[0], flush=True)
"""


def test_compact_merges_files_and_keeps_retained_snapshots_readable(
    tmp_path, prefect_harness, capsys
):
    from flows.ingest import ingest

    warehouse = tmp_path / "wh"
    first = ingest(sources=[_inbox(tmp_path / "a", SEED_FILES[:2])], warehouse=str(warehouse))
    ingest(sources=[_inbox(tmp_path / "b", SEED_FILES[2:])], warehouse=str(warehouse))
    before = _state(warehouse)
    files_before = len(list((warehouse / "data").rglob("*.parquet")))
    old_view = _query(warehouse, "select article_id from articles order by 1", first.snapshot_id)
    # A reader in another process, reading as of the first run while compaction starts.
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse), str(first.snapshot_id), "3"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "attached"
    assert main(["compact", "--warehouse", str(warehouse)]) == 0
    assert reader.wait(timeout=60) == 0
    assert reader.stdout.read().strip() == "2", "the reader finished its read undisturbed"
    report = capsys.readouterr().out
    assert "data files:" in report

    after = _state(warehouse)
    files_after = len(list((warehouse / "data").rglob("*.parquet")))
    assert files_after < files_before, "two runs' small files were merged"
    assert set(before["snapshots"]) <= set(after["snapshots"]), "no snapshot expired"
    assert {k: v for k, v in after.items() if k != "snapshots"} == {
        k: v for k, v in before.items() if k != "snapshots"
    }
    assert (
        _query(warehouse, "select article_id from articles order by 1", first.snapshot_id)
        == old_view
    ), "snapshots inside the retention still read as they did"

    assert main(["compact", "--warehouse", str(warehouse), "--retain-days", "0"]) == 0
    assert "snapshots:" in capsys.readouterr().out
    assert len(_query(warehouse, "select * from ducklake_snapshots('lake')")) == 1
    assert _query(warehouse, "select count(*) from articles") == [(5,)]
    assert len(list((warehouse / "data").rglob("*.parquet"))) <= files_after
    with pytest.raises(WarehouseError):
        _query(warehouse, "select count(*) from articles", first.snapshot_id)


def test_search_ranks_articles_by_bm25_and_the_index_follows_each_run(two_runs, capsys):
    warehouse, _, _ = two_runs
    args = ["--warehouse", str(warehouse), "--format", "json"]
    assert main(["search", "space military ties", *args]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["title"].startswith("U.S.-Japan Deepen Space, Military Ties")
    scores = [row["score"] for row in results]
    assert scores == sorted(scores, reverse=True)
    assert len(results) == 5, "all five articles mention military or ties"
    assert main(["search", "zebra quasar", *args]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # The search rebuilt the index from every article landed, and it stays until they change.
    index = duckdb.connect(str(search_path(warehouse)), read_only=True)
    try:
        assert index.execute("select count(*) from articles").fetchone()[0] == 5
    finally:
        index.close()
    assert search_index_is_current(warehouse)
    built = search_path(warehouse).stat().st_mtime_ns
    assert main(["search", "space", *args]) == 0
    assert search_path(warehouse).stat().st_mtime_ns == built, "a current index is reused"
    assert main(["search-index", "--warehouse", str(warehouse)]) == 0
    assert "search index built: 5 articles" in capsys.readouterr().out


def test_the_search_index_goes_stale_when_articles_land_and_search_rebuilds_it(
    tmp_path, prefect_harness, capsys
):
    from flows.ingest import ingest

    warehouse = tmp_path / "wh"
    args = ["--warehouse", str(warehouse), "--format", "json"]
    ingest(sources=[_inbox(tmp_path / "a", SEED_FILES[:1])], warehouse=str(warehouse))
    assert not search_path(warehouse).exists(), "a run does not build the index"
    assert main(["search", "space military", *args]) == 0
    capsys.readouterr()
    assert search_index_is_current(warehouse)

    ingest(sources=[_inbox(tmp_path / "b", SEED_FILES[3:4])], warehouse=str(warehouse))
    assert not search_index_is_current(warehouse)
    assert main(["search", "space military ties", *args]) == 0
    titles = [row["title"] for row in json.loads(capsys.readouterr().out)]
    assert any(title.startswith("U.S.-Japan Deepen Space") for title in titles)
    assert search_index_is_current(warehouse)
