"""The ingest flow: discover, process batches in parallel, land them in one transaction."""

import contextlib
import gc
import json
import os
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pyarrow as pa
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner

from flows import progress
from flows.summary import RunSummary, RunTally, render_markdown
from schemas.arrow import arrow_schema
from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.learned import LineCounts, source_key
from tasks.clean.rules import load_rules
from tasks.documents import SourceFile
from tasks.keysets import KeySet
from tasks.land import landed_keys_task, learned_counts_task, settled_files_task
from tasks.process import (
    RUNNERS,
    TimedBatch,
    api_shared_with_workers,
    batch_task_runner,
    process_batch_task,
)
from tasks.process.engine import RunContext
from tasks.read import discover_task
from tasks.settings import Settings, load_settings
from tasks.stories import assign_stories_task, landed_sources_task, load_story_index_task
from tasks.stories.engine import StoryIndex
from warehouse.lake import open_landing, write_lock

CODE_VERSION = "0.1.0"
# Batches submitted ahead of the one being landed, per worker: each worker has one running
# and one waiting, and at most this many finished batches wait in memory.
BATCHES_IN_FLIGHT_PER_WORKER = 2


class AccountingError(RuntimeError):
    """Files seen do not add up to landed + quarantined + skipped: something was lost."""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _runs_row(summary_fields: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist([summary_fields], schema=arrow_schema("runs"))


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {stage: round(value, 3) for stage, value in seconds.items()}


def _worker_count(settings: Settings, runner: str, files: int, batches: int) -> int:
    """Processes to start: one per core (or `settings.workers`), never more than batches."""
    cores = settings.workers or len(os.sched_getaffinity(0))
    if runner == "local" and files < settings.parallel_min_files:
        return 1
    return max(1, min(cores, batches))


def _counts_by_source(counts: LineCounts) -> dict[str, dict[tuple[str, str], int]]:
    by_source: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for (source, key), count in counts.items():
        by_source[source][(source, key)] = count
    return by_source


def _batch_contexts(
    context: RunContext, prior_counts: LineCounts
) -> Callable[[Sequence[SourceFile]], RunContext]:
    """The context of each batch: the run's, with the learned-line counts of its sources only
    (all of them, sent with every batch, would grow with every site the warehouse has seen)."""
    by_source = _counts_by_source(prior_counts)

    def context_for(batch: Sequence[SourceFile]) -> RunContext:
        sources = {source_key(source.source_uri) for source in batch}
        counts = {key: count for source in sources for key, count in by_source[source].items()}
        return replace(context, prior_line_counts=counts)

    return context_for


def _processed_batches(
    task_runner: TaskRunner,
    batches: Iterable[Sequence[SourceFile]],
    parameters: dict[str, object],
    context_for: Callable[[Sequence[SourceFile]], RunContext],
    in_flight: int,
) -> Iterator[TimedBatch]:
    """Run every batch on `task_runner`, at most `in_flight` at once; yield them in order.

    In file order, so the first copy of repeated content is the one that lands, whichever
    batch finishes first.
    """
    queued = iter(batches)

    def submit(batch: Sequence[SourceFile]):
        return task_runner.submit(
            process_batch_task, {"sources": batch, "context": context_for(batch), **parameters}
        )

    pending = deque(submit(batch) for batch in islice(queued, in_flight))
    while pending:
        finished = pending.popleft().result()
        for batch in islice(queued, 1):
            pending.append(submit(batch))
        yield finished


@contextlib.contextmanager
def _results_unlinked() -> Iterator[None]:
    """Keep no links from the results of the tasks run in the block to their task runs.

    For the whole flow run, Prefect maps the id of a task's result, and of each of its items
    (every file of a listing, every key and value of a dict), to the task run's state
    (`FlowRunContext.run_results`, for drawing dependencies between tasks). A listing returned
    as a list of 300,000 files kept 300,000 entries, about 180 MB; the warehouse's key sets
    read at setup do the same on re-runs. The flow hands none of those items to a task, so the
    block's links go to a mapping that is dropped when it ends.
    """
    context = FlowRunContext.get()
    if context is None:
        yield
        return
    links = context.run_results
    context.run_results = {}
    try:
        yield
    finally:
        context.run_results = links


@flow(name="news-etl-ingest", log_prints=False)
def ingest(
    sources: list[str],
    warehouse: str | None = None,
    batch_size: int | None = None,
    retry_quarantined: bool = False,
    catalog: str | None = None,
    runner: str = "local",
    dask_address: str | None = None,
    read_unchanged: bool = False,
) -> RunSummary:
    """Ingest scraped text files from `sources` into the warehouse.

    A file listed with the path, size and modification time an earlier run landed or
    quarantined it with is skipped unread (`read_unchanged` reads it: its content hash then
    decides). Files already in quarantine are skipped unless `retry_quarantined` (after a fix).
    `catalog` (`duckdb` or `sqlite`) is the catalog kind of a warehouse this run creates.
    `runner` is `local` (processes on this machine, one per core, for runs of at least
    `parallel_min_files` files; else a thread here) or `dask` (a LocalCluster, or the cluster
    at `dask_address`). Each batch's rows land as it finishes, in one transaction per run.
    """
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; choose one of: {', '.join(RUNNERS)}")
    logger = get_run_logger()
    started_at = _utcnow()
    clock = time.perf_counter()
    settings = load_settings(
        warehouse=Path(warehouse) if warehouse else None, batch_size=batch_size, catalog=catalog
    )
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    cleaner_version = f"{CODE_VERSION}+rules.{rules.fingerprint}"
    run_id = flow_run.id or str(uuid.uuid4())
    stage_seconds: dict[str, float] = {}

    mark = time.perf_counter()
    with _results_unlinked():
        files = discover_task(list(sources))
    # Building the listing's arrays leaves freed memory in Arrow's pool that the run would hold
    # to its end (45 MB for 300,000 files); giving it back takes under a millisecond.
    pa.default_memory_pool().release_unused()
    stage_seconds["discover"] = time.perf_counter() - mark
    logger.info("discovered %d files under %s", len(files), ", ".join(map(str, sources)))
    progress.start(len(files))
    tally = RunTally()
    try:
        with write_lock(settings.warehouse):
            mark = time.perf_counter()
            if not read_unchanged:
                with _results_unlinked():
                    settled_landed, settled_quarantined = settled_files_task(settings.warehouse)
                if retry_quarantined:
                    settled_quarantined = KeySet()
                files, landed_count, quarantined_count = files.without_settled(
                    settled_landed, settled_quarantined
                )
                del settled_landed, settled_quarantined
                if landed_count + quarantined_count:
                    tally.add_unread(landed_count + quarantined_count)
                    progress.advance(landed_count + quarantined_count)
                logger.info(
                    "%d files unchanged since an earlier run landed (%d) or quarantined (%d) "
                    "them: not read",
                    landed_count + quarantined_count,
                    landed_count,
                    quarantined_count,
                )
            stage_seconds["skip_unchanged"] = time.perf_counter() - mark
            with _results_unlinked():
                landed_hashes, quarantined_keys = landed_keys_task(settings.warehouse)
                landed_sources = landed_sources_task(settings.warehouse)
                prior_counts = learned_counts_task(settings.warehouse)
            context = RunContext(
                run_id=run_id,
                ingested_at=started_at,
                cleaner_version=cleaner_version,
                landed_hashes=KeySet(landed_hashes),
                landed_sources=KeySet(landed_sources),
                quarantined_keys=KeySet() if retry_quarantined else KeySet(quarantined_keys),
            )
            context_for = _batch_contexts(context, prior_counts)
            # What the run keeps of these is in the KeySets (16 bytes a key) and context_for.
            del landed_hashes, landed_sources, quarantined_keys, prior_counts
            batch_count = -(-len(files) // settings.batch_size)
            workers = _worker_count(settings, runner, len(files), batch_count)
            logger.info("%d batches, %s runner, %d worker(s)", batch_count, runner, workers)
            # A run with nothing to read (all unchanged) assigns no stories.
            story_index = (
                load_story_index_task(settings.warehouse, settings)
                if len(files)
                else StoryIndex.empty()
            )
            land_seconds = story_seconds = 0.0
            mark = time.perf_counter()
            with (
                open_landing(settings.warehouse, run_id, settings.catalog or None) as landing,
                api_shared_with_workers() if len(files) else contextlib.nullcontext(),
                batch_task_runner(runner, workers, dask_address) as task_runner,
            ):
                parameters = {"rules": rules, "settings": settings}
                in_flight = workers * BATCHES_IN_FLIGHT_PER_WORKER
                processed = _processed_batches(
                    task_runner,
                    files.batches(settings.batch_size),
                    parameters,
                    context_for,
                    in_flight,
                )
                for batch in processed:
                    tables = tally.add(batch.result, batch.seconds)
                    stories_started = time.perf_counter()
                    assignment = assign_stories_task(
                        story_index,
                        tables["articles"],
                        tables["paragraphs"],
                        settings,
                        signed=batch.signed,
                    )
                    story_index = assignment.index
                    tables.update(assignment.tables())
                    land_started = time.perf_counter()
                    story_seconds += land_started - stories_started
                    landing.add(tables)
                    land_seconds += time.perf_counter() - land_started
                    progress.advance(batch.result.files_seen)
                    # A batch leaves large arrays in reference cycles that Python's
                    # allocation-count gc reaches too late: peak memory grew ~100 MB per 1,000
                    # files (measured: 0.93 GB at 5,000 files, 1.9 GB at 15,000; with this,
                    # 0.65 and 0.73 GB).
                    gc.collect()
                stage_seconds["batches_wall"] = time.perf_counter() - mark
                stage_seconds.update(tally.batch_seconds)
                stage_seconds["stories"] = story_seconds
                stage_seconds["land"] = land_seconds
                if tally.row_failures:
                    logger.warning(
                        "%d rows failed validation; their articles are quarantined",
                        tally.row_failures,
                    )
                if not tally.balanced:
                    raise AccountingError(
                        f"{tally.files_seen} files seen but {tally.articles_landed} landed + "
                        f"{tally.files_quarantined} quarantined + {tally.files_skipped} skipped"
                    )
                mark = time.perf_counter()
                runs_fields = {
                    "run_id": run_id,
                    "started_at": started_at,
                    "finished_at": _utcnow(),
                    "status": "succeeded",
                    "sources": ";".join(map(str, sources)),
                    "files_seen": tally.files_seen,
                    "articles_landed": tally.articles_landed,
                    "files_quarantined": tally.files_quarantined,
                    "files_skipped": tally.files_skipped,
                    "cleaner_version": cleaner_version,
                    "stage_seconds": json.dumps(_rounded(stage_seconds)),
                    "snapshot_id": None,  # the commit fills in the snapshot it creates
                }
                snapshot_id = landing.commit(_runs_row(runs_fields))
                stage_seconds["land"] += time.perf_counter() - mark
    finally:
        progress.finish()

    summary = RunSummary(
        run_id=run_id,
        status="succeeded",
        warehouse=str(settings.warehouse),
        snapshot_id=snapshot_id,
        files_seen=tally.files_seen,
        articles_landed=tally.articles_landed,
        files_quarantined=tally.files_quarantined,
        files_skipped=tally.files_skipped,
        files_unread=tally.files_unread,
        seconds=round(time.perf_counter() - clock, 3),
        stage_seconds=_rounded(stage_seconds),
        quarantined=tuple(tally.quarantined),
        rule_counts=tally.ranked_rule_counts(),
    )
    create_markdown_artifact(
        key="news-etl-run-summary", markdown=render_markdown(summary), description="Ingest run"
    )
    return summary
