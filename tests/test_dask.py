"""The ingest flow on Dask: a LocalCluster of two worker processes lands what one thread does."""

import pytest
from conftest import SEEDS
from conftest import query_warehouse as _query

# What a run lands, without the columns that name the run or its time.
LANDED = {
    "articles": "select article_id, source_uri, content_sha256, title, author, published_at, "
    "body_text, word_count, language, cleaning_confidence from articles",
    "paragraphs": "select article_id, position, kind, text, line_number from paragraphs",
    "removed_lines": "select article_id, line_number, text, rule_id from removed_lines",
    "captions": "select article_id, line_number, text, credit from captions",
    "quotes": "select article_id, position, text, speaker from quotes",
    "learned_lines": "select source_key, line_key, text, doc_count from learned_lines",
    "quarantine": "select source_uri, check_name from quarantine",
}


def _landed(warehouse) -> dict[str, list[tuple]]:
    return {table: sorted(_query(warehouse, sql), key=repr) for table, sql in LANDED.items()}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, prefect_harness):
    from flows.ingest import ingest

    warehouse = tmp_path_factory.mktemp("local") / "wh"
    summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse), batch_size=2)
    return warehouse, summary


def test_dask_local_cluster_lands_the_same_rows_in_one_snapshot(tmp_path, local_run, monkeypatch):
    from prefect_dask import DaskTaskRunner

    import flows.ingest
    from flows.ingest import ingest

    monkeypatch.setenv("NEWS_ETL_WORKERS", "2")  # two worker processes even on one core
    runners = []

    def recording_runner(*args, **kwargs):
        runner = make_runner(*args, **kwargs)
        # Keep plain data: Dask pickles the flow's globals, and a live runner does not pickle.
        runners.append((type(runner), dict(runner.cluster_kwargs)))
        return runner

    make_runner = flows.ingest.batch_task_runner
    monkeypatch.setattr(flows.ingest, "batch_task_runner", recording_runner)
    warehouse = tmp_path / "wh"
    # Three batches (2 + 2 + 1 files) on two processes, landed as they finish.
    summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse), batch_size=2, runner="dask")
    [(runner_type, cluster_kwargs)] = runners
    assert runner_type is DaskTaskRunner
    assert cluster_kwargs["n_workers"] == 2
    assert cluster_kwargs["processes"]
    local_warehouse, local_summary = local_run
    assert (summary.files_seen, summary.articles_landed) == (5, 5)
    assert _landed(warehouse) == _landed(local_warehouse)
    assert _landed(warehouse)["articles"], "the comparison is not of two empty warehouses"
    # One snapshot holds the whole run: nothing of it before, all of it after.
    runs = _query(warehouse, "select run_id, snapshot_id, files_seen from runs")
    assert runs == [(summary.run_id, summary.snapshot_id, 5)]
    before = summary.snapshot_id - 1
    assert _query(warehouse, "select count(*) from articles", snapshot=before) == [(0,)]
    assert _query(warehouse, "select count(*) from articles", snapshot=summary.snapshot_id) == [
        (5,)
    ]
    assert summary.stage_seconds["read_clean_extract"] > 0
    assert local_summary.rule_counts == summary.rule_counts


def test_an_unknown_runner_is_refused(prefect_harness, tmp_path):
    from flows.ingest import ingest

    with pytest.raises(ValueError, match="unknown runner 'spark'"):
        ingest(sources=[str(SEEDS)], warehouse=str(tmp_path / "wh"), runner="spark")
