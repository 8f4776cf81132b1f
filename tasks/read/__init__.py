"""Prefect task: discover source files."""

from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from tasks.read.engine import SourceListing, list_sources


@task(
    name="discover-files",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def discover_task(sources: Sequence[str | Path]) -> SourceListing:
    return list_sources(sources)
