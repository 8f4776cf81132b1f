"""Prefect tasks: load the story index of a warehouse, assign a batch's articles to stories."""

from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from tasks.settings import Settings
from tasks.stories.engine import SignedBatch, StoryAssignment, StoryIndex, assign
from warehouse.stories import landed_sources, read_story_index_rows_at


@task(
    name="load-story-index",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def load_story_index_task(root: Path, settings: Settings) -> StoryIndex:
    return StoryIndex.from_rows(*read_story_index_rows_at(root, settings.story_index_days))


@task(
    name="landed-sources",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def landed_sources_task(root: Path) -> frozenset[tuple[str, str]]:
    return landed_sources(root)


@task(name="assign-stories", cache_policy=NONE, cache_result_in_memory=False)
def assign_stories_task(
    index: StoryIndex,
    articles: pa.Table,
    paragraphs: pa.Table,
    settings: Settings,
    signed: SignedBatch | None = None,
) -> StoryAssignment:
    """Assign the batch's articles; `signed` are their signatures, made in the batch worker."""
    return assign(index, articles, paragraphs, settings, signed=signed)
