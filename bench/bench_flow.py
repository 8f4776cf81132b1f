"""Time `news-etl run` on a generated corpus against a read-and-write-Parquet floor.

Usage: .venv/bin/python bench/bench_flow.py --files 100000 [300000 ...] [--runner dask]
       [--corpus-root DIR] [--repeat-run] [--flow-curve] [--json PATH]

Each size gets its own corpus, run and floor; with two sizes or more it also prints how time
and peak memory grow. Prints figures only; it asserts nothing about speed.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
EVAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"
FILES_PER_FOLDER = 1000
MARKER_AFTER_WORDS = 3
# news-etl's summary line "run ... succeeded in 22.8 s": its own in-run time, when printed.
REPORTED_SECONDS = re.compile(r"succeeded in ([0-9.]+) s\b")
CHILD_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
MEASUREMENT = (
    "seconds: wall time of the whole child process as seen by this script (start-up and "
    "imports included); peak MB: the child's maximum resident set size from os.wait4 (Linux "
    "folds in any process it waited for: the largest single one, not a sum); tree MB: the "
    "largest sum of resident set sizes of the child and all its descendants (worker "
    "processes, Prefect's API server), sampled every 0.2 s; all in MiB"
)
SAMPLE_SECONDS = 0.2
FLOW_CURVE = (
    "flow process RSS: the resident set size of the child itself (the process running the "
    "flow: listing, story assignment, landing), sampled every 0.2 s, as min-max MiB over each "
    "tenth of its wall time; the min is what stays resident, the max adds batches in transit"
)
CURVE_PARTS = 10

# The floor: list the corpus, read every file's bytes, write them as one Parquet column.
FLOOR_CHILD = """
import json, os, resource, sys, time
import pyarrow as pa
import pyarrow.parquet as pq

corpus, output, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
paths = sorted(
    os.path.join(folder, name)
    for folder, _, names in os.walk(corpus)
    for name in names
    if name.endswith(".txt")
)
schema = pa.schema([pa.field("content", pa.binary(), nullable=False)])
docs = total_bytes = 0
with pq.ParquetWriter(output, schema) as writer:
    for first in range(0, len(paths), batch_size):
        batch = []
        for path in paths[first : first + batch_size]:
            with open(path, "rb") as handle:
                batch.append(handle.read())
        docs += len(batch)
        total_bytes += sum(map(len, batch))
        writer.write_table(pa.table({"content": pa.array(batch, pa.binary())}, schema=schema))
