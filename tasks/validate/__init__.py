"""Prefect task: validate the run's tables against the pandera models."""

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from tasks.process.engine import RunContext
from tasks.validate.engine import RowFailure, validate_tables


@task(name="validate-tables", cache_policy=NONE)
def validate_task(
    tables: dict[str, pa.Table], context: RunContext
) -> tuple[dict[str, pa.Table], list[RowFailure]]:
    return validate_tables(tables, context)
