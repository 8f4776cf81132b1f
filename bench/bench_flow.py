"""Time `news-etl run` on a generated corpus against a read-and-write-Parquet floor.

Usage: .venv/bin/python bench/bench_flow.py --files 20000 [--repeat-run] [--json PATH]

Prints figures only; it asserts nothing about speed.
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
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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
    "imports included); peak MB: the child's maximum resident set size from os.wait4 on "
    "that child alone (Linux folds in any process it waited for: the largest single one, "
    "not a sum), in MiB; corpus MB are MiB too"
)

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


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="corpus size (default 20000)")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="reuse this corpus folder; generated into it (and kept) when empty or missing",
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
    parser.add_argument("--batch-size", type=int, default=5000, help="floor rows per batch")
    arguments = parser.parse_args(argv)
    if arguments.files < 1:
        parser.error("--files must be at least 1")
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


def run_child(command: list[str], log_stem: Path) -> tuple[float, int, float]:
    """Run one child; return (wall seconds, exit code, peak RSS MiB of that child alone)."""
    env = {**os.environ, **CHILD_ENV}
    with (
        log_stem.with_suffix(".stdout").open("wb") as stdout,
        log_stem.with_suffix(".stderr").open("wb") as stderr,
    ):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, process.returncode, usage.ru_maxrss / 1024


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
    seconds, returncode, peak_mb = run_child(command, log_stem)
    if returncode != 0:
        fail("floor", log_stem, returncode)
    report = json.loads(log_stem.with_suffix(".stdout").read_text().strip().splitlines()[-1])
    if report["docs"] != corpus.files:
        raise SystemExit(f"floor read {report['docs']} files, expected {corpus.files}")
    timing = Timing("floor (read + parquet)", seconds, corpus.files / seconds, peak_mb, returncode)
    return timing, report


def flow_command(template: str | None, corpus: Path, warehouse: Path) -> list[str]:
    """The command line under test: news-etl run, or a stand-in template."""
    if template is not None:
        return [part.format(corpus=corpus, warehouse=warehouse) for part in shlex.split(template)]
    news_etl = Path(sys.executable).with_name("news-etl")
    if not news_etl.exists():
        raise SystemExit(
            f"news-etl not found at {news_etl}: install the project first (make setup), "
            "or pass --skip-flow"
        )
    return [str(news_etl), "run", str(corpus), "--warehouse", str(warehouse)]


def measure_flow(step: str, command: list[str], corpus: Corpus, log_stem: Path) -> Timing:
    """Time one run of the command under test."""
    seconds, returncode, peak_mb = run_child(command, log_stem)
    if returncode != 0:
        fail(step, log_stem, returncode)
    return Timing(step, seconds, corpus.files / seconds, peak_mb, returncode)


def format_table(corpus: Corpus, timings: list[Timing], ratio: float | None) -> str:
    """The printed summary."""
    rows = [
        f"corpus: {corpus.files} files, {corpus.megabytes:.1f} MB",
        f"{'step':<30}{'seconds':>9}{'docs/s':>10}{'peak MB':>10}",
    ]
    rows += [
        f"{t.step:<30}{t.seconds:>9.2f}{t.docs_per_second:>10.1f}{t.peak_mb:>10.1f}"
        for t in timings
    ]
    if ratio is not None:
        rows.append(f"ratio flow/floor docs/s: {ratio:.3f}")
    rows.append(f"({MEASUREMENT})")
    return "\n".join(rows)


def run_benchmark(arguments: argparse.Namespace, workdir: Path) -> dict:
    """Generate or reuse the corpus, time the flow, then the floor; return the figures."""
    if arguments.corpus is not None:
        corpus_path = arguments.corpus.resolve()
        if not corpus_path.is_dir() or not any(corpus_path.iterdir()):
            generate_corpus(corpus_path, arguments.files)
        else:
            print(f"reusing the corpus in {corpus_path}; --files is ignored")
    else:
        corpus_path = workdir / "corpus"
        generate_corpus(corpus_path, arguments.files)
    corpus = measure_corpus(corpus_path)
    print(f"corpus: {corpus.files} files, {corpus.megabytes:.1f} MB in {corpus.path}", flush=True)

    timings: list[Timing] = []
    outputs: list[tuple[str, str]] = []
    if not arguments.skip_flow:
        warehouse = workdir / "wh"
        command = flow_command(arguments.command, corpus.path, warehouse)
        print(f"timing: {shlex.join(command)}", flush=True)
        label = "news-etl" if arguments.command is None else "stand-in"
        runs = [f"{label} run (all stages)"]
        if arguments.repeat_run:
            runs.append(f"{label} re-run (same wh)")
        for number, step in enumerate(runs, start=1):
            log_stem = workdir / f"run{number}"
            timings.append(measure_flow(step, command, corpus, log_stem))
            outputs.append((step, tail(log_stem.with_suffix(".stdout"), 15)))
    print("timing: floor (read + parquet)", flush=True)
    floor, floor_report = measure_floor(corpus, workdir, arguments.batch_size)
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
    for timing in timings:
        if timing.step in reported:
            inside = reported[timing.step]
            print(
                f"{timing.step}: {inside:.1f} s by its own summary; the other "
                f"{timing.seconds - inside:.1f} s of wall time are start-up and shutdown"
            )
    return {
        "corpus": {"files": corpus.files, "bytes": corpus.bytes, "megabytes": corpus.megabytes},
        "steps": [asdict(t) for t in timings],
        "floor_child_report": floor_report,
        "flow_reported_seconds": reported,
        "ratio_flow_floor_docs_per_second": ratio,
        "measurement": MEASUREMENT,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    arguments = parse_arguments(argv)
    workdir = Path(tempfile.mkdtemp(prefix="news-etl-bench-"))
    try:
        figures = run_benchmark(arguments, workdir)
        if arguments.json is not None:
            arguments.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
            print(f"figures written to {arguments.json}")
    finally:
        if arguments.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
