"""Run progress: the flow reports files as batches finish; the CLI decides how to show it.

The flow calls `start`, `advance` and `finish`; they do nothing unless a sink is installed with
`reporting(sink)` (the CLI installs a progress bar when stderr is a terminal).
"""

import contextlib
from collections.abc import Iterator
from typing import Protocol


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
