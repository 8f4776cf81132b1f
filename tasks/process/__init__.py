"""Prefect task: read, clean, extract and validate one batch of files."""

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NONE

from tasks.clean.rules import RuleSet
from tasks.documents import SourceFile
from tasks.process.engine import BatchResult, RunContext, process_batch
from tasks.settings import Settings
from tasks.validate.engine import validate_batch


@task(name="process-batch", cache_policy=NONE)
def process_batch_task(
    sources: Sequence[SourceFile], rules: RuleSet, settings: Settings, context: RunContext
) -> BatchResult:
    return validate_batch(process_batch(sources, rules, settings, context), context)
