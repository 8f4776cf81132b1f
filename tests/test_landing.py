"""Landing a run batch by batch: one transaction, one snapshot, memory of one batch."""

import gc
from datetime import datetime

import pyarrow as pa
import pytest
from conftest import query_warehouse as _query

from flows.ingest import _processed_batches
from flows.summary import RunTally
from schemas.arrow import arrow_schema
from tasks.process.engine import BATCH_TABLES, BatchResult
from warehouse.lake import WarehouseError, land_tables, open_landing, write_lock

RUN_STARTED = datetime(2024, 5, 1, 12, 0)


def _paragraphs(batch: int, rows: int, text: str = "kept") -> pa.Table:
    return pa.table(
        {
            "article_id": [f"{batch:08d}{row:024d}" for row in range(rows)],
            "position": list(range(rows)),
            "kind": ["paragraph"] * rows,
            "text": [text] * rows,
            "line_number": list(range(1, rows + 1)),
        },
        schema=arrow_schema("paragraphs"),
    )


def _runs_row(run_id: str) -> pa.Table:
    row = dict.fromkeys(arrow_schema("runs").names)
    row.update(run_id=run_id, started_at=RUN_STARTED, finished_at=RUN_STARTED, status="succeeded")
    return pa.Table.from_pylist([row], schema=arrow_schema("runs"))


def _snapshots(warehouse) -> list[int]:
    return [
        row[0] for row in _query(warehouse, "select snapshot_id from ducklake_snapshots('lake')")
    ]


def test_batches_added_one_by_one_land_as_one_snapshot(tmp_path):
    warehouse = tmp_path / "wh"
    land_tables(warehouse, {"paragraphs": _paragraphs(0, 1)}, run_id="earlier")
    before = _snapshots(warehouse)
    with write_lock(warehouse), open_landing(warehouse, "run-1") as landing:
        for batch in range(1, 8):
            landing.add({"paragraphs": _paragraphs(batch, 10)})
        snapshot = landing.commit(_runs_row("run-1"))
    assert _snapshots(warehouse) == [*before, snapshot]
    assert snapshot == landing.expected_snapshot == before[-1] + 1
    assert _query(warehouse, "select snapshot_id from runs") == [(snapshot,)]
    assert _query(warehouse, "select count(*) from paragraphs") == [(1 + 7 * 10,)]
    # As of the snapshot before the commit, none of the run's rows exist.
    assert _query(warehouse, "select count(*) from paragraphs", snapshot=before[-1]) == [(1,)]


def _land_then_fail(warehouse) -> None:
    with open_landing(warehouse) as landing:
        landing.add({"paragraphs": _paragraphs(2, 10)})
        raise RuntimeError("cleaner broke after a batch landed")


def _land_good_then_bad_batch(warehouse) -> None:
    with open_landing(warehouse, "run-1") as landing:
        landing.add({"paragraphs": _paragraphs(1, 10)})
        landing.add({"runs": pa.table({"run_id": ["x"], "started_at": ["not a timestamp"]})})


def test_leaving_without_commit_lands_nothing(tmp_path):
    warehouse = tmp_path / "wh"
    land_tables(warehouse, {"paragraphs": _paragraphs(0, 1)}, run_id="earlier")
    before = _snapshots(warehouse)
    with open_landing(warehouse, "run-1") as landing:
        landing.add({"paragraphs": _paragraphs(1, 10)})
    with pytest.raises(RuntimeError, match="cleaner broke"):
        _land_then_fail(warehouse)
    assert _snapshots(warehouse) == before
    assert _query(warehouse, "select count(*) from paragraphs") == [(1,)]


def test_a_bad_batch_rolls_back_the_batches_before_it(tmp_path):
    warehouse = tmp_path / "wh"
    land_tables(warehouse, {"paragraphs": _paragraphs(0, 1)}, run_id="earlier")
    before = _snapshots(warehouse)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure must roll back
        _land_good_then_bad_batch(warehouse)
    assert _snapshots(warehouse) == before
    assert _query(warehouse, "select count(*) from paragraphs") == [(1,)]


def test_a_run_that_committed_lands_nothing_twice(tmp_path):
    warehouse = tmp_path / "wh"
    with open_landing(warehouse, "run-1") as landing:
        landing.add({"paragraphs": _paragraphs(1, 3)})
        first = landing.commit(_runs_row("run-1"))
    with open_landing(warehouse, "run-1") as again:
        again.add({"paragraphs": _paragraphs(1, 3)})
        assert again.landed_before
        assert again.commit(_runs_row("run-1")) == first
    assert _query(warehouse, "select count(*) from paragraphs") == [(3,)]
    with open_landing(warehouse, "run-2") as landing:
        landing.commit()
        with pytest.raises(WarehouseError, match="already committed"):
            landing.add({"paragraphs": _paragraphs(2, 3)})


