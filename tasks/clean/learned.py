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

from tasks.clean.words import more_word_runs_than
from tasks.settings import Settings

_NON_WORD = re.compile(r"\W+")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]»]*$")
# ASCII bytes: letters lowered, other word characters kept, every other byte a space. The split
# of a translated ASCII line is its word runs (_WORD), as line_key normalizes them.
_ASCII_WORD_RUNS = bytes(
    ord(chr(byte).lower()) if byte < 128 and (chr(byte).isalnum() or byte == ord("_")) else ord(" ")
    for byte in range(256)
)

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
    if more_word_runs_than(text, settings.learned_max_words):
        return False
    words = len(_WORD.findall(text))
    if words == 0:
        return False
    return not (words >= settings.prose_min_words and _SENTENCE_END.search(text))


class PageLines(dict[str, str]):
    """The learnable lines of one page by key (the first text of each), with every other text
    a key stands for and the page text they were read from (see LearnedKeys)."""

    __slots__ = ("source", "variants")

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.variants: dict[str, list[str]] = {}  # key -> texts other than the first


class LearnedKeys(frozenset[str]):
    """Keys of the learned lines of one page, with their texts when the page is known.

    `texts` holds every line of `source` whose key is learned, so that `clean_text` of that
    same text finds its learned lines without hashing them again.
    """

    __slots__ = ("source", "texts")


def page_lines(text: str, settings: Settings) -> PageLines:
    """The learnable lines of one page, by key (each counted once per page).

    An ASCII line is read with bytes operations: its lower-cased word runs (what `line_key`
    normalizes it to) come from one translate and one split; other lines go through
    `is_learnable` and `line_key`.
    """
    page = PageLines(text)
    max_words, prose_min_words = settings.learned_max_words, settings.prose_min_words
    for raw in text.split("\n"):
        if not raw:
            continue
        if raw.isascii():
            words = raw.encode().translate(_ASCII_WORD_RUNS).split(None, max_words)
            if not 0 < len(words) <= max_words:  # more than max_words runs leaves a remainder
                continue
            line = " ".join(raw.split())
            if len(words) >= prose_min_words and _SENTENCE_END.search(line):
                continue
            key = hashlib.blake2b(b" ".join(words), digest_size=8).hexdigest()
        else:
            line = " ".join(raw.split())
            if not line or not is_learnable(line, settings):
                continue
            key = line_key(line)
        first = page.setdefault(key, line)
        if first != line and line not in page.variants.setdefault(key, []):
            page.variants[key].append(line)
    return page


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
) -> LearnedKeys:
    """Keys of the page's lines that are boilerplate for its source (with their texts when
    `page` comes from `page_lines`)."""
    learned = LearnedKeys(
        key
        for key in page
        if prior.get((source, key), 0) + batch.counts.get((source, key), 0)
        >= settings.learned_min_docs
    )
    if isinstance(page, PageLines):
        learned.source = page.source
        learned.texts = frozenset(page[key] for key in learned).union(
            *(page.variants.get(key, ()) for key in learned)
        )
    return learned
