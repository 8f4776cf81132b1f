"""Time the cleaner alone on the dev pages (or any folder of .txt pages) in one process.

Prints docs/s for: a floor (split lines and count words, nothing else), clean_text, and
clean_text + extract_article, each over several passes after a warm-up pass.
"""

import argparse
import time
from pathlib import Path

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.extract.engine import extract_article
from tasks.read.engine import normalize_text
from tasks.settings import Settings

DEFAULT_PAGES = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"


def _floor(text: str) -> int:
    return sum(len(line.split()) for line in text.split("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pages", type=Path, nargs="?", default=DEFAULT_PAGES)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    files = sorted(p for p in args.pages.glob("*.txt") if not p.name.endswith(".gold.txt"))
    if not files:
        raise SystemExit(f"no .txt pages in {args.pages}")
    texts = [normalize_text(p.read_text(encoding="utf-8")) for p in files]
    settings, rules = Settings(), load_rules(known_detectors=KNOWN_DETECTORS)
    steps = {
        "floor (split + count words)": _floor,
        "clean_text": lambda text: clean_text(text, rules, settings),
        "clean_text + extract_article": lambda text: extract_article(
            clean_text(text, rules, settings), "", settings
        ),
    }
    lines = sum(text.count("\n") + 1 for text in texts)
    print(f"pages: {len(texts)} from {args.pages} ({lines / len(texts):.0f} lines per page)")
    print(f"{'step':32} {'docs/s':>10}")
    for name, step in steps.items():
        for text in texts:  # warm-up: caches, lazy imports, model loads
            step(text)
        start = time.perf_counter()
        for _ in range(args.passes):
            for text in texts:
                step(text)
        rate = args.passes * len(texts) / (time.perf_counter() - start)
        print(f"{name:32} {rate:10.0f}")


if __name__ == "__main__":
    main()
