"""The news-etl command line: exit codes, one-line errors, query formats."""

import csv
import io
import json

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
