"""`news-etl serve`: scheduled runs on an embedded Prefect server, stopped without orphans."""

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, SEEDS, query_warehouse

from flows import serve
from flows.serve import (
    EmbeddedServer,
    Schedule,
    ServerStartError,
    default_deployment_name,
    deployment_parameters,
    serve_ingest,
    stop_process_group,
    wait_until_healthy,
)
from warehouse.lake import WarehouseError

SEED_FILES = sorted(SEEDS.glob("*.txt"))
MARKER_VARIABLE = "NEWS_ETL_SERVE_TEST"
SHUTDOWN_SECONDS = 120  # measured about 8 s; generous for a loaded 2-core machine
needs_proc = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def _wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _processes_in_group(group: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def _processes_marked(marker: str) -> list[int]:
    """Live processes whose environment carries the marker: a process and all it started."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if needle in environ.read_bytes().split(b"\0") and _alive(int(environ.parent.name)):
                found.append(int(environ.parent.name))
    return found


def test_deployment_parameters_make_local_paths_absolute_and_keep_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parameters = deployment_parameters(["inbox", "s3://bucket/news"], Path("wh"), batch_size=50)
    assert parameters == {
        "sources": [str(tmp_path / "inbox"), "s3://bucket/news"],
        "warehouse": str(tmp_path / "wh"),
        "runner": "local",
        "batch_size": 50,  # options left unset are left to the flow's defaults
    }


def test_each_warehouse_gets_its_own_deployment_name(tmp_path):
    first, second = tmp_path / "a" / "wh", tmp_path / "b" / "wh"
    assert default_deployment_name(first) == default_deployment_name(first)
    assert default_deployment_name(first) != default_deployment_name(second)
    assert default_deployment_name(first).startswith("wh-")


@needs_proc
def test_stopping_the_server_group_leaves_no_process_behind():
    # A leader that ignores SIGTERM, with a child of its own: SIGTERM, then SIGKILL, reach both.
    script = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        "print('ready', flush=True); time.sleep(300)"
    )
    leader = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert leader.stdout.readline().strip() == "ready"
    _wait_for(lambda: len(_processes_in_group(leader.pid)) == 2, 10, "the child to start")
    started = time.monotonic()
    stop_process_group(leader, timeout=1.0)
    assert time.monotonic() - started < 15
    assert leader.returncode == -signal.SIGKILL
    _wait_for(lambda: not _processes_in_group(leader.pid), 10, "the group to be gone")


def test_a_server_that_exits_early_is_reported(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ServerStartError, match="exited with code 3"):
        wait_until_healthy("http://127.0.0.1:9/api", process, tmp_path / "server.log", 60)


@pytest.fixture
def fake_serving(monkeypatch):
    """Stand-ins for the server and the Prefect runner: record what serve_ingest does."""
    from prefect.settings import PREFECT_API_URL

    events: list[tuple] = []

    @contextlib.contextmanager
    def embedded_server(state_dir: Path) -> Iterator[EmbeddedServer]:
        events.append(("server started", state_dir))
        try:
            yield EmbeddedServer("http://127.0.0.1:4999/api", pid=12345, state_dir=state_dir)
        finally:
            events.append(("server stopped",))

    def run(parameters, schedule, name):
        events.append(("served", name, os.environ.get("PREFECT_API_URL"), PREFECT_API_URL.value()))
        if name == "interrupted":
            raise KeyboardInterrupt

    monkeypatch.setattr(serve, "embedded_server", embedded_server)
    monkeypatch.setattr(serve, "_serve", run)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for variable in serve.FLOW_RETRY_ENVIRONMENT:
        monkeypatch.setenv(variable, "0")  # restored after the test
    return events


@pytest.mark.parametrize("name", ["returns", "interrupted"])
def test_without_an_api_url_serve_starts_a_server_points_runs_at_it_and_stops_it(
    tmp_path, fake_serving, name
):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    handler = signal.getsignal(signal.SIGTERM)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        serve_ingest({}, Schedule(interval_seconds=60), name, tmp_path / "state", lambda _: None)
    url = "http://127.0.0.1:4999/api"
    assert fake_serving == [
        ("server started", tmp_path / "state"),
        ("served", name, url, url),
        ("server stopped",),
    ]
    assert "PREFECT_API_URL" not in os.environ
    assert signal.getsignal(signal.SIGTERM) == handler


def test_with_an_api_url_serve_uses_that_server(tmp_path, fake_serving):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    messages: list[str] = []
    url = "http://prefect.internal:4200/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        serve_ingest({}, Schedule(cron="*/5 * * * *"), "team", tmp_path / "state", messages.append)
    assert fake_serving == [("served", "team", None, url)]
    assert messages[0] == f"using the Prefect server at {url}"
    assert not (tmp_path / "state").exists()


def _drop(files: list[Path], inbox: Path, staging: Path) -> None:
    """Put files in the inbox atomically (copy beside it, then rename), as producers should."""
    staging.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, staging / path.name)
        os.replace(staging / path.name, inbox / path.name)


def _all_landed(warehouse: Path, names: set[str]) -> bool:
    """True once every named file is an article; fails at once if one was quarantined."""
    try:
        landed = query_warehouse(warehouse, "select source_uri from articles")
        quarantined = query_warehouse(warehouse, "select source_uri, error from quarantine")
    except (WarehouseError, duckdb.Error):
        return False  # not created yet, or a run is landing right now
    failed = [row for row in quarantined if row[0].rsplit("/", 1)[-1] in names]
    assert not failed, f"quarantined instead of landed: {failed}"
    return names <= {uri.rsplit("/", 1)[-1] for (uri,) in landed}


def _post(api_url: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@needs_proc
@pytest.mark.slow
def test_serve_lands_new_files_on_schedule_and_stops_without_orphans(tmp_path):
    inbox, warehouse, log_path = tmp_path / "inbox", tmp_path / "wh", tmp_path / "serve.log"
    inbox.mkdir()
    home = tmp_path / "prefect-home"
    marker = uuid.uuid4().hex
    environment = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # pick up due runs within a second
        MARKER_VARIABLE: marker,
    }
    environment.pop("PREFECT_API_URL", None)  # embedded mode: serve starts its own server
    command = [sys.executable, "-m", "flows.cli", "serve", "--source", str(inbox)]
    command += ["--interval", "2", "--warehouse", str(warehouse)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        started = re.compile(r"started a Prefect server at (\S+) \(pid (\d+)")
        found = _wait_for(
            lambda: started.search(log_path.read_text()), 240, "the embedded server", every=1
        )
        api_url, server_pid = found.group(1), int(found.group(2))
        assert server_pid in _processes_marked(marker)

        first, rest = SEED_FILES[:2], SEED_FILES[2:]
        _drop(first, inbox, tmp_path / "staging")
        names = {path.name for path in first}
        _wait_for(lambda: _all_landed(warehouse, names), 300, "the first files", every=2)
        _drop(rest, inbox, tmp_path / "staging")
        names |= {path.name for path in rest}
        _wait_for(lambda: _all_landed(warehouse, names), 300, "the later files", every=2)
        assert process.poll() is None, log_path.read_text()

        sql = "select count(*), count(distinct source_uri) from articles"
        assert query_warehouse(warehouse, sql) == [(len(SEED_FILES), len(SEED_FILES))]
        runs = query_warehouse(
            warehouse,
            "select run_id, started_at, finished_at, articles_landed, files_skipped "
            "from runs order by started_at",
        )
        assert len(runs) >= 2  # nobody asked for a run: the schedule made them
        # Incremental: the run that landed the later files skipped the first two.
        assert any(row[3] > 0 and row[4] >= len(first) for row in runs), runs
        # Never overlapping: each run started after the one before it finished.
        assert all(later[1] >= earlier[2] for earlier, later in itertools.pairwise(runs)), runs
        summaries = {"artifacts": {"key": {"any_": ["news-etl-run-summary"]}}}
        artifacts = _post(api_url, "/artifacts/filter", summaries)
        assert any(runs[0][0] in artifact["data"] for artifact in artifacts)
        completed = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
        flow_runs = _post(api_url, "/flow_runs/filter", completed)
        assert flow_runs
        assert all(run["empirical_policy"]["retries"] == 2 for run in flow_runs)
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=SHUTDOWN_SECONDS)
        stop_seconds = time.monotonic() - stopping
        with contextlib.suppress(AssertionError):  # survivors are reported below
            _wait_for(lambda: not _processes_marked(marker), 10, "the processes to go")
        survivors = _processes_marked(marker)
        for pid in survivors:  # leave nothing running, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert process.returncode == 0, log_path.read_text()
    assert stop_seconds < SHUTDOWN_SECONDS
    assert "stopped the Prefect server" in log_path.read_text()
    assert survivors == []  # neither the server nor a flow run outlives serve
    assert not _alive(server_pid)


def test_prefect_yaml_deploys_the_ingest_flow_without_overlapping_runs(monkeypatch):
    import yaml
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.templating import apply_values

    project = PrefectYamlModel.model_validate(yaml.safe_load((REPO / "prefect.yaml").read_text()))
    assert {deployment.name for deployment in project.deployments} == {"from-git", "from-checkout"}
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("NEWS_ETL_INBOX", "/data/inbox")
    monkeypatch.setenv("NEWS_ETL_WAREHOUSE", "/data/warehouse")
    pull_steps = set()
    for deployment in project.deployments:
        flow = load_flow_from_entrypoint(deployment.entrypoint)
        assert flow.name == "news-etl-ingest"
        parameters = apply_values(deployment.parameters, os.environ, remove_notset=False)
        assert parameters == {"sources": ["/data/inbox"], "warehouse": "/data/warehouse"}
        flow.validate_parameters(parameters)  # what the deployment's runs will be called with
        assert deployment.concurrency_limit.limit == 1
        assert deployment.concurrency_limit.collision_strategy == "ENQUEUE"
        assert len(deployment.schedules) == 1
        assert deployment.work_pool.name == "news-etl"
        pull_steps |= {next(iter(step)).rsplit(".", 1)[-1] for step in deployment.pull}
    assert pull_steps == {"git_clone", "set_working_directory"}
