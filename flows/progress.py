"""Run progress: the flow reports files as batches finish; the CLI decides how to show it.

The flow calls `start`, `advance` and `finish`; they do nothing unless a sink is installed with
`reporting(sink)`. The CLI installs `TerminalProgress` (a rich bar with files/s and an ETA)
when stderr is a terminal; `terminal_progress` returns None otherwise, so pipes and logs stay
quiet.
"""

import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text


class ProgressSink(Protocol):
    def start(self, total_files: int) -> None: ...
    def advance(self, files: int) -> None: ...
    def finish(self) -> None: ...


_sinks: list[ProgressSink] = []


@contextlib.contextmanager
def reporting(sink: ProgressSink) -> Iterator[ProgressSink]:
    """Send the progress of runs started inside this block to `sink`."""
    _sinks.append(sink)
    try:
        yield sink
    finally:
        _sinks.remove(sink)


def start(total_files: int) -> None:
    for sink in _sinks:
        sink.start(total_files)


def advance(files: int) -> None:
    for sink in _sinks:
        sink.advance(files)


def finish() -> None:
    for sink in _sinks:
        sink.finish()


def files_per_second(files_done: float, elapsed_seconds: float | None) -> float | None:
    """Average rate since the start, or None before any time has passed."""
    if not elapsed_seconds or elapsed_seconds <= 0:
        return None
    return files_done / elapsed_seconds


def seconds_remaining(
    total_files: float | None, files_done: float, elapsed_seconds: float | None
) -> float | None:
    """Time left at the average rate so far, or None while the rate is unknown."""
    rate = files_per_second(files_done, elapsed_seconds)
    if total_files is None or not rate:
        return None
    return max(total_files - files_done, 0) / rate


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _seconds_spent(task: Task) -> float | None:
    """Time since the bar started, frozen when the last file is done (landing comes after)."""
    return task.finished_time if task.finished else task.elapsed


class FilesPerSecondColumn(ProgressColumn):
    """Files per second since the bar started."""

    def render(self, task: Task) -> Text:
        rate = files_per_second(task.completed, _seconds_spent(task))
        return Text("? files/s" if rate is None else f"{rate:,.1f} files/s")


class TimeLeftColumn(ProgressColumn):
    """ETA while files are processed; then how long they took."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text(f"processed in {_clock(_seconds_spent(task) or 0.0)}")
        left = seconds_remaining(task.total, task.completed, task.elapsed)
        return Text("ETA -:--:--" if left is None else f"ETA {_clock(left)}")


class TerminalProgress:
    """A rich progress bar on a console: files done of total, files/s and the time left."""

    def __init__(self, console: Console, get_time: Callable[[], float] | None = None) -> None:
        self._console = console
        self._get_time = get_time
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total_files: int) -> None:
        self.finish()  # a second run in the same process gets a bar of its own
        self._progress = Progress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            FilesPerSecondColumn(),
            TimeLeftColumn(),
            console=self._console,
            get_time=self._get_time,
        )
        self._progress.start()
        self._task = self._progress.add_task("ingest", total=total_files)

    def advance(self, files: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, files)

    def finish(self) -> None:
        """Draw the final state and give the terminal back; safe to call twice."""
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None


def terminal_progress(stream: TextIO | None = None) -> TerminalProgress | None:
    """A progress bar on `stream` (default stderr) if it is a terminal, else None."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    return TerminalProgress(Console(file=stream))
