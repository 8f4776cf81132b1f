"""The news-etl command line: exit codes, one-line errors, query formats."""

import csv
import io
import json
import re

import pytest
from conftest import SEEDS

from flows.cli import format_rows, main


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, prefect_harness):
    path = tmp_path_factory.mktemp("cli-warehouse")
    assert main(["run", str(SEEDS), "--warehouse", str(path)]) == 0
    return path


def test_run_prints_a_summary(tmp_path, prefect_harness, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "story.txt").write_text((SEEDS / "001_4a8c3549d9ae3af8.txt").read_text())
    (inbox / "empty.txt").write_text("")
    assert main(["run", str(inbox), "--warehouse", str(tmp_path / "wh")]) == 0
    out = capsys.readouterr().out
    assert "articles landed: 1" in out
    assert "files quarantined: 1" in out
    assert "empty.txt: file is empty" in out


def test_missing_source_exits_nonzero_with_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "wh")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("news-etl: error: source not found")
    assert "\n" not in err


def test_unwritable_warehouse_exits_nonzero(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", str(SEEDS), "--warehouse", str(blocker / "wh")]) == 2
    assert "warehouse is not writable" in capsys.readouterr().err


def test_query_json_is_an_array_of_objects(warehouse, capsys):
    sql = "select title, published_at from articles order by source_uri"
    assert main(["query", sql, "--warehouse", str(warehouse), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 5
    assert set(records[0]) == {"title", "published_at"}
    assert "2022-01-07T21:00:00" in [record["published_at"] for record in records]


def test_query_csv_has_header_and_rows(warehouse, capsys):
    sql = "select article_id, word_count from articles"
    assert main(["query", sql, "--warehouse", str(warehouse), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["article_id", "word_count"]
    assert len(rows) == 6


def test_query_refuses_writes(warehouse, capsys):
    assert main(["query", "delete from articles", "--warehouse", str(warehouse)]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main(["query", "select count(*) as n from articles", "--warehouse", str(warehouse)]) == 0
    assert "5" in capsys.readouterr().out


def test_query_without_warehouse_says_so(tmp_path, capsys):
    assert main(["query", "select 1", "--warehouse", str(tmp_path / "none")]) == 2
    assert "no warehouse" in capsys.readouterr().err


def test_table_format_truncates_long_cells():
    text = format_rows(["a", "b"], [("x" * 100, None)], "table", max_width=10)
    assert "xxxxxxxxx…" in text
    assert "NULL" in text
    assert text.endswith("(1 row)")


@pytest.mark.parametrize(
    "command",
    [
        ["quarantine"],
        ["retry-quarantine"],
        ["compact"],
        ["search", "words"],
        ["search-index"],
        ["changes", "--since", "0", "--out", "unused.parquet"],
        ["query", "select 1", "--as-of", "1"],
    ],
    ids=lambda command: command[0],
)
def test_warehouse_commands_without_a_warehouse_say_so(tmp_path, capsys, command):
    assert main([*command, "--warehouse", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("news-etl: error: no ")
    assert "\n" not in err


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class TerminalLike(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake_ingest(monkeypatch):
    """Replace the ingest flow: report 3 files in two batches and record the arguments."""
    import flows.ingest
    from flows import progress
    from flows.summary import RunSummary

    calls: list[dict] = []

    def ingest(**kwargs):
        calls.append(kwargs)
        progress.start(3)
        progress.advance(2)
        progress.advance(1)
        progress.finish()
        return RunSummary(
            run_id="fake", status="succeeded", warehouse=kwargs["warehouse"], snapshot_id=1,
            files_seen=3, articles_landed=3, files_quarantined=0, files_skipped=0, seconds=1.0,
        )  # fmt: skip

    monkeypatch.setattr(flows.ingest, "ingest", ingest)
    for variable in ("TTY_COMPATIBLE", "FORCE_COLOR", "TTY_INTERACTIVE"):
        monkeypatch.delenv(variable, raising=False)
    return calls


def test_run_draws_no_progress_bar_off_a_terminal(tmp_path, fake_ingest, capsys):
    assert main(["run", str(SEEDS), "--warehouse", str(tmp_path / "wh")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "articles landed: 3" in captured.out
    assert len(fake_ingest) == 1


def test_run_draws_a_progress_bar_on_a_terminal_unless_quiet(
    tmp_path, fake_ingest, monkeypatch, capsys
):
    terminal = TerminalLike()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["run", str(SEEDS), "--warehouse", str(tmp_path / "wh")]) == 0
    drawn = ANSI.sub("", terminal.getvalue())
    assert "3/3 files" in drawn
    assert "files/s" in drawn

    quiet = TerminalLike()
    monkeypatch.setattr("sys.stderr", quiet)
    assert main(["run", str(SEEDS), "--warehouse", str(tmp_path / "wh"), "--quiet"]) == 0
    assert quiet.getvalue() == ""
    assert "articles landed: 3" in capsys.readouterr().out


def test_run_passes_runner_and_dask_address_and_accepts_object_storage_sources(
    tmp_path, fake_ingest
):
    args = ["run", "s3://bucket/inbox", str(SEEDS), "--warehouse", str(tmp_path / "wh")]
    assert main([*args, "--runner", "dask", "--dask-address", "tcp://127.0.0.1:8786"]) == 0
    assert fake_ingest[-1]["sources"] == ["s3://bucket/inbox", str(SEEDS)]
    assert fake_ingest[-1]["runner"] == "dask"
    assert fake_ingest[-1]["dask_address"] == "tcp://127.0.0.1:8786"
    assert main(args) == 0
    assert (fake_ingest[-1]["runner"], fake_ingest[-1]["dask_address"]) == ("local", None)


def test_run_refuses_a_dask_address_without_the_dask_runner(tmp_path, fake_ingest, capsys):
    args = ["run", str(SEEDS), "--warehouse", str(tmp_path / "wh")]
    assert main([*args, "--dask-address", "tcp://127.0.0.1:8786"]) == 2
    assert "--dask-address needs --runner dask" in capsys.readouterr().err
    assert fake_ingest == []


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--source", "MISSING"], "source not found"),
        (["--source", "SEEDS", "--interval", "0"], "--interval must be a positive number"),
        (["--source", "SEEDS", "--cron", "every five minutes"], "not a valid cron expression"),
        (["--source", "SEEDS", "--dask-address", "tcp://h:1"], "--dask-address needs --runner"),
    ],
    ids=["missing-source", "zero-interval", "bad-cron", "address-without-dask"],
)
def test_serve_refuses_bad_arguments_before_starting_anything(tmp_path, capsys, extra, reason):
    extra = [
        {"MISSING": str(tmp_path / "nope"), "SEEDS": str(SEEDS)}.get(arg, arg) for arg in extra
    ]
    assert main(["serve", *extra, "--warehouse", str(tmp_path / "wh")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("news-etl: error: ")
    assert reason in err
    assert "\n" not in err
    assert not (tmp_path / "wh").exists()  # refused before touching the warehouse
