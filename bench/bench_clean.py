"""Time the cleaner alone on the dev pages (or any folder of .txt pages) in one process.

Prints docs/s for: a floor (split lines and count words, nothing else), page_lines (the
learned-boilerplate count each page gets in a batch), clean_text, and clean_text +
extract_article, each over several passes after a warm-up pass; and extraction alone (on pages
cleaned beforehand). Two clocks: wall time, and CPU time of this process, which
other processes on a shared machine disturb less. Each figure is the best pass.

--cold empties the timestamp parser's cache before every pass, so each pass parses dates as a
single run over new pages would (repeated passes otherwise find every date already parsed).

When the cleaner runs compiled (`make setup` builds it, see tasks/clean/native.py) the same
figures follow for the pure-Python cleaner, measured in a second process of the same run
(NEWS_ETL_PURE_PYTHON=1); --no-pure-baseline skips them.
"""

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import tasks.clean
from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.learned import page_lines
from tasks.clean.native import PURE_PYTHON_ENV, running_compiled
from tasks.clean.rules import load_rules
from tasks.extract import dates
from tasks.extract.engine import extract_article
from tasks.read.engine import normalize_text
from tasks.settings import Settings

DEFAULT_PAGES = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"


def _floor(text: str) -> int:
    return sum(len(line.split()) for line in text.split("\n"))


def _best_rates(
    step: Callable[[object], object], items: list, passes: int, cold: bool
) -> tuple[float, float]:
    """Docs per second of the best pass, by wall clock and by this process's CPU time."""
    for item in items:  # warm-up: caches, lazy imports, model loads
        step(item)
    best_wall = best_cpu = float("inf")
    for _ in range(passes):
        if cold:
            dates.parse_timestamp_line.cache_clear()
        wall, cpu = time.perf_counter(), time.process_time()
        for item in items:
            step(item)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return len(items) / best_wall, len(items) / best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pages", type=Path, nargs="?", default=DEFAULT_PAGES)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="no parsed dates kept between passes")
    parser.add_argument("--no-pure-baseline", action="store_true", help="skip the Python run")
    args = parser.parse_args()
    files = sorted(p for p in args.pages.glob("*.txt") if not p.name.endswith(".gold.txt"))
    if not files:
        raise SystemExit(f"no .txt pages in {args.pages}")
    texts = [normalize_text(p.read_text(encoding="utf-8")) for p in files]
    settings, rules = Settings(), load_rules(known_detectors=KNOWN_DETECTORS)
    cleaned = [clean_text(text, rules, settings) for text in texts]
    steps: dict[str, tuple[Callable[[object], object], list]] = {
        "floor (split + count words)": (_floor, texts),
        "page_lines": (lambda text: page_lines(text, settings), texts),
        "clean_text": (lambda text: clean_text(text, rules, settings), texts),
        "clean_text + extract_article": (
            lambda text: extract_article(clean_text(text, rules, settings), "", settings),
            texts,
        ),
        "extract_article alone": (lambda doc: extract_article(doc, "", settings), cleaned),
    }
    lines = sum(text.count("\n") + 1 for text in texts)
    build = "compiled" if running_compiled() else f"pure Python ({tasks.clean.BUILD_STATE})"
    print(f"pages: {len(texts)} from {args.pages} ({lines / len(texts):.0f} lines per page)")
    print(f"cleaner: {build}")
    print(f"{'step':32} {'docs/s wall':>12} {'docs/s cpu':>11} {'cpu vs floor':>13}")
    floor_cpu = None
    for name, (step, items) in steps.items():
        wall_rate, cpu_rate = _best_rates(step, items, args.passes, args.cold)
        floor_cpu = floor_cpu or cpu_rate
        print(f"{name:32} {wall_rate:12.0f} {cpu_rate:11.0f} {cpu_rate / floor_cpu:13.3f}")
    if running_compiled() and not args.no_pure_baseline:
        print("\nthe same, pure Python (baseline, second process):", flush=True)
        command = [sys.executable, __file__, str(args.pages), "--passes", str(args.passes)]
        command += ["--cold"] if args.cold else []
        subprocess.run(command, env={**os.environ, PURE_PYTHON_ENV: "1"}, check=True)


if __name__ == "__main__":
    main()
