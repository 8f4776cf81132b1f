"""Prefect tasks: read what the warehouse holds.

Landing itself is `warehouse.lake.open_landing`, used by the flow: a transaction that stays
open while batches finish, which no task boundary should cut.
"""

from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from warehouse.lake import landed_keys, learned_line_counts


@task(
    name="landed-keys",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def landed_keys_task(root: Path) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    return landed_keys(root)


@task(
    name="learned-line-counts",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def learned_counts_task(root: Path) -> dict[tuple[str, str], int]:
    return learned_line_counts(root)
