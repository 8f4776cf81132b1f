"""The warehouse with its DuckLake catalog in a real PostgreSQL server (started by the test).

Skips where no PostgreSQL server binaries are installed; .ci/run installs Debian's postgresql.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest
from conftest import SEEDS

from warehouse.lake import CATALOG_DSN_VARIABLE, WarehouseError, connect

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = pytest.mark.skipif(not BINARIES, reason="PostgreSQL server binaries not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="module")
def postgres_dsn():
    bin_dir = BINARIES[-1]
    # Not under pytest's temp folder: that is private to the user running the tests.
    data = tempfile.mkdtemp(prefix="news-etl-pgdata-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres_user([f"{bin_dir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    log = f"{data}/server.log"
    start = [f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "-t", "60", "start"]
    # No pipes: the server would inherit them and run() would wait for it to close them.
    subprocess.run(
        _as_postgres_user(start), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        subprocess.run(
            _as_postgres_user(
                [
                    f"{bin_dir}/createdb",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "lake",
                ]
            ),
            check=True,
            capture_output=True,
        )
        yield f"dbname=lake host=127.0.0.1 port={port} user=postgres"
    finally:
        stop = [f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(_as_postgres_user(stop), check=True, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_a_new_postgres_warehouse_needs_a_connection_string(tmp_path, monkeypatch):
    monkeypatch.delenv(CATALOG_DSN_VARIABLE, raising=False)
    with pytest.raises(WarehouseError, match=CATALOG_DSN_VARIABLE):
        connect(tmp_path / "wh", catalog="postgres")


def test_runs_land_in_a_postgres_catalog(postgres_dsn, tmp_path, monkeypatch, prefect_harness):
    from flows.ingest import ingest

    monkeypatch.setenv(CATALOG_DSN_VARIABLE, postgres_dsn)
    warehouse = tmp_path / "wh"
    first = ingest(sources=[str(SEEDS)], warehouse=str(warehouse), catalog="postgres")
    assert first.articles_landed == 5
    assert (warehouse / "catalog.postgres").read_text().strip() == postgres_dsn
    monkeypatch.delenv(CATALOG_DSN_VARIABLE)  # readers and later runs find it in the warehouse
    second = ingest(sources=[str(SEEDS)], warehouse=str(warehouse))
    assert (second.articles_landed, second.files_skipped) == (0, 5)
    connection = connect(warehouse, read_only=True)
    try:
        assert connection.execute("select count(*) from articles").fetchone() == (5,)
        assert connection.execute("select count(*) from runs").fetchone() == (2,)
    finally:
        connection.close()
    assert list((warehouse / "data").rglob("*.parquet")), "data files stay local Parquet"
