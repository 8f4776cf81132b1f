"""Field-level metadata accuracy on the labelled set, next to trafilatura when it is installed.

Usage: .venv/bin/python bench/eval_metadata.py [--dev DIR] [--labels TSV] [--misses]

Runs the pipeline's extraction (normalize_text -> clean_text -> extract_article) on the seeds and
on the labelled pages of the dev split, twice: once with each dev page's URL from manifest.tsv as
its source_uri (as in real use, where the pipeline is given URLs) and once with only a file path
(no host to read a publisher from). Seeds have no URL: they always get their file path.

trafilatura reads HTML, not text; it gets the same page text with every line as a <p>, with and
without the URL. It is an evaluation-only tool: `pip install trafilatura` into .venv by hand.
"""

import argparse
import html
import sys
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.clean.engine import KNOWN_DETECTORS  # noqa: E402
from tasks.clean.rules import load_rules  # noqa: E402
from tasks.extract.evaluation import (  # noqa: E402
    MetadataReport,
    Prediction,
    evaluate_pages,
    extract_metadata,
    load_labels,
    load_urls,
)
from tasks.settings import Settings  # noqa: E402

LABELS = REPO / "tests" / "data" / "metadata_labels.tsv"
SEEDS = REPO / "seeds"
DEV = REPO.parent / "shared" / "eval" / "dev"


def labelled_pages(labels: dict, dev: Path, with_url: bool) -> list[tuple[str, str, str]]:
    """(page id, text, source_uri) for every labelled page found on disk."""
    urls = load_urls(dev / "manifest.tsv") if (dev / "manifest.tsv").is_file() else {}
    pages = []
    for page_id in sorted(labels):
        for folder in (SEEDS, dev):
            path = folder / f"{page_id}.txt"
            if path.is_file():
                uri = urls.get(page_id, path.as_uri()) if with_url else path.as_uri()
                pages.append((page_id, path.read_text(encoding="utf-8"), uri))
                break
    return pages


def trafilatura_metadata(text: str, source_uri: str) -> Prediction:
    """trafilatura's metadata for the page text wrapped as one <p> per line."""
    import trafilatura

    body = "".join(f"<p>{html.escape(line)}</p>\n" for line in text.split("\n") if line.strip())
    url = source_uri if source_uri.startswith("http") else None
    document = trafilatura.extract_metadata(f"<html><body>{body}</body></html>", default_url=url)
    if document is None:
        return dict.fromkeys(("title", "author", "published_date", "publisher"), "")
    return {
        "title": document.title or "",
        "author": (document.author or "").replace("; ", ", "),
        "published_date": (document.date or "")[:10],
        "publisher": document.sitename or "",
    }


def _row(name: str, report: MetadataReport) -> str:
    cells = [f"{score.accuracy:6.1%} ({score.matched}/{score.total})" for score in report.fields]
    where = report.date_where_shown
    cells.append(f"{where.accuracy:6.1%} ({where.matched}/{where.total})")
    cells.append(f"{report.overall.accuracy:6.1%}")
    cells.append(str(report.dates_invented))
    return f"{name:<28}" + "".join(f"{cell:>18}" for cell in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--misses", action="store_true", help="list every mismatch")
    args = parser.parse_args()

    labels = load_labels(args.labels)
    settings = Settings()
    ours = partial(
        extract_metadata, rules=load_rules(known_detectors=KNOWN_DETECTORS), settings=settings
    )
    runs = {}
    for with_url in (True, False):
        pages = labelled_pages(labels, args.dev, with_url)
        suffix = "URL" if with_url else "no URL"
        runs[f"news-etl, {suffix}"] = evaluate_pages(pages, labels, ours)
        try:
            import trafilatura  # noqa: F401
        except ImportError:
            continue
        runs[f"trafilatura, {suffix}"] = evaluate_pages(pages, labels, trafilatura_metadata)
    if not any(name.startswith("trafilatura") for name in runs):
        print("trafilatura is not installed: only news-etl is scored")

    pages_count = next(iter(runs.values())).fields[0].total
    print(f"labelled pages: {pages_count}")
    header = ("title", "author", "date (all)", "publisher", "date (shown)", "overall", "bad dates")
    print(f"{'extractor':<28}" + "".join(f"{name:>18}" for name in header))
    for name, report in runs.items():
        print(_row(name, report))
    if args.misses:
        for page_id, field, label, predicted in runs["news-etl, URL"].misses:
            print(f"{page_id}\t{field}\t{label!r}\t{predicted!r}")


if __name__ == "__main__":
    main()
