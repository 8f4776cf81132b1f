"""Quarantine as a to-do list, retries after a fix, and new versions of a changed file."""

import json
import shutil

from conftest import SEEDS
from conftest import query_warehouse as _query

from flows.cli import main

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def _listed(warehouse, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["quarantine", "--warehouse", str(warehouse), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_quarantined_files_are_listed_and_retried_after_a_fix(
    tmp_path, prefect_harness, monkeypatch, capsys
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in SEED_FILES[:2]:
        shutil.copy(path, inbox / path.name)
    (inbox / "empty.txt").write_bytes(b"")
    warehouse = tmp_path / "wh"
    monkeypatch.setenv("NEWS_ETL_MAX_FILE_BYTES", "1000")  # too low: the seeds are larger
    assert main(["run", str(inbox), "--warehouse", str(warehouse)]) == 0

    listed = _listed(warehouse, capsys)
    checks = sorted((row["source_uri"].rsplit("/", 1)[-1], row["check_name"]) for row in listed)
    assert checks == [
        (SEED_FILES[0].name, "file_too_large"),
        (SEED_FILES[1].name, "file_too_large"),
        ("empty.txt", "empty_file"),
    ]
    assert all(row["error"] and row["stage"] for row in listed)

    # A plain re-run does not retry them; retry-quarantine does, once the limit is raised.
    assert main(["run", str(inbox), "--warehouse", str(warehouse)]) == 0
    assert "files skipped (already landed or repeated): 3" in capsys.readouterr().out
    monkeypatch.delenv("NEWS_ETL_MAX_FILE_BYTES")
    assert main(["retry-quarantine", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "articles landed: 2" in out
    assert "files quarantined: 1" in out, "the empty file is still empty"

    remaining = _listed(warehouse, capsys)
    assert [row["check_name"] for row in remaining] == ["empty_file"]
    runs = _query(warehouse, "select files_seen, articles_landed, files_quarantined, "
                  "files_skipped from runs order by started_at")  # fmt: skip
    for seen, landed, quarantined, skipped in runs:
        assert seen == landed + quarantined + skipped
    # The audit trail keeps every attempt.
    assert _query(warehouse, "select count(*) from quarantine") == [(4,)]


def test_a_changed_file_lands_as_a_new_version_and_the_old_one_stays_readable(
    tmp_path, prefect_harness, capsys
):
    from flows.ingest import ingest

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    story = inbox / "story.txt"
    shutil.copy(SEED_FILES[0], story)
    warehouse = tmp_path / "wh"
    first = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    story.write_text(SEED_FILES[0].read_text() + "\nThe ministry added details on Friday.\n")
    second = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert second.articles_landed == 1

    versions = _query(
        warehouse,
        "select run_id, content_sha256 from articles where source_uri like '%story.txt' "
        "order by ingested_at",
    )
    assert [run for run, _ in versions] == [first.run_id, second.run_id]
    assert versions[0][1] != versions[1][1]
    as_of_first = _query(
        warehouse, "select content_sha256 from articles", snapshot=first.snapshot_id
    )
    assert as_of_first == [(versions[0][1],)]
    sql = "select body_text from articles order by ingested_at desc limit 1"
    assert main(["query", sql, "--warehouse", str(warehouse), "--format", "csv"]) == 0
    assert "details on Friday" in capsys.readouterr().out