print(json.dumps({
    "docs": docs,
    "bytes": total_bytes,
    "inner_seconds": time.perf_counter() - start,
    "self_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


@dataclass(frozen=True, slots=True)
class Corpus:
    """A folder of generated .txt files."""

    path: Path
    files: int
    bytes: int

    @property
    def megabytes(self) -> float:
        return self.bytes / 2**20


@dataclass(frozen=True, slots=True)
class Timing:
    """One measured child process."""

    step: str
    seconds: float
    docs_per_second: float
    peak_mb: float
    returncode: int
    tree_peak_mb: float = 0.0


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files",
        type=int,
        nargs="+",
        default=[20_000],
        help="corpus sizes, one run each (default 20000), e.g. --files 100000 300000",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="reuse this corpus folder (one size only); generated into it when empty or missing",
    )
    parser.add_argument(
        "--corpus-root",
        type=Path,
        help="keep corpora here as files_<N>/ and reuse them on later invocations",
    )
    parser.add_argument("--repeat-run", action="store_true", help="time a second, idempotent run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this path")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--skip-flow", action="store_true", help="time the floor only")
    parser.add_argument(
        "--command",
        help="command line to time instead of news-etl, with {corpus} and {warehouse} "
        "placeholders, e.g. 'du -s {corpus}'",
    )
    parser.add_argument(
        "--runner", choices=("local", "dask"), default="local", help="news-etl run --runner"
    )
    parser.add_argument(
        "--flow-batch-size", type=int, help="news-etl run --batch-size (default: its setting)"
    )
    parser.add_argument("--batch-size", type=int, default=5000, help="floor rows per batch")
    parser.add_argument(
        "--flow-curve",
        action="store_true",
        help="print the flow process's RSS over the run (min-max per tenth of its wall time)",
    )
    arguments = parser.parse_args(argv)
    if min(arguments.files) < 1:
        parser.error("--files must be at least 1")
    if arguments.corpus is not None and len(arguments.files) > 1:
        parser.error("--corpus takes one size; use --corpus-root for several")
    return arguments


def load_base_texts() -> list[tuple[str, str, int]]:
    """Base pages as (name, text, index of the line to mark): seeds plus the dev eval pages."""
    paths = sorted(SEEDS.glob("*.txt"))
    if EVAL_DEV.is_dir():
        paths += sorted(p for p in EVAL_DEV.glob("*.txt") if not p.name.endswith(".gold.txt"))
    bases = []
    for path in paths:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        lines = text.splitlines(keepends=True)
        if not any(line.strip() for line in lines):
            continue
        gold_path = path.with_name(path.stem + ".gold.txt")
        gold = gold_path.read_text(encoding="utf-8", errors="replace") if gold_path.exists() else ""
        bases.append((path.stem, text, choose_line(lines, gold)))
    if not bases:
        raise SystemExit(f"no base texts found in {SEEDS}")
    return bases


def choose_line(lines: list[str], gold: str) -> int:
    """Index of a body line: the longest line found in the gold text, else the longest line.

    The longest paragraph is body text on every base page (a first long line can be a photo
    caption the cleaner removes, which would leave the cleaned copies identical).
    """
    word_counts = [len(line.split()) for line in lines]
    in_gold = [i for i, line in enumerate(lines) if gold and line.strip() and line.strip() in gold]
    return max(in_gold or range(len(lines)), key=lambda i: word_counts[i])


def mark_text(text: str, line_index: int, number: int) -> str:
    """Insert ' (ref N)' after the third word of one line; start, end and line count stay."""
    lines = text.splitlines(keepends=True)
    line = lines[line_index]
    position = 0
    for _ in range(MARKER_AFTER_WORDS):
        space = line.find(" ", position + 1)
        if space < 0:
            break
        position = space
    if position == 0:
        body = line.rstrip("\r\n")
        lines[line_index] = f"{body} (ref {number}){line[len(body) :]}"
    else:
        lines[line_index] = f"{line[:position]} (ref {number}){line[position:]}"
    return "".join(lines)


def generate_corpus(folder: Path, files: int) -> None:
    """Write `files` distinct pages into subfolders of FILES_PER_FOLDER files each."""
    bases = load_base_texts()
    for number in range(files):
        name, text, line_index = bases[number % len(bases)]
        subfolder = folder / f"part_{number // FILES_PER_FOLDER:04d}"
        if number % FILES_PER_FOLDER == 0:
            subfolder.mkdir(parents=True, exist_ok=True)
        content = mark_text(text, line_index, number).encode("utf-8", errors="surrogateescape")
        (subfolder / f"{number:06d}_{name}.txt").write_bytes(content)


def measure_corpus(folder: Path) -> Corpus:
    """Count the .txt files under a folder and their bytes."""
    files = total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".txt"):
                files += 1
                total += os.path.getsize(os.path.join(root, name))
    return Corpus(folder, files, total)


def process_label(process: psutil.Process) -> str:
    """A short name for a process of the tree: what it runs, not its full command line."""
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "?"
    for marker, label in (
        ("uvicorn", "Prefect API server"),
        ("distributed.cli", "Dask worker"),
        ("multiprocessing.spawn", "worker process"),
        ("multiprocessing.resource_tracker", "resource tracker"),
        ("news-etl", "news-etl (flow)"),
    ):
        if marker in command:
            return label
    return Path(command.split(" ", 1)[0]).name or "?"


class TreeMemory:
    """Samples the resident memory of a process and its descendants in a thread.

    Keeps the peak of their sum, each process's own peak (by pid, with a label) and the
    resident memory of the root process over time.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self.peak_bytes = 0
        self.process_peaks: dict[int, tuple[str, int]] = {}
        self.root_samples: list[tuple[float, int]] = []  # (seconds since start, bytes)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            root = psutil.Process(self._pid)
        except psutil.NoSuchProcess:
            return
        labels: dict[int, str] = {}
        while not self._stop.is_set():
            total = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                total += rss
                if process is root and rss:
                    self.root_samples.append((time.perf_counter() - self._started, rss))
                if process.pid not in labels:
                    labels[process.pid] = process_label(process)
                _, peak = self.process_peaks.get(process.pid, ("", 0))
                self.process_peaks[process.pid] = (labels[process.pid], max(peak, rss))
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(SAMPLE_SECONDS)

    def stop(self) -> float:
        """Stop sampling; return the peak of the sum in MiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / 2**20

    def largest(self, count: int = 6) -> list[tuple[str, float]]:
        """The processes with the highest own peaks: (label, MiB), largest first."""
        peaks = sorted(self.process_peaks.values(), key=lambda item: -item[1])[:count]
        return [(label, rss / 2**20) for label, rss in peaks]


def rss_curve(
    samples: list[tuple[float, int]], parts: int = CURVE_PARTS
) -> list[tuple[float, float, float]]:
    """Samples over equal slices of their time span: (slice end in seconds, min MiB, max MiB)."""
    if not samples:
        return []
    span = samples[-1][0] or 1.0
    slices: list[list[int]] = [[] for _ in range(parts)]
    for seconds, rss in samples:
        slices[min(parts - 1, int(parts * seconds / span))].append(rss)
    return [
        (span * (number + 1) / parts, min(values) / 2**20, max(values) / 2**20)
        for number, values in enumerate(slices)
        if values
    ]


def format_curve(step: str, curve: list[tuple[float, float, float]]) -> str:
    """One line per slice of a flow process RSS curve."""
    rows = [f"{step}: flow process RSS MiB per tenth of the run (min-max)"]
    rows += [f"  to {end:>7.1f} s  {low:>6.0f} - {high:<6.0f}" for end, low, high in curve]
    return "\n".join(rows)


def run_child(command: list[str], log_stem: Path) -> tuple[float, int, float, TreeMemory]:
    """Run one child; return (wall seconds, exit code, peak RSS MiB, its tree's memory)."""
    env = {**os.environ, **CHILD_ENV}
    with (
        log_stem.with_suffix(".stdout").open("wb") as stdout,
        log_stem.with_suffix(".stderr").open("wb") as stderr,
    ):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=REPO)
        memory = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        memory.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, process.returncode, usage.ru_maxrss / 1024, memory


