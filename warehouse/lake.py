"""The warehouse: a DuckLake (Parquet data files plus a catalog database) under one folder.

Layout: the catalog, `<root>/catalog.ducklake` (a DuckDB database, the default) or
`<root>/catalog.sqlite` (a SQLite database, chosen when the warehouse is created), and
`<root>/data/` (Parquet files, one folder per table). The catalog file present tells the kind,
so readers never need to be told it. A run lands all its tables in one transaction, so readers
see all of a run or none of it; a crash before COMMIT leaves the warehouse as it was.

Concurrency: writers take `<root>/.write.lock` (an fcntl lock, released by the kernel when the
process dies, so a killed run never blocks the next one). The DuckDB catalog file itself admits
one process at a time (DuckDB's own file lock); `connect` waits for it instead of failing, so a
reader and a writer in two processes take turns. A SQLite catalog admits several processes at
once: readers attach while a run is landing and see the last committed snapshot.

Snapshot ids: a run's commit creates exactly one DuckLake snapshot. Under the writer lock no
other commit can come between, so that snapshot is the latest one plus one; `land_tables`
writes it into the `runs` row of the same transaction, names the run in the snapshot's commit
message, and checks the two agree after COMMIT.
"""

import contextlib
import fcntl
import json
import logging
import os
import time
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
# Catalog kinds: the file each keeps under the root, and the prefix its ATTACH string takes.
# A postgres warehouse keeps its libpq connection string in catalog.postgres (not a password:
# use ~/.pgpass or PGPASSWORD), so readers find the catalog the same way as the others.
CATALOG_FILES = {"duckdb": CATALOG_FILE, "sqlite": "catalog.sqlite", "postgres": "catalog.postgres"}
CATALOG_PREFIXES = {
    "duckdb": "ducklake:",
    "sqlite": "ducklake:sqlite:",
    "postgres": "ducklake:postgres:",
}
CATALOG_EXTENSIONS = {
    "duckdb": ("ducklake",),
    "sqlite": ("ducklake", "sqlite"),
    "postgres": ("ducklake", "postgres"),
}
CATALOG_DSN_VARIABLE = "NEWS_ETL_CATALOG_DSN"
DEFAULT_CATALOG = "duckdb"
DATA_DIR = "data"
LOCK_FILE = ".write.lock"
COMMIT_AUTHOR = "news-etl"
# Test-only hook: seconds to sleep after the inserts and before COMMIT (kill -9 tests).
PAUSE_BEFORE_COMMIT_VARIABLE = "NEWS_ETL_PAUSE_BEFORE_COMMIT"
PAUSE_MESSAGE = "news-etl: pausing before commit"
# How long to wait for another process that has the catalog file open.
CATALOG_WAIT_SECONDS = 120.0
# Another process holds the catalog: DuckDB's file lock, or SQLite's lock during a commit.
_LOCK_CONFLICTS = ("Could not set lock on file", "database is locked")


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message says why in one line."""


def existing_catalog(root: Path) -> str | None:
    """The kind of the warehouse's catalog (`duckdb` or `sqlite`), or None if it has none."""
    found = [kind for kind, name in CATALOG_FILES.items() if (Path(root) / name).exists()]
    if len(found) > 1:
        raise WarehouseError(f"warehouse at {root} has two catalogs: {', '.join(found)}")
    return found[0] if found else None


def catalog_kind(root: Path, requested: str | None = None) -> str:
    """The catalog kind to open: the existing one, else `requested`, else the default.

    Raises WarehouseError for an unknown kind, or one that differs from the existing catalog
    (the kind is chosen once, when the warehouse is created).
    """
    if requested is not None and requested not in CATALOG_FILES:
        raise WarehouseError(
            f"unknown catalog {requested!r}; choose one of: {', '.join(CATALOG_FILES)}"
        )
    existing = existing_catalog(root)
    if existing is not None and requested is not None and requested != existing:
        raise WarehouseError(
            f"warehouse at {root} has a {existing} catalog ({CATALOG_FILES[existing]}); "
            f"the catalog kind ({requested}) is chosen only when a warehouse is created"
        )
    return existing or requested or DEFAULT_CATALOG


