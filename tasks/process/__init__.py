"""Prefect task: read, clean, extract and validate one batch of files; where batches run."""

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from tasks.clean.rules import RuleSet
from tasks.documents import SourceFile
from tasks.process.engine import BatchResult, RunContext, process_batch, with_settled_files
from tasks.settings import Settings
from tasks.stories.engine import SignedBatch, sign_batch
from tasks.validate.engine import check_table_contract, validate_batch

RUNNERS = ("local", "dask")


@dataclass(frozen=True, slots=True)
class TimedBatch:
    """A processed batch and the seconds each of its stages took."""

    result: BatchResult
    seconds: dict[str, float]
    signed: SignedBatch | None = None  # story signatures of the batch's articles


@task(name="process-batch", cache_policy=NONE, cache_result_in_memory=False)
def process_batch_task(
    sources: Sequence[SourceFile], rules: RuleSet, settings: Settings, context: RunContext
) -> TimedBatch:
    started = time.perf_counter()
    result = process_batch(sources, rules, settings, context)
    processed = time.perf_counter()
    result = with_settled_files(validate_batch(result, context), sources, context)
    check_table_contract("source_files", result.tables["source_files"])
    validated = time.perf_counter()
    signed = sign_batch(result.tables["articles"], result.tables["paragraphs"])
    seconds = {
        "read_clean_extract": processed - started,
        "validate": validated - processed,
        "sign_stories": time.perf_counter() - validated,
    }
    return TimedBatch(result, seconds, signed)


def batch_task_runner(runner: str, workers: int, dask_address: str | None = None) -> TaskRunner:
    """The task runner batches go to (enter it with `with`).

    Args:
        runner: `local`: `workers` processes on this machine, or one thread in this process
            when `workers` is 1 (no start-up cost); `dask`: a LocalCluster of `workers`
            processes, or the existing cluster at `dask_address`.
    """
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        # Dask logs at INFO by default; follow Prefect's level (the CLI's -v shows both).
        logging.getLogger("distributed").setLevel(logging.getLogger("prefect").getEffectiveLevel())
        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": ":0",  # any free port: runs side by side
            }
        )
    if runner != "local":
        raise ValueError(f"unknown runner {runner!r}; choose one of: {', '.join(RUNNERS)}")
    if workers > 1:
        return ProcessPoolTaskRunner(max_workers=workers)
    return ThreadPoolTaskRunner(max_workers=1)


@contextlib.contextmanager
def api_shared_with_workers() -> Iterator[None]:
    """Give worker processes this process's Prefect API while the block runs.

    Without `PREFECT_API_URL`, Prefect runs an embedded API that only this process knows of;
    a worker process would start one of its own. Setting the URL for the block passes it on.
    A remote Dask cluster cannot reach an embedded API on 127.0.0.1: set PREFECT_API_URL to a
    Prefect server both sides reach.
    """
    if PREFECT_API_URL.value():
        yield
        return
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    with temporary_settings({PREFECT_API_URL: api_url}):
        yield
