"""The ingest flow: discover, process in batches, validate, land in one transaction."""

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.summary import QuarantinedFile, RunSummary, render_markdown
from schemas.arrow import arrow_schema
from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.land import land_task, landed_keys_task, learned_counts_task, refresh_search_task
from tasks.process import process_batch_task
from tasks.process.engine import RunContext, merge_batches
from tasks.read import discover_task
from tasks.settings import load_settings
from warehouse.lake import write_lock

CODE_VERSION = "0.1.0"


class AccountingError(RuntimeError):
    """Files seen do not add up to landed + quarantined + skipped: something was lost."""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _runs_row(summary_fields: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist([summary_fields], schema=arrow_schema("runs"))


@flow(name="news-etl-ingest", log_prints=False)
def ingest(
    sources: list[str],
    warehouse: str | None = None,
    batch_size: int | None = None,
    retry_quarantined: bool = False,
    catalog: str | None = None,
    runner: str = "local",
    dask_address: str | None = None,
) -> RunSummary:
    """Ingest scraped text files from `sources` into the warehouse.

    Files already in quarantine are skipped unless `retry_quarantined` (after a fix).
    `catalog` (`duckdb` or `sqlite`) is the catalog kind of a warehouse this run creates.
    `runner` is `local` (threads in this process) or `dask` (a LocalCluster, or the cluster at
    `dask_address`).
    """
    if runner != "local":
        raise NotImplementedError("the dask runner is not built yet")
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

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        stage_seconds[stage] = round(now - since, 4)
        return now

    mark = time.perf_counter()
    files = discover_task(list(sources))
    mark = lap("discover", mark)
    logger.info("discovered %d files under %s", len(files), ", ".join(map(str, sources)))

    with write_lock(settings.warehouse):
        landed_hashes, quarantined_keys = landed_keys_task(settings.warehouse)
        if retry_quarantined:
            quarantined_keys = frozenset()
        prior_line_counts = learned_counts_task(settings.warehouse)
        context = RunContext(
            prior_line_counts=prior_line_counts,
            run_id=run_id,
            ingested_at=started_at,
            cleaner_version=cleaner_version,
            landed_hashes=landed_hashes,
            quarantined_keys=quarantined_keys,
        )
        batches = [
            files[start : start + settings.batch_size]
            for start in range(0, len(files), settings.batch_size)
        ]
        futures = process_batch_task.map(
            batches, rules=unmapped(rules), settings=unmapped(settings), context=unmapped(context)
        )
        merged = merge_batches(futures.result())
        tables = merged.tables
        mark = lap("read_clean_extract_validate", mark)
        if merged.row_failures:
            logger.warning(
                "%d rows failed validation; their articles are quarantined", merged.row_failures
            )

        landed = tables["articles"].num_rows
        quarantined = tables["quarantine"].num_rows
        if merged.files_seen != landed + quarantined + merged.files_skipped:
            raise AccountingError(
                f"{merged.files_seen} files seen but {landed} landed + {quarantined} quarantined "
                f"+ {merged.files_skipped} skipped"
            )
        runs_fields = {
            "run_id": run_id,
            "started_at": started_at,
            "finished_at": _utcnow(),
            "status": "succeeded",
            "sources": ";".join(map(str, sources)),
            "files_seen": merged.files_seen,
            "articles_landed": landed,
            "files_quarantined": quarantined,
            "files_skipped": merged.files_skipped,
            "cleaner_version": cleaner_version,
            "stage_seconds": json.dumps(stage_seconds),
            "snapshot_id": None,  # land_task fills in the snapshot its commit creates
        }
        tables["runs"] = _runs_row(runs_fields)
        snapshot_id = land_task(settings.warehouse, tables, run_id, settings.catalog or None)
        mark = lap("land", mark)
        refresh_search_task(settings.warehouse, landed)
        lap("search_index", mark)

    quarantine = tables["quarantine"].select(["source_uri", "check_name", "error"]).to_pylist()
    rule_counts = Counter(tables["removed_lines"].column("rule_id").to_pylist())
    summary = RunSummary(
        run_id=run_id,
        status="succeeded",
        warehouse=str(settings.warehouse),
        snapshot_id=snapshot_id,
        files_seen=merged.files_seen,
        articles_landed=landed,
        files_quarantined=quarantined,
        files_skipped=merged.files_skipped,
        seconds=round(time.perf_counter() - clock, 3),
        stage_seconds=stage_seconds,
        quarantined=tuple(QuarantinedFile(**row) for row in quarantine),
        rule_counts=tuple(sorted(rule_counts.items(), key=lambda item: -item[1])),
    )
    create_markdown_artifact(
        key="news-etl-run-summary", markdown=render_markdown(summary), description="Ingest run"
    )
    return summary