def load_extension(connection: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension, installing it from its offline package the first time."""
    try:
        connection.execute(f"LOAD {name}")
    except duckdb.Error:
        duckdb_extensions.import_extension(name)  # installs the packaged, signed extension
        connection.execute(f"LOAD {name}")


def quote(identifier: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check_writable(root: Path) -> None:
    """Raise WarehouseError with a one-line reason unless the warehouse folder can be written."""
    try:
        (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WarehouseError(f"warehouse is not writable: {root} ({error.strerror})") from error
    if not os.access(root, os.W_OK) or not os.access(root / DATA_DIR, os.W_OK):
        raise WarehouseError(f"warehouse is not writable: {root} (permission denied)")


def _attach(connection: duckdb.DuckDBPyConnection, statement: str, wait_seconds: float) -> None:
    """ATTACH, retrying while another process holds the catalog file."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            connection.execute(statement)
            return
        except duckdb.Error as error:
            conflict = any(text in str(error) for text in _LOCK_CONFLICTS)
            if not conflict or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def connect(
    root: Path,
    read_only: bool = False,
    snapshot: int | None = None,
    wait_seconds: float = CATALOG_WAIT_SECONDS,
    catalog: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the lake attached and selected (`USE lake`).

    Args:
        snapshot: read the warehouse as it was at this DuckLake snapshot (read-only).
        wait_seconds: how long to wait while another process has the catalog open.
        catalog: catalog kind for a new warehouse (`duckdb` or `sqlite`); an existing
            warehouse keeps its own, and asking for another raises WarehouseError.
    """
    connection = duckdb.connect(":memory:")
    try:
        attach(connection, root, read_only, snapshot, wait_seconds, catalog)
    except BaseException:
        connection.close()
        raise
    connection.execute(f"USE {CATALOG_NAME}")
    return connection


def attach(
    connection: duckdb.DuckDBPyConnection,
    root: Path,
    read_only: bool = False,
    snapshot: int | None = None,
    wait_seconds: float = CATALOG_WAIT_SECONDS,
    catalog: str | None = None,
) -> None:
    """Attach the warehouse to `connection` as `lake`: the one place that builds the ATTACH."""
    root = Path(root)
    if (read_only or snapshot is not None) and existing_catalog(root) is None:
        raise WarehouseError(f"no warehouse at {root}: run `news-etl run` first")
    kind = catalog_kind(root, catalog)
    if not read_only and snapshot is None:
        check_writable(root)
    for extension in CATALOG_EXTENSIONS[kind]:
        load_extension(connection, extension)
    if snapshot is not None:
        options = f"READ_ONLY, SNAPSHOT_VERSION {int(snapshot)}"
    elif read_only:
        options = "READ_ONLY"
    else:
        # No inlining: every row is in a Parquet file that any engine can read.
        data_path = _literal(f"{(root / DATA_DIR).resolve()}/")
        options = f"DATA_PATH {data_path}, DATA_INLINING_ROW_LIMIT 0"
    path = (root / CATALOG_FILES[kind]).resolve()
    location = _postgres_dsn(root, path) if kind == "postgres" else str(path)
    target = _literal(f"{CATALOG_PREFIXES[kind]}{location}")
    try:
        _attach(connection, f"ATTACH {target} AS {CATALOG_NAME} ({options})", wait_seconds)
    except duckdb.Error as error:
        reason = str(error).splitlines()[0]
        raise WarehouseError(f"cannot open the warehouse at {root}: {reason}") from error
    if kind == "postgres" and not path.exists():
        path.write_text(location + "\n", encoding="utf-8")


def _postgres_dsn(root: Path, marker: Path) -> str:
    """The connection string of a postgres catalog: from its marker file, else the setting."""
    if marker.exists():
        return marker.read_text(encoding="utf-8").strip()
    dsn = os.environ.get(CATALOG_DSN_VARIABLE, "").strip()
    if not dsn:
        raise WarehouseError(
            f"a postgres catalog needs {CATALOG_DSN_VARIABLE}, e.g. "
            "'dbname=lake host=127.0.0.1 user=news_etl', for the new warehouse at " + str(root)
        )
    return dsn


def _existing_columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = connection.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_name = ? ORDER BY ordinal_position",
        [CATALOG_NAME, table],
    ).fetchall()
    return [row[0] for row in rows]


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and add missing columns (a migration old readers survive)."""
    for table in TABLE_MODELS:
        existing = _existing_columns(connection, table)
        if not existing:
            columns = ", ".join(f"{quote(name)} {kind}" for name, kind in duckdb_columns(table))
            connection.execute(f"CREATE TABLE {quote(table)} ({columns})")
            continue
        for name, kind in duckdb_columns(table):
            if name not in existing:
                LOGGER.info("adding column %s.%s %s", table, name, kind)
                connection.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} {kind}")


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock: one run lands at a time; others wait.

    The lock is an fcntl lock on `.write.lock`: the kernel drops it when the holder exits or is
    killed, so a file left behind by a killed run never blocks the next one.
    """
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def landed_keys(root: Path) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Content hashes already landed, and (source_uri, hash) pairs already quarantined."""
    if existing_catalog(root) is None:
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


def learned_line_counts(root: Path) -> dict[tuple[str, str], int]:
    """Pages seen per (source_key, line_key) over all landed runs (learned boilerplate)."""
    if existing_catalog(root) is None:
        return {}
    connection = connect(root, read_only=True)
    try:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if "learned_lines" not in tables:
            return {}
        rows = connection.execute(
            "SELECT source_key, line_key, sum(doc_count) FROM learned_lines GROUP BY ALL"
        ).fetchall()
    finally:
        connection.close()
    return {(source, key): int(count) for source, key, count in rows}


def latest_snapshot(connection: duckdb.DuckDBPyConnection) -> int:
    """The id of the newest snapshot of the attached lake."""
    return int(
        connection.execute(
            f"SELECT max(snapshot_id) FROM ducklake_snapshots({_literal(CATALOG_NAME)})"
        ).fetchone()[0]
    )


def _with_snapshot_id(runs: pa.Table, snapshot_id: int) -> pa.Table:
    if "snapshot_id" not in runs.schema.names:
        return runs
    index = runs.schema.get_field_index("snapshot_id")
    values = pa.array([snapshot_id] * runs.num_rows, type=runs.schema.field(index).type)
    return runs.set_column(index, runs.schema.field(index), values)


def _pause_before_commit() -> None:
    seconds = os.environ.get(PAUSE_BEFORE_COMMIT_VARIABLE)
    if seconds:
        os.write(2, f"{PAUSE_MESSAGE} for {seconds} s\n".encode())
        time.sleep(float(seconds))


def _snapshot_of_run(connection: duckdb.DuckDBPyConnection, extra_info: str) -> int | None:
    row = connection.execute(
        f"SELECT max(snapshot_id) FROM ducklake_snapshots({_literal(CATALOG_NAME)}) "
        "WHERE commit_extra_info = ?",
        [extra_info],
    ).fetchone()
    return None if row[0] is None else int(row[0])


def land_tables(
    root: Path,
    tables: dict[str, pa.Table],
    run_id: str | None = None,
    catalog: str | None = None,
) -> int:
    """Insert every table in one transaction; return the DuckLake snapshot id it created.

    Call it while holding `write_lock(root)`: the `runs` rows get the id of the snapshot this
    commit creates (the latest plus one), which only holds when no other writer commits.
    `catalog` is the catalog kind, used when this landing creates the warehouse.
    """
    connection = connect(root, catalog=catalog)
    extra = json.dumps({"run_id": run_id})
    try:
        if run_id is not None:
            done = _snapshot_of_run(connection, extra)
            if done is not None:  # a retry after a commit that went through: land nothing twice
                LOGGER.info("run %s already landed in snapshot %d", run_id, done)
                return done
        ensure_tables(connection)
        connection.execute("BEGIN TRANSACTION")
        expected = latest_snapshot(connection) + 1
        for table, rows in tables.items():
            if table == "runs":
                rows = _with_snapshot_id(rows, expected)
            if rows.num_rows == 0:
                continue
            connection.register("staged_rows", rows)
            names = ", ".join(quote(name) for name in rows.schema.names)
            connection.execute(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM staged_rows"
            )
            connection.unregister("staged_rows")
        connection.execute(
            f"CALL {CATALOG_NAME}.set_commit_message(?, ?, extra_info => ?)",
            [COMMIT_AUTHOR, f"run {run_id}", extra],
        )
        _pause_before_commit()
        connection.execute("COMMIT")
        snapshot = latest_snapshot(connection)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    if snapshot != expected:  # another writer committed without the lock
        LOGGER.error("run %s committed snapshot %d, recorded %d", run_id, snapshot, expected)
    return snapshot


def resolve_snapshot(root: Path, run_or_snapshot: str) -> int:
    """The snapshot id named by a number, or the snapshot a run (by run_id) committed."""
    text = run_or_snapshot.strip()
    connection = connect(root, read_only=True)
    try:
        if text.isdigit():
            snapshot = int(text)
            known = connection.execute(
                f"SELECT count(*) FROM ducklake_snapshots({_literal(CATALOG_NAME)}) "
                "WHERE snapshot_id = ?",
                [snapshot],
            ).fetchone()[0]
            if not known:
                raise WarehouseError(f"no snapshot {snapshot} in the warehouse (expired?)")
            return snapshot
        row = connection.execute("SELECT snapshot_id FROM runs WHERE run_id = ?", [text]).fetchone()
    finally:
        connection.close()
    if row is None or row[0] is None:
        raise WarehouseError(f"no run {text!r} with a recorded snapshot in the warehouse")
    return int(row[0])
