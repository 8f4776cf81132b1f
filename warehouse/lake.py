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
other commit can come between, so that snapshot is the latest one plus one; `Landing.commit`
writes it into the `runs` row of the same transaction, names the run in the snapshot's commit
message, and checks the two agree after COMMIT.

Landing a run: `open_landing` begins the transaction, the flow `add`s each batch's rows as the
batch finishes (DuckLake writes their Parquet files right away, so a run holds one batch in
memory, not all of them), then `commit`s once with the `runs` row. Until then nothing is
visible, and a crash or kill leaves only unreferenced files that `compact` deletes.
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
    from warehouse import object_store  # imports this module

    root = Path(root)
    exists = existing_catalog(root) is not None
    if (read_only or snapshot is not None) and not exists:
        raise WarehouseError(f"no warehouse at {root}: run `news-etl run` first")
    kind = catalog_kind(root, catalog)
    if not read_only and snapshot is None:
        check_writable(root)
    for extension in CATALOG_EXTENSIONS[kind]:
        load_extension(connection, extension)
    local_data = f"{(root / DATA_DIR).resolve()}/"
    try:  # <root>/data/, or s3://... (then httpfs and an S3 secret, also for readers)
        data_path = object_store.warehouse_data_path(root, exists, local_data)
        object_store.configure_duckdb(connection, data_path)
    except object_store.ObjectStoreError as error:
        raise WarehouseError(str(error)) from error
    if snapshot is not None:
        options = f"READ_ONLY, SNAPSHOT_VERSION {int(snapshot)}"
    elif read_only:
        options = "READ_ONLY"
    else:
        # No inlining: every row is in a Parquet file that any engine can read.
        options = f"DATA_PATH {_literal(data_path)}, DATA_INLINING_ROW_LIMIT 0"
        object_store.record_data_path(root, data_path)
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


def settled_file_states(root: Path, outcome: str) -> Iterator[tuple[str, str, str]]:
    """The states (`tasks.read.engine.file_state`) of the files earlier runs settled as
    `outcome` ('landed' or 'quarantined'), streamed: a large warehouse holds millions."""
    if existing_catalog(root) is None:
        return
    connection = connect(root, read_only=True)
    try:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if "source_files" not in tables:
            return
        reader = connection.execute(
            "SELECT source_uri, CAST(size_bytes AS VARCHAR), CAST(modified_ns AS VARCHAR) "
            "FROM source_files WHERE settled_as = ?",
            [outcome],
        ).to_arrow_reader(100_000)
        for batch in reader:
            yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)
    finally:
        connection.close()


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


class Landing:
    """One run's landing: an open DuckLake transaction that batches are added to.

    Get one from `open_landing`. `add` inserts a batch's rows (DuckLake writes their Parquet
    files at once, so memory holds one batch, not the run); `commit` inserts the `runs` rows
    with the snapshot id the commit creates and commits. Leaving `open_landing` without
    `commit` rolls everything back: readers never see a part of a run.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection | None,
        run_id: str | None,
        expected_snapshot: int,
        landed_before: bool = False,
    ) -> None:
        self._connection = connection
        self._run_id = run_id
        self._expected_snapshot = expected_snapshot
        self.landed_before = landed_before  # this run_id committed earlier: land nothing twice
        self.committed = landed_before
        self.rows_added: dict[str, int] = {}

    @property
    def expected_snapshot(self) -> int:
        """The snapshot id this landing's commit creates."""
        return self._expected_snapshot

    def _insert(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        # Read through DuckDB's replacement scan of this local variable: a `register`ed table
        # would stay referenced until COMMIT, keeping every batch of the run in memory.
        staged_rows = rows  # noqa: F841 - read by name in the SQL below
        names = ", ".join(quote(name) for name in rows.schema.names)
        self._connection.execute(
            f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM staged_rows"
        )
        self.rows_added[table] = self.rows_added.get(table, 0) + rows.num_rows

    def add(self, tables: dict[str, pa.Table]) -> None:
        """Insert one batch's rows, table by table, into the open transaction."""
        if self.committed:
            if self.landed_before:
                return
            raise WarehouseError("this landing is already committed")
        for table, rows in tables.items():
            if table == "runs":
                rows = _with_snapshot_id(rows, self._expected_snapshot)
            self._insert(table, rows)

    def commit(self, runs: pa.Table | None = None) -> int:
        """Insert the `runs` rows (with this commit's snapshot id), commit, return the id."""
        if self.committed and not self.landed_before:
            raise WarehouseError("this landing is already committed")
        if self.landed_before:
            LOGGER.info(
                "run %s already landed in snapshot %d", self._run_id, self.expected_snapshot
            )
            return self._expected_snapshot
        if runs is not None:
            self.add({"runs": runs})
        connection = self._connection
        connection.execute(
            f"CALL {CATALOG_NAME}.set_commit_message(?, ?, extra_info => ?)",
            [COMMIT_AUTHOR, f"run {self._run_id}", _commit_info(self._run_id)],
        )
        _pause_before_commit()
        connection.execute("COMMIT")
        self.committed = True
        snapshot = latest_snapshot(connection)
        if snapshot != self._expected_snapshot:  # another writer committed without the lock
            LOGGER.error(
                "run %s committed snapshot %d, recorded %d",
                self._run_id,
                snapshot,
                self._expected_snapshot,
            )
        return snapshot


def _commit_info(run_id: str | None) -> str:
    return json.dumps({"run_id": run_id})


@contextlib.contextmanager
def open_landing(
    root: Path, run_id: str | None = None, catalog: str | None = None
) -> Iterator[Landing]:
    """Open one transaction for a run's rows: `add` each batch, then `commit` once.

    Call it while holding `write_lock(root)`: the `runs` rows get the id of the snapshot the
    commit creates (the latest plus one), which only holds when no other writer commits. A
    DuckDB catalog stays open (and other processes wait for it) until the block ends.
    `catalog` is the catalog kind, used when this landing creates the warehouse. If `run_id`
    already committed (a retry after a commit that went through), the landing adds nothing and
    `commit` returns that snapshot.
    """
    connection = connect(root, catalog=catalog)
    try:
        if run_id is not None:
            done = _snapshot_of_run(connection, _commit_info(run_id))
            if done is not None:
                yield Landing(None, run_id, done, landed_before=True)
                return
        ensure_tables(connection)
        from warehouse.stories import ensure_story_views  # it imports this module

        ensure_story_views(connection)
        connection.execute("BEGIN TRANSACTION")
        landing = Landing(connection, run_id, latest_snapshot(connection) + 1)
        yield landing
        if not landing.committed:
            connection.execute("ROLLBACK")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


def land_tables(
    root: Path,
    tables: dict[str, pa.Table],
    run_id: str | None = None,
    catalog: str | None = None,
) -> int:
    """Insert every table in one transaction; return the DuckLake snapshot id it created.

    Call it while holding `write_lock(root)` (see `open_landing`, which it uses).
    """
    with open_landing(root, run_id, catalog) as landing:
        landing.add({table: rows for table, rows in tables.items() if table != "runs"})
        return landing.commit(tables.get("runs"))


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
