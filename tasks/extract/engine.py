"""Read article metadata and structure from the cleaner's line decisions."""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlparse

from tasks.clean.engine import CleanedDocument, LineDecision
from tasks.extract.dates import parse_timestamp_line
from tasks.settings import Settings

_WORD = re.compile(r"\w+")
# Place names in capitals opening a story, as in TOKYO: or WASHINGTON (Reuters) -
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’-]+(?:[ ,]+[A-Z][A-Z.'’-]+){0,3})"
    r"(?:\s*\((?P<agency>[A-Za-z .&]{2,30})\))?\s*(?::|\s[-–—]+)\s+(?=\S)"
)
_LEGAL_SUFFIX = re.compile(
    r"[,\s]+(?:L\.?P\.?|Inc\.?|Ltd\.?|LLC|Corp\.?|Corporation|Company|Co\.|Limited|plc|GmbH|S\.A\.)$",
    re.IGNORECASE,
)
_COPYRIGHT_TAIL = re.compile(
    r"(?:\.\s|,\s|\s\|\s|\s[-–]\s|\s+all rights reserved).*$", re.IGNORECASE
)
_LEADING_THE_CONTENTS = re.compile(r"^(?:by|the contents of this site are)\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Paragraph:
    position: int
    kind: str
    text: str
    line_number: int


@dataclass(frozen=True, slots=True)
class Caption:
    line_number: int
    text: str | None
    credit: str | None


@dataclass(frozen=True, slots=True)
class Removal:
    line_number: int
    text: str
    rule_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """Fields, body and audit trail of one article, ready to become table rows."""

    title: str | None
    subtitle: str | None
    author: str | None
    published_at: datetime | None
    published_at_text: str | None
    section: str | None
    dateline: str | None
    update_note: str | None
    publisher: str | None
    language: str | None
    paragraphs: tuple[Paragraph, ...]
    captions: tuple[Caption, ...]
    removals: tuple[Removal, ...]

    @property
    def body_text(self) -> str:
        return "\n\n".join(paragraph.text for paragraph in self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(_WORD.findall(self.body_text))


def _first_value(lines: list[LineDecision], role: str) -> str | None:
    return next((line.value for line in lines if line.role == role and line.value), None)


def _published_at(lines: list[LineDecision]) -> tuple[datetime | None, str | None]:
    stamps = [parse_timestamp_line(line.text) for line in lines if line.role == "timestamp"]
    stamps = [stamp for stamp in stamps if stamp is not None]
    if not stamps:
        return None, None
    published = [stamp for stamp in stamps if stamp.label != "updated"] or stamps
    return published[0].value, published[0].text


def normalize_publisher(raw: str) -> str | None:
    """'©2023 Bloomberg L.P.' holder text -> 'Bloomberg'; None when nothing name-like is left."""
    name = _LEADING_THE_CONTENTS.sub("", raw.strip())
    name = _COPYRIGHT_TAIL.sub("", name).strip(" .,")
    previous = None
    while previous != name:
        previous, name = name, _LEGAL_SUFFIX.sub("", name).strip(" .,")
    return name if _WORD.search(name) and len(name) <= 80 else None


def _publisher(lines: list[LineDecision], source_uri: str) -> str | None:
    for role in ("publisher", "masthead", "publisher_domain"):
        for line in lines:
            if line.role == role and line.value:
                name = normalize_publisher(line.value) if role == "publisher" else line.value
                if name:
                    return name
    host = urlparse(source_uri).hostname if source_uri.startswith(("http:", "https:")) else None
    return host.removeprefix("www.") if host else None


@lru_cache(maxsize=1)
def _language_identifier():
    import py3langid  # loads its model on first use

    return py3langid


def identify_language(text: str, settings: Settings) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short to tell."""
    if len(_WORD.findall(text)) < settings.language_min_words:
        return None
    # A few hundred words identify the language as well as the whole text does, far faster.
    language, _score = _language_identifier().classify(text[: settings.language_sample_chars])
    return language


def split_dateline(text: str) -> tuple[str | None, str]:
    """'TOKYO: The United States...' -> ('TOKYO', 'The United States...')."""
    match = _DATELINE.match(text)
    if match is None or sum(char.isalpha() for char in match.group("place")) < 3:
        return None, text
    place = match.group("place").strip(" ,")
    agency = match.group("agency")
    return (f"{place} ({agency})" if agency else place), text[match.end() :]


def extract_article(
    cleaned: CleanedDocument, source_uri: str, settings: Settings
) -> ExtractedArticle:
    """Collect fields from the classified lines; split the dateline off the first paragraph."""
    lines = list(cleaned.lines)
    paragraphs: list[Paragraph] = []
    dateline = None
    for line in cleaned.body:
        text = line.content
        if not paragraphs and line.role == "paragraph":
            dateline, text = split_dateline(text)
        paragraphs.append(Paragraph(len(paragraphs), line.role, text, line.line_number))
    captions = tuple(
        Caption(line.line_number, line.caption, line.value)
        for line in lines
        if line.role == "caption" or (line.role == "credit" and not line.attached)
    )
    removals = tuple(
        Removal(
            line.line_number, line.text, line.rule_id or "structural.unknown", line.reason or ""
        )
        for line in cleaned.removed
    )
    notes = [line.marker for line in lines if line.marker]
    notes += [line.value for line in lines if line.role == "update_note" and line.value]
    authors = [line.value for line in lines if line.role == "byline" and line.value]
    published_at, published_at_text = _published_at(lines)
    body_text = "\n\n".join(paragraph.text for paragraph in paragraphs)
    return ExtractedArticle(
        title=_first_value(lines, "title"),
        subtitle=_first_value(lines, "subtitle"),
        author=", ".join(dict.fromkeys(authors)) or None,
        published_at=published_at,
        published_at_text=published_at_text,
        section=_first_value(lines, "section"),
        dateline=dateline,
        update_note="; ".join(notes) or None,
        publisher=_publisher(lines, source_uri),
        language=identify_language(body_text, settings),
        paragraphs=tuple(paragraphs),
        captions=captions,
        removals=removals,
    )