def test_landing_holds_no_batch_after_adding_it(tmp_path):
    """Arrow memory stays under one batch while 16 batches (about 16 MB) go in one transaction."""
    warehouse = tmp_path / "wh"
    one_batch = _paragraphs(0, 500, text="x" * 2000).nbytes  # about 1 MB
    gc.collect()
    baseline = pa.total_allocated_bytes()
    held = []
    with open_landing(warehouse, "run-1") as landing:
        for batch in range(16):
            landing.add({"paragraphs": _paragraphs(batch, 500, text="x" * 2000)})
            gc.collect()
            held.append(pa.total_allocated_bytes() - baseline)
        landing.commit()
    assert max(held) < one_batch, f"Arrow bytes held after each add: {held}"
    assert _query(warehouse, "select count(*) from paragraphs") == [(16 * 500,)]


def _batch(article_ids: list[str], files_seen: int, files_skipped: int = 0) -> BatchResult:
    tables = {table: arrow_schema(table).empty_table() for table in BATCH_TABLES}
    article = dict.fromkeys(arrow_schema("articles").names)
    tables["articles"] = pa.Table.from_pylist(
        [{**article, "article_id": i, "source_uri": f"/in/{i}.txt"} for i in article_ids],
        schema=arrow_schema("articles"),
    )
    removed = dict.fromkeys(arrow_schema("removed_lines").names)
    tables["removed_lines"] = pa.Table.from_pylist(
        [{**removed, "article_id": i, "rule_id": "nav.menu"} for i in article_ids],
        schema=arrow_schema("removed_lines"),
    )
    return BatchResult(tables=tables, files_seen=files_seen, files_skipped=files_skipped)


def test_tally_drops_content_an_earlier_batch_landed_and_keeps_no_rows():
    tally = RunTally()
    first = tally.add(_batch(["a", "b"], files_seen=3, files_skipped=1), {"validate": 1.5})
    second = tally.add(_batch(["b", "c"], files_seen=2), {"validate": 0.5})
    assert first["articles"].column("article_id").to_pylist() == ["a", "b"]
    assert second["articles"].column("article_id").to_pylist() == ["c"]
    assert second["removed_lines"].column("article_id").to_pylist() == ["c"]
    assert (tally.files_seen, tally.articles_landed, tally.files_skipped) == (5, 3, 2)
    assert tally.balanced
    assert tally.ranked_rule_counts() == (("nav.menu", 3),)
    assert tally.batch_seconds == {"validate": 2.0}


def test_tally_keeps_counts_not_rows():
    tally = RunTally()
    gc.collect()
    baseline = pa.total_allocated_bytes()
    for batch in range(30):
        ids = [f"{batch:04d}-{row}" for row in range(2000)]
        landed = tally.add(_batch(ids, files_seen=2000))
        assert landed["articles"].num_rows == 2000
        del landed
    gc.collect()
    assert tally.articles_landed == 30 * 2000
    assert pa.total_allocated_bytes() - baseline < 2**20, "no batch's tables are kept"


class _FakeFuture:
    def __init__(self, runner: "_CountingRunner", value: object) -> None:
        self._runner, self._value = runner, value

    def result(self) -> object:
        self._runner.outstanding -= 1
        return self._value


class _CountingRunner:
    """Stands in for a task runner: records how many batches were in flight at most."""

    def __init__(self) -> None:
        self.outstanding = self.most_outstanding = 0

    def submit(self, task, parameters):
        self.outstanding += 1
        self.most_outstanding = max(self.most_outstanding, self.outstanding)
        return _FakeFuture(
            self, (parameters["sources"], parameters["rules"], parameters["context"])
        )


def test_batches_run_with_a_bounded_number_in_flight_and_come_back_in_order():
    runner = _CountingRunner()
    batches = [[f"file{number}"] for number in range(25)]
    results = list(
        _processed_batches(runner, batches, {"rules": "r"}, lambda batch: batch[0], in_flight=4)
    )
    assert [sources for sources, _, _ in results] == batches
    assert {rules for _, rules, _ in results} == {"r"}
    assert [context for _, _, context in results] == [batch[0] for batch in batches]
    assert runner.most_outstanding == 4
