"""Shared fixtures: offline Prefect in a temp home, one test harness per session."""

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports Prefect: keep it offline and out of the user's ~/.prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="news-etl-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
GOLDEN = REPO / "tests" / "golden"
EVAL_DEV = REPO.parent / "shared" / "eval" / "dev"


def query_warehouse(
    warehouse: Path, sql: str, snapshot: int | None = None, params: list | None = None
) -> list[tuple]:
    """Rows of a read-only query against a test warehouse (optionally as of a snapshot)."""
    from warehouse.lake import connect

    connection = connect(warehouse, read_only=True, snapshot=snapshot)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/ from the current code"
    )


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes seconds to start)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=60),
    ):
        yield


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
