"""`news-etl serve`: the ingest flow as a Prefect deployment on a schedule.

Scheduled runs need a real Prefect API (the ephemeral one cannot run schedules). With no
`PREFECT_API_URL` configured, `embedded_server` starts `prefect server start` on 127.0.0.1
for as long as the flow is served, in its own process group, and stops that group on exit.
"""

import contextlib
import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

FLOW_NAME = "news-etl-ingest"
SERVER_HOST = "127.0.0.1"
SERVER_START_TIMEOUT_SECONDS = 180.0  # about 7 s warm, 20 s on first start (migrations)
SERVER_STOP_TIMEOUT_SECONDS = 20.0
# Served runs retry the whole (incremental) flow after a transient failure; an explicit
# `retries=` on the flow, or these variables set by the user, win.
FLOW_RETRY_ENVIRONMENT = {
    "PREFECT_FLOWS_DEFAULT_RETRIES": "2",
    "PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS": "30",
}
_PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """The embedded Prefect server exited or did not become healthy in time."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Exactly one of `cron` (a cron expression, UTC) and `interval_seconds` is set."""

    cron: str | None = None
    interval_seconds: float | None = None

    def describe(self) -> str:
        if self.cron is not None:
            return f"on cron '{self.cron}' (UTC)"
        return f"every {self.interval_seconds:g} s"


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    api_url: str
    pid: int
    state_dir: Path


def default_deployment_name(warehouse: Path) -> str:
    """One deployment per warehouse: its folder name and a short hash of its absolute path."""
    resolved = warehouse.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return f"{resolved.name or 'warehouse'}-{digest}"


def deployment_parameters(
    sources: list[str],
    warehouse: Path,
    catalog: str | None = None,
    batch_size: int | None = None,
    runner: str = "local",
    dask_address: str | None = None,
) -> dict[str, object]:
    """Parameters of every scheduled run; local paths made absolute (runs start elsewhere)."""
    parameters: dict[str, object] = {
        "sources": [
            source if "://" in source else str(Path(source).resolve()) for source in sources
        ],
        "warehouse": str(warehouse.resolve()),
        "runner": runner,
    }
    optional = {"catalog": catalog, "batch_size": batch_size, "dask_address": dask_address}
    parameters.update({key: value for key, value in optional.items() if value is not None})
    return parameters


def free_port(host: str = SERVER_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's child process: get SIGTERM if news-etl dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_healthy(
    api_url: str, process: subprocess.Popen, log_path: Path, timeout: float
) -> None:
    """Poll `GET /api/health` until it answers, the server exits, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"Prefect server exited with code {process.returncode} before it was healthy "
                f"(log: {log_path})"
            )
        if _healthy(api_url):
            return
        time.sleep(0.25)
    raise ServerStartError(f"Prefect server not healthy after {timeout:.0f} s (log: {log_path})")


def stop_process_group(
    process: subprocess.Popen, timeout: float = SERVER_STOP_TIMEOUT_SECONDS
) -> None:
    """SIGTERM the process group led by `process`, then SIGKILL what is left after `timeout`."""
    for signal_number, wait_seconds in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal_number)
        try:
            process.wait(wait_seconds)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything the server itself left behind
        return


@contextlib.contextmanager
def embedded_server(
    state_dir: Path, timeout: float = SERVER_START_TIMEOUT_SECONDS
) -> Iterator[EmbeddedServer]:
    """A `prefect server start` on a free local port, its state in `state_dir`, stopped on exit."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://{SERVER_HOST}:{port}/api"
    environment = {
        **os.environ,
        "PREFECT_HOME": str(state_dir.resolve()),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    environment.pop("PREFECT_API_URL", None)
    log_path = state_dir / "server.log"
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", SERVER_HOST, "--port", str(port), "--analytics-off"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        wait_until_healthy(api_url, process, log_path, timeout)
        yield EmbeddedServer(api_url=api_url, pid=process.pid, state_dir=state_dir)
    finally:
        stop_process_group(process)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Let a clean-up finish even if a second Ctrl-C or SIGTERM arrives."""
    previous = {
        number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _raise_keyboard_interrupt(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal_number}")


def serve_ingest(
    parameters: dict[str, object],
    schedule: Schedule,
    name: str,
    state_dir: Path,
    announce: Callable[[str], object] = print,
) -> None:
    """Serve the ingest flow on `schedule` until SIGTERM or Ctrl-C.

    Runs of the deployment never overlap: the runner takes one at a time and the deployment
    has a concurrency limit of 1 (runs that come due meanwhile wait in the queue).
    """
    for key, value in FLOW_RETRY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # Until Prefect's runner installs its own handler, SIGTERM unwinds like Ctrl-C, so the
    # embedded server is stopped whenever it arrives.
    previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    stack = contextlib.ExitStack()
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        api_url = PREFECT_API_URL.value()
        if api_url:
            announce(f"using the Prefect server at {api_url}")
        else:
            server = stack.enter_context(embedded_server(state_dir))
            api_url = server.api_url
            os.environ["PREFECT_API_URL"] = api_url  # for the flow runs Prefect starts
            stack.callback(os.environ.pop, "PREFECT_API_URL", None)
            stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
            stack.callback(announce, "stopped the Prefect server")
            announce(
                f"started a Prefect server at {api_url} (pid {server.pid}, state in "
                f"{state_dir}; UI at {api_url.removesuffix('/api')})"
            )
        announce(f"serving {FLOW_NAME}/{name} {schedule.describe()}; stop with Ctrl-C or SIGTERM")
        _serve(parameters, schedule, name)
    except KeyboardInterrupt:
        pass
    finally:
        with _signals_ignored():
            stack.close()
        signal.signal(signal.SIGTERM, previous_handler)


def _serve(parameters: dict[str, object], schedule: Schedule, name: str) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.types.entrypoint import EntrypointType

    from flows.ingest import ingest

    ingest.serve(
        name=name,
        cron=schedule.cron,
        interval=schedule.interval_seconds,
        parameters=parameters,
        paused=False,  # a restarted serve resumes the schedule its last stop paused
        global_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        ),
        limit=1,
        description="news-etl ingest on a schedule (news-etl serve)",
        tags=["news-etl"],
        print_starting_message=False,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
