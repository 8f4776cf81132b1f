"""Score a cleaner against gold article bodies with the bag-of-words token F1.

The rule is the one in shared/eval/README.md: tokens are ``re.findall(r"\\w+", text)``,
case-sensitive; ``tp`` is the sum over tokens of the smaller of the two counts;
``P = tp / |out|``, ``R = tp / |gold|``, ``F1 = 2PR / (P + R)``.
"""

import csv
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

TOKEN_PATTERN = re.compile(r"\w+")
MANIFEST_NAME = "manifest.tsv"
GOLD_SUFFIX = ".gold.txt"
ENGLISH = "en"
UNKNOWN_LANG = "unknown"


@dataclass(frozen=True, slots=True)
class PageScore:
    """Bag-of-words precision, recall and F1 of one output against its gold text."""

    precision: float
    recall: float
    f1: float
    out_tokens: int
    gold_tokens: int


@dataclass(frozen=True, slots=True)
class PageResult:
    """One evaluated page: the no-cleaning baseline score and the cleaner's score."""

    page_id: str
    lang: str  # manifest lang_guess, or "unknown" when the page has no manifest row
    site: str
    baseline: PageScore
    cleaned: PageScore


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """Mean and median of per-page precision, recall and F1."""

    f1_mean: float
    f1_median: float
    precision_mean: float
    precision_median: float
    recall_mean: float
    recall_median: float


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """Summary of a set of pages: "all", "en", or "lang=<lang_guess>"."""

    name: str
    pages: int
    baseline: ScoreSummary
    cleaned: ScoreSummary


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Per-page scores, group summaries and the time spent inside the cleaner."""

    pages: tuple[PageResult, ...]
    groups: tuple[GroupSummary, ...]
    clean_seconds: float

    @property
    def docs_per_second(self) -> float | None:
        """Pages cleaned per second of cleaner time; None when no time was measured."""
        if self.clean_seconds <= 0:
            return None
        return len(self.pages) / self.clean_seconds

    @property
    def english_pages(self) -> int:
        """Number of pages whose lang_guess is English."""
        return sum(1 for page in self.pages if page.lang == ENGLISH)

    def group(self, name: str) -> GroupSummary:
        """The summary named ``name`` ("all", "en", "lang=other", ...)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)


def tokenize(text: str) -> list[str]:
    """Split text into maximal runs of Unicode word characters, keeping case."""
    return TOKEN_PATTERN.findall(text)


def score_page(output: str, gold: str) -> PageScore:
    """Bag-of-words P, R and F1 of ``output`` against ``gold``.

    An empty output has P = 0, an empty gold has R = 0, and F1 = 0 when P + R = 0.
    """
    out_counts = Counter(tokenize(output))
    gold_counts = Counter(tokenize(gold))
    out_total = out_counts.total()
    gold_total = gold_counts.total()
    true_positives = (out_counts & gold_counts).total()
    precision = true_positives / out_total if out_total else 0.0
    recall = true_positives / gold_total if gold_total else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return PageScore(precision, recall, f1, out_total, gold_total)


