"""Learned boilerplate: short lines that recur across many pages of one source.

A source is the host of an http(s) URI, else the folder a file sits in. Every short line of every
landed page is counted once per page (`learned_lines` rows, append-only, summed when read). A
line seen on at least `settings.learned_min_docs` pages of its source is boilerplate for that
source: the cleaner removes it with the rule `learned.site-boilerplate`.

Deliberate choice: a recurring line that reads as prose (a sentence of at least
`settings.prose_min_words` words, such as an editor's note or sign-off) is never learned, so it
stays in the article where it is printed; only navigation-like lines are.
"""

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from tasks.settings import Settings

_NON_WORD = re.compile(r"\W+")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]»]*$")

LineCounts = Mapping[tuple[str, str], int]  # (source_key, line_key) -> pages seen


def source_key(source_uri: str) -> str:
    """The site a page belongs to: URL host, else the folder of the file."""
    parsed = urlparse(source_uri)
    if parsed.scheme in ("http", "https") and parsed.hostname:
        return parsed.hostname.removeprefix("www.")
    if parsed.scheme == "file":
        return str(PurePosixPath(unquote(parsed.path)).parent)
    return str(PurePosixPath(source_uri).parent)


def line_key(text: str) -> str:
    """A short stable key for a line, insensitive to case, spacing and punctuation."""
    normalized = _NON_WORD.sub(" ", text.casefold()).strip()
    return hashlib.blake2b(normalized.encode(), digest_size=8).hexdigest()


def is_learnable(text: str, settings: Settings) -> bool:
    """Short lines only; prose sentences stay article text even when they recur."""
    words = len(_WORD.findall(text))
    if words == 0 or words > settings.learned_max_words:
        return False
    return not (words >= settings.prose_min_words and _SENTENCE_END.search(text))


def page_lines(text: str, settings: Settings) -> dict[str, str]:
    """The learnable lines of one page, by key (each counted once per page)."""
    lines: dict[str, str] = {}
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line and is_learnable(line, settings):
            lines.setdefault(line_key(line), line)
    return lines


@dataclass(frozen=True, slots=True)
class LearnedCounts:
    """Pages seen per (source, line) in one batch, with a sample text for each line."""

    counts: Counter[tuple[str, str]]
    texts: dict[tuple[str, str], str]

    @classmethod
    def from_pages(cls, pages: Iterable[tuple[str, dict[str, str]]]) -> "LearnedCounts":
        counts: Counter[tuple[str, str]] = Counter()
        texts: dict[tuple[str, str], str] = {}
        for source, lines in pages:
            for key, text in lines.items():
                counts[(source, key)] += 1
                texts.setdefault((source, key), text)
        return cls(counts=counts, texts=texts)


def learned_keys(
    source: str, page: dict[str, str], prior: LineCounts, batch: LearnedCounts, settings: Settings
) -> frozenset[str]:
    """Keys of the page's lines that are boilerplate for its source."""
    return frozenset(
        key
        for key in page
        if prior.get((source, key), 0) + batch.counts.get((source, key), 0)
        >= settings.learned_min_docs
    )
