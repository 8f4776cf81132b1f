"""Prefect tasks: read what the warehouse holds.

Landing itself is `warehouse.lake.open_landing`, used by the flow: a transaction that stays
open while batches finish, which no task boundary should cut.
"""

from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from tasks.keysets import KeySet
from warehouse.lake import landed_keys, learned_line_counts, settled_file_states


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


@task(
    name="settled-files",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def settled_files_task(root: Path) -> tuple[KeySet, KeySet]:
    """The listed states of the files earlier runs landed, and of those they quarantined."""
    return KeySet(settled_file_states(root, "landed")), KeySet(
        settled_file_states(root, "quarantined")
    )
