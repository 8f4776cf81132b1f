"""Validate batch tables against the pandera models; failing articles go to quarantine."""

import logging
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from pandera.errors import SchemaErrors

from schemas.arrow import arrow_schema
from schemas.tables import TABLE_MODELS
from tasks.process.engine import ARTICLE_TABLES, BatchResult, RunContext, drop_articles

LOGGER = logging.getLogger(__name__)


class ContractViolation(RuntimeError):
    """A table broke its contract in a way no single row explains (a bug, not bad input)."""


@dataclass(frozen=True, slots=True)
class RowFailure:
    article_id: str
    table: str
    column: str
    check: str
    failure_case: str


def _row_failures(table: str, frame: pd.DataFrame) -> list[RowFailure]:
    try:
        TABLE_MODELS[table].validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        unexplained = cases[cases["index"].isna()]
        if not unexplained.empty:
            raise ContractViolation(
                f"table {table} failed schema-level checks: "
                + "; ".join(f"{row.column} {row.check}" for row in unexplained.itertuples())
            ) from errors
        return [
            RowFailure(
                article_id=str(frame["article_id"].iloc[int(row.index)]),
                table=table,
                column=str(row.column),
                check=str(row.check),
                failure_case=str(row.failure_case),
            )
            for row in cases.itertuples()
        ]
    return []


def validate_tables(
    tables: dict[str, pa.Table], context: RunContext
) -> tuple[dict[str, pa.Table], list[RowFailure]]:
    """Check every table; drop all rows of any article with a failing row, and say why."""
    failures: list[RowFailure] = []
    for table in ARTICLE_TABLES:
        failures += _row_failures(table, tables[table].to_pandas())
    failing_ids = {failure.article_id for failure in failures}
    articles = tables["articles"]
    quarantine_rows = []
    if failing_ids:
        by_id = {
            row["article_id"]: row
            for row in articles.select(["article_id", "source_uri", "content_sha256"]).to_pylist()
        }
        first_failure = {}
        for failure in failures:
            first_failure.setdefault(failure.article_id, failure)
        for article_id, failure in first_failure.items():
            source = by_id.get(article_id, {})
            quarantine_rows.append(
                {
                    "source_uri": source.get("source_uri", f"article:{article_id}"),
                    "content_sha256": source.get("content_sha256"),
                    "file_size_bytes": None,
                    "stage": "validate",
                    "check_name": f"{failure.table}.{failure.column}:{failure.check}",
                    "error": f"{failure.table}.{failure.column} failed the check "
                    f"{failure.check} (value {failure.failure_case[:200]!r}); "
                    "the article was not landed",
                    "failure_case": failure.failure_case[:1000],
                    "run_id": context.run_id,
                    "quarantined_at": context.ingested_at,
                }
            )
    valid = {}
    for table, rows in tables.items():
        if failing_ids and table in ARTICLE_TABLES:
            rows = drop_articles(rows, failing_ids)
        valid[table] = rows
    if quarantine_rows:
        extra = pa.Table.from_pylist(quarantine_rows, schema=arrow_schema("quarantine"))
        valid["quarantine"] = pa.concat_tables([valid["quarantine"], extra])
    for table in ("quarantine", "learned_lines"):
        if table in valid:
            check_table_contract(table, valid[table])
    return valid, failures


def check_table_contract(table: str, rows: pa.Table) -> None:
    """Raise ContractViolation unless every row of a table without articles is valid."""
    try:
        TABLE_MODELS[table].validate(rows.to_pandas(), lazy=True)
    except SchemaErrors as errors:
        raise ContractViolation(f"table {table} broke its contract: {errors}") from errors


def validate_batch(result: BatchResult, context: RunContext) -> BatchResult:
    """Validate one batch's tables in place of the raw ones (keeps memory per batch)."""
    result.tables, failures = validate_tables(result.tables, context)
    result.row_failures += len(failures)
    return result
