"""The SQLite catalog: chosen once, remembered, and attached by several processes at once."""

import json
import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, SEEDS
from conftest import query_warehouse as _query

from flows.cli import main
from warehouse.lake import (
    PAUSE_BEFORE_COMMIT_VARIABLE,
    PAUSE_MESSAGE,
    WarehouseError,
    connect,
    ensure_tables,
    existing_catalog,
)

SEED_FILES = sorted(SEEDS.glob("*.txt"))
PAUSE_SECONDS = 6  # the reader takes about 1.5 s; it must finish inside the pause


def _sqlite_warehouse(path):
    connection = connect(path, catalog="sqlite")
    try:
        ensure_tables(connection)
    finally:
        connection.close()
    return path


def _inbox(folder, files) -> str:
    folder.mkdir(parents=True)
    for path in files:
        (folder / path.name).write_bytes(path.read_bytes())
    return str(folder)


def _cli(args: list[str], folder, **env: str) -> subprocess.Popen:
    """`news-etl ARGS` in its own process and Prefect home; output to folder/out and err."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "PREFECT_HOME": str(folder / "prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **env,
    }
    environment.pop("PREFECT_API_URL", None)  # the session harness's server is not theirs
    with open(folder / "out", "w") as out, open(folder / "err", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=err,
            text=True,
        )


def _output(folder) -> str:
    return (folder / "out").read_text() + (folder / "err").read_text()


def test_the_catalog_kind_is_remembered_and_another_kind_is_refused(tmp_path, capsys, monkeypatch):
    warehouse = _sqlite_warehouse(tmp_path / "wh")
    assert (warehouse / "catalog.sqlite").exists()
    assert not (warehouse / "catalog.ducklake").exists()
    assert existing_catalog(warehouse) == "sqlite"
    assert _query(warehouse, "select count(*) from articles") == [(0,)], "readers need no flag"
    connect(warehouse, catalog="sqlite").close()  # asking for the kind it has is fine

    assert main(["run", str(SEEDS), "--warehouse", str(warehouse), "--catalog", "duckdb"]) == 2
    assert "has a sqlite catalog" in capsys.readouterr().err
    monkeypatch.setenv("NEWS_ETL_CATALOG", "duckdb")
    assert main(["run", str(SEEDS), "--warehouse", str(warehouse)]) == 2
    assert "has a sqlite catalog" in capsys.readouterr().err
    monkeypatch.setenv("NEWS_ETL_CATALOG", "oracle")
    assert main(["run", str(SEEDS), "--warehouse", str(tmp_path / "new")]) == 2
    assert "unknown catalog 'oracle'" in capsys.readouterr().err
    with pytest.raises(WarehouseError, match="unknown catalog"):
        connect(tmp_path / "other", catalog="oracle")


@pytest.mark.slow  # two real `news-etl run` processes and a reader: about 55 s
def test_two_runs_at_once_on_a_sqlite_catalog_while_a_reader_queries(tmp_path, capsys):
    warehouse = _sqlite_warehouse(tmp_path / "wh")
    first = _inbox(tmp_path / "a", SEED_FILES[:2])
    second = _inbox(tmp_path / "b", SEED_FILES[2:])
    # The first run pauses with its rows inserted and its COMMIT not yet sent.
    paused = _cli(
        ["run", first, "--warehouse", str(warehouse), "--catalog", "sqlite"],
        tmp_path / "run-1",
        **{PAUSE_BEFORE_COMMIT_VARIABLE: str(PAUSE_SECONDS)},
    )
    other = _cli(["run", second, "--warehouse", str(warehouse)], tmp_path / "run-2")
    try:
        deadline = time.monotonic() + 120
        while PAUSE_MESSAGE not in (tmp_path / "run-1" / "err").read_text():
            assert paused.poll() is None, _output(tmp_path / "run-1")
            assert time.monotonic() < deadline, "the first run never reached its COMMIT"
            time.sleep(0.2)
        # A read-only query in a third process while the writer has the catalog attached.
        started = time.monotonic()
        reader = subprocess.run(
            [sys.executable, "-m", "flows.cli", "query", "select count(*) as n from articles",
             "--warehouse", str(warehouse), "--format", "csv"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        read_seconds = time.monotonic() - started
        assert reader.returncode == 0, reader.stderr
        assert paused.poll() is None, f"the read ({read_seconds:.1f} s) did not wait for COMMIT"
        # Committed state only: nothing yet, or the other run's three articles if it went first.
        assert reader.stdout.splitlines()[0] == "n"
        assert reader.stdout.splitlines()[1] in {"0", "3"}
        assert paused.wait(timeout=120) == 0, _output(tmp_path / "run-1")
        assert other.wait(timeout=120) == 0, _output(tmp_path / "run-2")
    finally:
        paused.kill()
        other.kill()

    assert existing_catalog(warehouse) == "sqlite"
    assert not (warehouse / "catalog.ducklake").exists()
    runs = _query(warehouse, "select articles_landed, files_skipped, snapshot_id from runs")
    assert sorted(row[:2] for row in runs) == [(2, 0), (3, 0)]
    snapshots = dict(
        _query(warehouse, "select snapshot_id, commit_message from ducklake_snapshots('lake')")
    )
    assert all(snapshots[row[2]].startswith("run ") for row in runs), "each run's own snapshot"
    assert _query(warehouse, "select count(*), count(distinct content_sha256) from articles") == [
        (5, 5)
    ], "every article landed exactly once"

    # The landed Parquet files are plain Parquet: pyarrow reads the same rows.
    files = sorted((warehouse / "data").rglob("main/articles/*.parquet"))
    assert files
    articles = pa.concat_tables([pq.read_table(path) for path in files])
    assert sorted(articles.column("article_id").to_pylist()) == sorted(
        row[0] for row in _query(warehouse, "select article_id from articles")
    )

    # The other commands find the SQLite catalog by themselves.
    assert (
        main(["search", "space military ties", "--warehouse", str(warehouse), "--format", "json"])
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)) == 5
    assert main(["compact", "--warehouse", str(warehouse)]) == 0
    assert "data files:" in capsys.readouterr().out
    assert _query(warehouse, "select count(*) from articles") == [(5,)]