def tail(path: Path, lines: int = 20) -> str:
    """Last lines of a log file."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def fail(step: str, log_stem: Path, returncode: int) -> None:
    """Stop with the end of a failed child's output."""
    message = [f"{step} failed with exit code {returncode}"]
    for suffix in (".stdout", ".stderr"):
        output = tail(log_stem.with_suffix(suffix))
        if output:
            message += [f"--- {suffix[1:]} (last lines) ---", output]
    raise SystemExit("\n".join(message))


def measure_floor(corpus: Corpus, workdir: Path, batch_size: int) -> tuple[Timing, dict]:
    """Read every file and write one Parquet column in a fresh Python process."""
    log_stem = workdir / "floor"
    command = [
        sys.executable,
        "-c",
        FLOOR_CHILD,
        str(corpus.path),
        str(workdir / "floor.parquet"),
        str(batch_size),
    ]
    seconds, returncode, peak_mb, memory = run_child(command, log_stem)
    if returncode != 0:
        fail("floor", log_stem, returncode)
    report = json.loads(log_stem.with_suffix(".stdout").read_text().strip().splitlines()[-1])
    if report["docs"] != corpus.files:
        raise SystemExit(f"floor read {report['docs']} files, expected {corpus.files}")
    timing = Timing(
        "floor (read + parquet)",
        seconds,
        corpus.files / seconds,
        peak_mb,
        returncode,
        memory.peak_bytes / 2**20,
    )
    return timing, report


