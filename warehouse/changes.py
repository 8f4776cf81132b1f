"""The change feed: rows inserted into a table since a snapshot, exported to a file."""

import logging
from dataclasses import dataclass
from pathlib import Path

from schemas.tables import TABLE_MODELS
from warehouse.lake import CATALOG_NAME, WarehouseError, connect, latest_snapshot, quote

LOGGER = logging.getLogger(__name__)
EXPORT_FORMATS = {
    "parquet": "FORMAT parquet",
    "csv": "FORMAT csv, HEADER true",
    "jsonl": "FORMAT json, ARRAY false",
}


@dataclass(frozen=True, slots=True)
class ChangeExport:
    """What an export wrote: rows inserted after `since` up to and including `until`."""

    table: str
    since: int
    until: int
    rows: int
    path: Path


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_changes(
    root: Path, table: str, since: int, out: Path, output_format: str = "parquet"
) -> ChangeExport:
    """Write the rows of `table` inserted after snapshot `since` to `out`.

    Pass the returned `until` as the next `since`: consecutive pulls neither miss nor repeat a
    row, because every run's rows arrive in exactly one snapshot.
    """
    if table not in TABLE_MODELS:
        raise WarehouseError(f"unknown table {table!r}; tables: {', '.join(TABLE_MODELS)}")
    if output_format not in EXPORT_FORMATS:
        raise WarehouseError(f"unknown format {output_format!r}")
    connection = connect(root, read_only=True)
    try:
        until = latest_snapshot(connection)
        start = connection.execute(
            f"SELECT min(snapshot_id) FROM ducklake_snapshots({_literal(CATALOG_NAME)}) "
            "WHERE snapshot_id > ?",
            [since],
        ).fetchone()[0]
        if start is None:  # nothing committed since
            source = f"SELECT * FROM {quote(table)} LIMIT 0"
        else:
            source = (
                f"SELECT * FROM ducklake_table_insertions({_literal(CATALOG_NAME)}, 'main', "
                f"{_literal(table)}, {int(start)}, {int(until)})"
            )
        rows = connection.execute(f"SELECT count(*) FROM ({source})").fetchone()[0]
        out.parent.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"COPY ({source}) TO {_literal(str(out))} ({EXPORT_FORMATS[output_format]})"
        )
    finally:
        connection.close()
    LOGGER.info("exported %d %s rows after snapshot %d to %s", rows, table, since, out)
    return ChangeExport(table=table, since=since, until=until, rows=rows, path=out)
