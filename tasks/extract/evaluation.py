"""Score extracted metadata against hand labels: exact match after normalization, per field.

Labels live in `tests/data/metadata_labels.tsv` (conventions in `tests/data/README.md`). A field
matches when the normalized prediction equals the normalized label; an empty label matches only
an empty prediction. Normalization: casefold, collapse whitespace, strip punctuation at both ends,
curly quotes read as straight ones. Authors compare as sets of names; dates as YYYY-MM-DD.
"""

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.clean.engine import clean_text
from tasks.clean.rules import RuleSet
from tasks.extract.engine import extract_article
from tasks.read.engine import normalize_text
from tasks.settings import Settings

FIELDS = ("title", "author", "published_date", "publisher")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
_AUTHOR_SEPARATOR = re.compile(r",\s*|\s+(?:and|&)\s+", re.IGNORECASE)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})

Prediction = dict[str, str]  # field -> value ("" when none)


@dataclass(frozen=True, slots=True)
class FieldScore:
    """Matches out of pages for one field."""

    field: str
    matched: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.matched / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class MetadataReport:
    """Per-field scores, the date scored only where the page shows one, and the misses."""

    fields: tuple[FieldScore, ...]
    date_where_shown: FieldScore
    dates_invented: int  # a date predicted where the page shows none
    misses: tuple[tuple[str, str, str, str], ...]  # (page id, field, label, prediction)

    @property
    def overall(self) -> FieldScore:
        return FieldScore(
            "overall",
            sum(score.matched for score in self.fields),
            sum(score.total for score in self.fields),
        )


def normalize_value(value: str | None) -> str:
    """Casefold, collapse spaces, straighten quotes, strip punctuation at the ends."""
    text = _SPACES.sub(" ", (value or "").translate(_QUOTES).casefold()).strip()
    return _EDGE_PUNCTUATION.sub("", text)


def _author_set(value: str) -> frozenset[str]:
    names = (normalize_value(name) for name in _AUTHOR_SEPARATOR.split(value or ""))
    return frozenset(name for name in names if name)


def field_matches(field: str, label: str, predicted: str) -> bool:
    """Whether `predicted` equals `label` for `field` after normalization."""
    if field == "author":
        return _author_set(label) == _author_set(predicted)
    return normalize_value(label) == normalize_value(predicted)


def load_labels(path: Path) -> dict[str, Prediction]:
    """Rows of the labels TSV keyed by page id."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["id"]: {name: row[name] or "" for name in FIELDS} for row in rows}


def load_urls(manifest: Path) -> dict[str, str]:
    """Page id -> URL from an eval manifest.tsv."""
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["id"]: row["url"] for row in rows}


def extract_metadata(text: str, source_uri: str, rules: RuleSet, settings: Settings) -> Prediction:
    """The pipeline's own extraction (normalize, clean, extract), as label-shaped strings."""
    cleaned = clean_text(normalize_text(text), rules, settings)
    article = extract_article(cleaned, source_uri, settings)
    published = article.published_at.date().isoformat() if article.published_at else ""
    return {
        "title": article.title or "",
        "author": article.author or "",
        "published_date": published,
        "publisher": article.publisher or "",
    }


def score_predictions(
    labels: Mapping[str, Prediction], predictions: Mapping[str, Prediction]
) -> MetadataReport:
    """Field-level exact-match accuracy of `predictions` over the labelled pages."""
    matched = dict.fromkeys(FIELDS, 0)
    shown = shown_matched = invented = 0
    misses = []
    for page_id, label in sorted(labels.items()):
        predicted = predictions[page_id]
        for field in FIELDS:
            if field_matches(field, label[field], predicted[field]):
                matched[field] += 1
            else:
                misses.append((page_id, field, label[field], predicted[field]))
        if label["published_date"]:
            shown += 1
            shown_matched += label["published_date"] == predicted["published_date"]
        elif predicted["published_date"]:
            invented += 1
    total = len(labels)
    return MetadataReport(
        fields=tuple(FieldScore(field, matched[field], total) for field in FIELDS),
        date_where_shown=FieldScore("published_date (where shown)", shown_matched, shown),
        dates_invented=invented,
        misses=tuple(misses),
    )


def evaluate_pages(
    pages: Iterable[tuple[str, str, str]],
    labels: Mapping[str, Prediction],
    extract: Callable[[str, str], Prediction],
) -> MetadataReport:
    """Score `extract(text, source_uri)` on (page id, text, source_uri) triples."""
    predictions = {page_id: extract(text, uri) for page_id, text, uri in pages}
    return score_predictions({key: labels[key] for key in predictions}, predictions)
