"""Run progress: the hook API, and the rich bar with files/s and an ETA."""

import io
import re

import pytest
from rich.console import Console
from rich.progress import Progress

from flows import progress
from flows.progress import (
    FilesPerSecondColumn,
    TerminalProgress,
    TimeLeftColumn,
    files_per_second,
    seconds_remaining,
    terminal_progress,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, total_files: int) -> None:
        self.calls.append(("start", total_files))

    def advance(self, files: int) -> None:
        self.calls.append(("advance", files))

    def finish(self) -> None:
        self.calls.append(("finish",))


class TerminalLike(io.StringIO):
    def isatty(self) -> bool:
        return True


def _terminal_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120, color_system=None), buffer


def test_hooks_reach_the_sink_only_inside_reporting():
    sink = RecordingSink()
    progress.start(1)  # nothing installed: a no-op
    with progress.reporting(sink):
        progress.start(5)
        progress.advance(2)
        progress.advance(3)
        progress.finish()
    progress.advance(7)
    assert sink.calls == [("start", 5), ("advance", 2), ("advance", 3), ("finish",)]


@pytest.mark.parametrize(
    ("done", "elapsed", "total", "rate", "left"),
    [
        (4, 2.0, 10, 2.0, 3.0),  # 2 files/s, 6 files to go
        (10, 5.0, 10, 2.0, 0.0),
        (0, 0.0, 10, None, None),  # no time has passed: no rate, no ETA
        (0, 3.0, 10, 0.0, None),  # nothing done yet: the ETA is unknown, not infinite
        (3, None, 10, None, None),  # not started
    ],
)
def test_rate_and_time_left_are_averages_since_the_start(done, elapsed, total, rate, left):
    assert files_per_second(done, elapsed) == rate
    assert seconds_remaining(total, done, elapsed) == left


def test_columns_show_rate_and_eta_mid_run():
    clock = FakeClock()
    console, _ = _terminal_console()
    bar = Progress(console=console, get_time=clock, auto_refresh=False)
    task_id = bar.add_task("ingest", total=10)
    clock.now = 2.0
    bar.advance(task_id, 4)
    task = bar.tasks[0]
    assert FilesPerSecondColumn().render(task).plain == "2.0 files/s"
    assert TimeLeftColumn().render(task).plain == "ETA 0:00:03"
    clock.now = 100.0
    bar.advance(task_id, 6)
    clock.now = 160.0  # landing after the last file: the figures stay as they were at 100 s
    assert FilesPerSecondColumn().render(bar.tasks[0]).plain == "0.1 files/s"
    assert TimeLeftColumn().render(bar.tasks[0]).plain == "processed in 0:01:40"


def test_terminal_progress_draws_files_done_of_total_and_the_final_rate():
    clock = FakeClock()
    console, buffer = _terminal_console()
    sink = TerminalProgress(console, get_time=clock)
    sink.start(10)
    clock.now = 2.0
    sink.advance(4)
    clock.now = 5.0
    sink.advance(6)
    sink.finish()
    sink.finish()  # idempotent: the CLI also calls it when a run fails
    final = ANSI.sub("", buffer.getvalue()).strip().splitlines()[-1]
    assert "10/10 files" in final
    assert "2.0 files/s" in final  # 10 files in 5 s
    assert "processed in 0:00:05" in final


def test_a_second_run_gets_a_fresh_bar():
    clock = FakeClock()
    console, buffer = _terminal_console()
    sink = TerminalProgress(console, get_time=clock)
    sink.start(4)
    sink.advance(4)
    sink.finish()
    sink.start(3)
    clock.now = 1.0
    sink.advance(1)
    sink.finish()
    final = ANSI.sub("", buffer.getvalue()).strip().splitlines()[-1]
    assert "1/3 files" in final
    assert "ETA 0:00:02" in final


def test_no_bar_off_a_terminal():
    assert terminal_progress(io.StringIO()) is None
    assert isinstance(terminal_progress(TerminalLike()), TerminalProgress)
