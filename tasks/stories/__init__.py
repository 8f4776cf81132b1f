"""Prefect tasks: load the story index of a warehouse, assign a batch's articles to stories."""

from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from tasks.settings import Settings
from tasks.stories.engine import StoryIndex, assign
from warehouse.stories import landed_sources, read_story_index_rows_at


@task(
    name="load-story-index",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def load_story_index_task(root: Path, settings: Settings) -> StoryIndex:
    """The index of the articles landed in the last `story_index_days`, within the run's bound."""
    bound = settings.story_index_max_articles
    index = StoryIndex.from_rows(*read_story_index_rows_at(root, settings.story_index_days, bound))
    index.bound(bound)
    return index


@task(
    name="landed-sources",
    cache_policy=NONE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=1,
)
def landed_sources_task(root: Path) -> frozenset[tuple[str, str]]:
    return landed_sources(root)


# The engine's `assign` itself, run as a task: index, articles, paragraphs, settings, and
# `signed`, the batch's signatures made in its worker.
assign_stories_task = task(
    assign, name="assign-stories", cache_policy=NONE, cache_result_in_memory=False
)