def flow_command(
    template: str | None,
    corpus: Path,
    warehouse: Path,
    runner: str = "local",
    batch_size: int | None = None,
) -> list[str]:
    """The command line under test: news-etl run, or a stand-in template."""
    if template is not None:
        return [part.format(corpus=corpus, warehouse=warehouse) for part in shlex.split(template)]
    news_etl = Path(sys.executable).with_name("news-etl")
    if not news_etl.exists():
        raise SystemExit(
            f"news-etl not found at {news_etl}: install the project first (make setup), "
            "or pass --skip-flow"
        )
    command = [str(news_etl), "run", str(corpus), "--warehouse", str(warehouse)]
    if runner != "local":
        command += ["--runner", runner]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    return command


def measure_flow(
    step: str, command: list[str], corpus: Corpus, log_stem: Path
) -> tuple[Timing, list[tuple[str, float]], list[tuple[float, float, float]]]:
    """Time one run of the command under test; also the processes with the highest peaks and
    the RSS curve of the flow process (see rss_curve)."""
    seconds, returncode, peak_mb, memory = run_child(command, log_stem)
    if returncode != 0:
        fail(step, log_stem, returncode)
    tree_mb = memory.peak_bytes / 2**20
    timing = Timing(step, seconds, corpus.files / seconds, peak_mb, returncode, tree_mb)
    return timing, memory.largest(), rss_curve(memory.root_samples)


def format_table(corpus: Corpus, timings: list[Timing], ratio: float | None) -> str:
    """The printed summary of one corpus size."""
    rows = [
        f"corpus: {corpus.files} files, {corpus.megabytes:.1f} MB",
        f"{'step':<30}{'seconds':>9}{'docs/s':>10}{'peak MB':>10}{'tree MB':>10}",
    ]
    rows += [
        f"{t.step:<30}{t.seconds:>9.2f}{t.docs_per_second:>10.1f}{t.peak_mb:>10.1f}"
        f"{t.tree_peak_mb:>10.1f}"
        for t in timings
    ]
    if ratio is not None:
        rows.append(f"ratio flow/floor docs/s: {ratio:.3f}")
    rows.append(f"({MEASUREMENT})")
    return "\n".join(rows)


def format_scaling(figures: list[dict]) -> str:
    """How the first run's time and peak memory grow with corpus size, against the smallest."""
    runs = [
        (size["corpus"]["files"], size["steps"][1]) for size in figures if len(size["steps"]) > 1
    ]
    if len(runs) < 2:
        return ""
    base_files, base = runs[0]
    rows = [
        "scaling of the news-etl run (against the smallest size):",
        f"{'files':>9}{'seconds':>10}{'s/1k files':>12}{'time x':>8}{'files x':>9}"
        f"{'peak MB':>9}{'peak +%':>9}{'tree MB':>9}{'tree +%':>9}",
    ]
    for files, step in runs:
        rows.append(
            f"{files:>9}{step['seconds']:>10.1f}{1000 * step['seconds'] / files:>12.2f}"
            f"{step['seconds'] / base['seconds']:>8.2f}{files / base_files:>9.2f}"
            f"{step['peak_mb']:>9.0f}{100 * (step['peak_mb'] / base['peak_mb'] - 1):>9.1f}"
            f"{step['tree_peak_mb']:>9.0f}"
            f"{100 * (step['tree_peak_mb'] / base['tree_peak_mb'] - 1):>9.1f}"
        )
    return "\n".join(rows)


def prepare_corpus(arguments: argparse.Namespace, files: int, workdir: Path) -> Corpus:
    """Generate the corpus of one size, or reuse a kept one."""
    if arguments.corpus is not None:
        corpus_path = arguments.corpus.resolve()
    elif arguments.corpus_root is not None:
        corpus_path = (arguments.corpus_root / f"files_{files}").resolve()
    else:
        corpus_path = workdir / f"corpus_{files}"
    if corpus_path.is_dir() and any(corpus_path.iterdir()):
        print(f"reusing the corpus in {corpus_path}")
    else:
        print(f"generating {files} files in {corpus_path}", flush=True)
        generate_corpus(corpus_path, files)
    corpus = measure_corpus(corpus_path)
    print(f"corpus: {corpus.files} files, {corpus.megabytes:.1f} MB in {corpus.path}", flush=True)
    return corpus