def load_manifest(directory: Path) -> dict[str, dict[str, str]]:
    """Rows of ``directory/manifest.tsv`` keyed by page id; empty when there is no manifest."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def find_page_ids(directory: Path) -> list[str]:
    """Sorted ids of every ``<id>.txt`` in ``directory`` that has ``<id>.gold.txt`` beside it."""
    ids = []
    for path in Path(directory).glob("*.txt"):
        if path.name.endswith(GOLD_SUFFIX):
            continue
        page_id = path.name.removesuffix(".txt")
        if (path.parent / f"{page_id}{GOLD_SUFFIX}").is_file():
            ids.append(page_id)
    return sorted(ids)


def summarize_scores(scores: Iterable[PageScore]) -> ScoreSummary:
    """Mean and median of P, R and F1 over a non-empty set of page scores."""
    scores = list(scores)
    f1 = [score.f1 for score in scores]
    precision = [score.precision for score in scores]
    recall = [score.recall for score in scores]
    return ScoreSummary(
        f1_mean=statistics.fmean(f1),
        f1_median=statistics.median(f1),
        precision_mean=statistics.fmean(precision),
        precision_median=statistics.median(precision),
        recall_mean=statistics.fmean(recall),
        recall_median=statistics.median(recall),
    )


def summarize_pages(pages: Iterable[PageResult]) -> tuple[GroupSummary, ...]:
    """Summaries over all pages, English pages, and each other language; empty groups left out."""
    pages = list(pages)
    selections = [("all", pages), (ENGLISH, [page for page in pages if page.lang == ENGLISH])]
    for lang in sorted({page.lang for page in pages} - {ENGLISH}):
        selections.append((f"lang={lang}", [page for page in pages if page.lang == lang]))
    return tuple(
        GroupSummary(
            name=name,
            pages=len(selected),
            baseline=summarize_scores(page.baseline for page in selected),
            cleaned=summarize_scores(page.cleaned for page in selected),
        )
        for name, selected in selections
        if selected
    )


def evaluate_directory(
    directory: Path, clean: Callable[[str], str], out_dir: Path | None = None
) -> EvaluationReport:
    """Score ``clean`` and the no-cleaning baseline on every page with a gold file.

    Args:
        directory: folder of ``<id>.txt`` inputs, ``<id>.gold.txt`` gold bodies and an
            optional ``manifest.tsv`` giving each page's site and lang_guess.
        clean: the cleaner; a None result is scored as an empty output.
        out_dir: when given, each cleaned body is written to ``out_dir/<id>.txt``.
    """
    directory = Path(directory)
    page_ids = find_page_ids(directory)
    if not page_ids:
        raise ValueError(f"no <id>.txt with a matching <id>{GOLD_SUFFIX} in {directory}")
    manifest = load_manifest(directory)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)

    results = []
    clean_seconds = 0.0
    for page_id in page_ids:
        text = (directory / f"{page_id}.txt").read_text(encoding="utf-8")
        gold = (directory / f"{page_id}{GOLD_SUFFIX}").read_text(encoding="utf-8")
        started = time.perf_counter()
        cleaned = clean(text)
        clean_seconds += time.perf_counter() - started
        cleaned = cleaned or ""
        if out_dir is not None:
            (out_dir / f"{page_id}.txt").write_text(cleaned, encoding="utf-8")
        row = manifest.get(page_id, {})
        results.append(
            PageResult(
                page_id=page_id,
                lang=row.get("lang_guess") or UNKNOWN_LANG,
                site=row.get("site") or "",
                baseline=score_page(text, gold),
                cleaned=score_page(cleaned, gold),
            )
        )
    return EvaluationReport(
        pages=tuple(results), groups=summarize_pages(results), clean_seconds=clean_seconds
    )


def format_report(report: EvaluationReport, per_page: bool = True) -> str:
    """Plain-text table: optional per-page lines, then the summary block."""
    lines = []
    if per_page:
        id_width = max(len("id"), *(len(page.page_id) for page in report.pages))
        lines.append(
            f"{'id':<{id_width}}  {'lang':<7}  {'base P':>6}  {'base R':>6}  {'base F1':>7}"
            f"  {'clean P':>7}  {'clean R':>7}  {'clean F1':>8}"
        )
        for page in report.pages:
            lines.append(
                f"{page.page_id:<{id_width}}  {page.lang:<7}"
                f"  {page.baseline.precision:>6.3f}  {page.baseline.recall:>6.3f}"
                f"  {page.baseline.f1:>7.3f}  {page.cleaned.precision:>7.3f}"
                f"  {page.cleaned.recall:>7.3f}  {page.cleaned.f1:>8.3f}"
            )
        lines.append("")

    lines.append(f"pages: {len(report.pages)} (English {report.english_pages})")
    labels = [
        (f"{kind:<8} ({group.name})", getattr(group, kind))
        for group in report.groups
        for kind in ("baseline", "cleaned")
    ]
    label_width = max(len(label) for label, _ in labels) + 2
    lines.append(
        f"{'':<{label_width}}{'F1 mean':>7}  {'F1 median':>9}  {'P mean':>6}  {'R mean':>6}"
    )
    for label, summary in labels:
        lines.append(
            f"{label:<{label_width}}{summary.f1_mean:>7.3f}  {summary.f1_median:>9.3f}"
            f"  {summary.precision_mean:>6.3f}  {summary.recall_mean:>6.3f}"
        )
    speed = report.docs_per_second
    lines.append(
        f"cleaning speed: {speed:.1f} docs/s (one cold pass, model loading included; "
        "bench/bench_clean.py measures warm passes)"
        if speed is not None
        else "cleaning speed: n/a"
    )
    return "\n".join(lines)


def _score_to_dict(score: PageScore) -> dict[str, float | int]:
    """A PageScore as a plain dict."""
    return {
        "precision": score.precision,
        "recall": score.recall,
        "f1": score.f1,
        "out_tokens": score.out_tokens,
        "gold_tokens": score.gold_tokens,
    }


def _summary_to_dict(summary: ScoreSummary) -> dict[str, float]:
    """A ScoreSummary as a plain dict."""
    return {
        "f1_mean": summary.f1_mean,
        "f1_median": summary.f1_median,
        "precision_mean": summary.precision_mean,
        "precision_median": summary.precision_median,
        "recall_mean": summary.recall_mean,
        "recall_median": summary.recall_median,
    }


def report_to_dict(report: EvaluationReport) -> dict[str, object]:
    """The report as JSON-ready plain data."""
    return {
        "pages": len(report.pages),
        "english_pages": report.english_pages,
        "clean_seconds": report.clean_seconds,
        "docs_per_second": report.docs_per_second,
        "groups": {
            group.name: {
                "pages": group.pages,
                "baseline": _summary_to_dict(group.baseline),
                "cleaned": _summary_to_dict(group.cleaned),
            }
            for group in report.groups
        },
        "per_page": [
            {
                "id": page.page_id,
                "lang": page.lang,
                "site": page.site,
                "baseline": _score_to_dict(page.baseline),
                "cleaned": _score_to_dict(page.cleaned),
            }
            for page in report.pages
        ],
    }
