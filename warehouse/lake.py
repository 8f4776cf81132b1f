"""The warehouse: a DuckLake (Parquet data files plus a DuckDB catalog) under one folder.

Layout: `<root>/catalog.ducklake` (the catalog, a DuckDB database) and `<root>/data/` (Parquet
files, one folder per table). A run lands all its tables in one transaction, so readers see all
of a run or none of it; a crash before COMMIT leaves the warehouse as it was.
"""

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import duckdb_extensions
import pyarrow as pa

from schemas.arrow import duckdb_columns
from schemas.tables import TABLE_MODELS

LOGGER = logging.getLogger(__name__)
CATALOG_NAME = "lake"
CATALOG_FILE = "catalog.ducklake"
DATA_DIR = "data"
LOCK_FILE = ".write.lock"


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message says why in one line."""


def catalog_path(root: Path) -> Path:
    return root / CATALOG_FILE


def _load_ducklake(connection: duckdb.DuckDBPyConnection) -> None:
    try:
        connection.execute("LOAD ducklake")
    except duckdb.Error:
        duckdb_extensions.import_extension("ducklake")  # installs the packaged, signed extension
        connection.execute("LOAD ducklake")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def check_writable(root: Path) -> None:
    """Raise WarehouseError with a one-line reason unless the warehouse folder can be written."""
    try:
        (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WarehouseError(f"warehouse is not writable: {root} ({error.strerror})") from error
    if not os.access(root, os.W_OK) or not os.access(root / DATA_DIR, os.W_OK):
        raise WarehouseError(f"warehouse is not writable: {root} (permission denied)")


def connect(root: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the lake attached and selected (`USE lake`)."""
    root = Path(root)
    if read_only and not catalog_path(root).exists():
        raise WarehouseError(f"no warehouse at {root}: run `news-etl run` first")
    if not read_only:
        check_writable(root)
    connection = duckdb.connect(":memory:")
    _load_ducklake(connection)
    options = "READ_ONLY" if read_only else f"DATA_PATH '{(root / DATA_DIR).resolve()}/'"
    catalog = str(catalog_path(root).resolve()).replace("'", "''")
    try:
        connection.execute(f"ATTACH 'ducklake:{catalog}' AS {CATALOG_NAME} ({options})")
    except duckdb.Error as error:
        connection.close()
        raise WarehouseError(f"cannot open the warehouse at {root}: {error}") from error
    connection.execute(f"USE {CATALOG_NAME}")
    return connection


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create any missing table from the pandera-derived column types."""
    for table in TABLE_MODELS:
        columns = ", ".join(f"{_quote(name)} {kind}" for name, kind in duckdb_columns(table))
        connection.execute(f"CREATE TABLE IF NOT EXISTS {_quote(table)} ({columns})")


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock: one run lands at a time; others wait."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def landed_keys(root: Path) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Content hashes already landed, and (source_uri, hash) pairs already quarantined."""
    if not catalog_path(root).exists():
        return frozenset(), frozenset()
    connection = connect(root, read_only=True)
    try:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if "articles" not in tables:
            return frozenset(), frozenset()
        hashes = connection.execute("SELECT content_sha256 FROM articles").fetchall()
        quarantined = connection.execute(
            "SELECT source_uri, content_sha256 FROM quarantine WHERE content_sha256 IS NOT NULL"
        ).fetchall()
    finally:
        connection.close()
    return frozenset(row[0] for row in hashes), frozenset(
        (uri, digest) for uri, digest in quarantined
    )


def land_tables(root: Path, tables: dict[str, pa.Table]) -> int:
    """Insert every table in one transaction; return the DuckLake snapshot id it created."""
    connection = connect(root)
    try:
        ensure_tables(connection)
        connection.execute("BEGIN TRANSACTION")
        for table, rows in tables.items():
            if rows.num_rows == 0:
                continue
            connection.register("staged_rows", rows)
            names = ", ".join(_quote(name) for name in rows.schema.names)
            connection.execute(
                f"INSERT INTO {_quote(table)} ({names}) SELECT {names} FROM staged_rows"
            )
            connection.unregister("staged_rows")
        connection.execute("COMMIT")
        snapshot = connection.execute(
            f"SELECT max(snapshot_id) FROM ducklake_snapshots('{CATALOG_NAME}')"
        ).fetchone()[0]
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    return int(snapshot)