def run_benchmark(arguments: argparse.Namespace, workdir: Path, files: int) -> dict:
    """Time the flow, then the floor, on the corpus of one size; return the figures."""
    corpus = prepare_corpus(arguments, files, workdir)
    timings: list[Timing] = []
    outputs: list[tuple[str, str]] = []
    process_peaks: dict[str, list[tuple[str, float]]] = {}
    curves: dict[str, list[tuple[float, float, float]]] = {}
    if not arguments.skip_flow:
        warehouse = workdir / f"wh_{files}"
        command = flow_command(
            arguments.command, corpus.path, warehouse, arguments.runner, arguments.flow_batch_size
        )
        print(f"timing: {shlex.join(command)}", flush=True)
        label = "news-etl" if arguments.command is None else "stand-in"
        runs = [f"{label} run (all stages)"]
        if arguments.repeat_run:
            runs.append(f"{label} re-run (same wh)")
        for number, step in enumerate(runs, start=1):
            log_stem = workdir / f"run{number}_{files}"
            timing, largest, curve = measure_flow(step, command, corpus, log_stem)
            timings.append(timing)
            process_peaks[step] = largest
            curves[step] = curve
            outputs.append((step, tail(log_stem.with_suffix(".stdout"), 15)))
        if not arguments.keep:
            shutil.rmtree(warehouse, ignore_errors=True)  # gigabytes at 300,000 files
    print("timing: floor (read + parquet)", flush=True)
    floor, floor_report = measure_floor(corpus, workdir, arguments.batch_size)
    (workdir / "floor.parquet").unlink(missing_ok=True)
    timings.insert(0, floor)

    flow = timings[1] if len(timings) > 1 else None
    ratio = flow.docs_per_second / floor.docs_per_second if flow else None
    reported: dict[str, float] = {}
    for step, output in outputs:
        print(f"output of {step} (last lines):")
        print("\n".join(f"  {line}" for line in output.splitlines()))
        match = REPORTED_SECONDS.search(output)
        if match:
            reported[step] = float(match.group(1))
    print(format_table(corpus, timings, ratio))
    for step, largest in process_peaks.items():
        peaks = ", ".join(f"{label} {mib:.0f}" for label, mib in largest)
        print(f"{step}: peak MiB per process: {peaks}")
    if arguments.flow_curve:
        for step, curve in curves.items():
            print(format_curve(step, curve))
        print(f"({FLOW_CURVE})")
    for timing in timings:
        if timing.step in reported:
            inside = reported[timing.step]
            print(
                f"{timing.step}: {inside:.1f} s by its own summary; the other "
                f"{timing.seconds - inside:.1f} s of wall time are start-up and shutdown"
            )
    return {
        "corpus": {"files": corpus.files, "bytes": corpus.bytes, "megabytes": corpus.megabytes},
        "runner": arguments.runner,
        "steps": [asdict(t) for t in timings],
        "floor_child_report": floor_report,
        "flow_reported_seconds": reported,
        "flow_output": dict(outputs),
        "flow_process_peaks_mb": process_peaks,
        "flow_rss_curve_mb": curves,
        "flow_rss_curve_measurement": FLOW_CURVE,
        "ratio_flow_floor_docs_per_second": ratio,
        "measurement": MEASUREMENT,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    arguments = parse_arguments(argv)
    workdir = Path(tempfile.mkdtemp(prefix="news-etl-bench-"))
    figures: list[dict] = []
    try:
        for files in arguments.files:
            figures.append(run_benchmark(arguments, workdir, files))
            if arguments.json is not None:  # after every size: a long run keeps what it has
                document = {"sizes": figures, "cpu_count": os.cpu_count()}
                arguments.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        scaling = format_scaling(figures)
        if scaling:
            print(scaling)
        if arguments.json is not None:
            print(f"figures written to {arguments.json}")
    finally:
        if arguments.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
