"""Read article metadata and structure from the cleaner's line decisions."""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from tasks.clean.decisions import KEPT_ROLES, CleanedDocument, LineDecision
from tasks.clean.words import count_word_runs, more_word_runs_than
from tasks.extract.bylines import author_names, split_dated_byline
from tasks.extract.dates import ParsedTimestamp, parse_timestamp_line
from tasks.extract.quotes import Quote, find_quotes
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
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_BRAND_WORD = re.compile(r"[\w'’.&-]+")
_POSSESSIVE = re.compile(r"['’]s$")
_SECOND_LEVEL_LABELS = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"})
_HOST_NAME_MIN_CHARS = 3
_DOMAIN_SPELLING = 2
_HOST_NAME_MAX_WORDS = 5
_FILE_EXTENSION = re.compile(r"\.(?:html?|php|aspx?|jsp)$")
_SLUG_WORD = re.compile(r"[a-z]+|\d{1,4}(?!\d)")
_APOSTROPHE = re.compile(r"['’]")
_ADDRESS = re.compile(r"://|\bwww\.")
_SLUG_MIN_WORDS = 3
_SLUG_LINE_MAX_CHARS = 300
_SLUG_MIN_MATCH = 0.6
# Bylines this close to the nearest one belong to the same byline block.
_BYLINE_GROUP_LINES = 3
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
class FieldSource:
    """Where a field's value came from: the input line, or the source URL (line_number None)."""

    field: str
    line_number: int | None
    evidence: str


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """Fields, body and audit trail of one article, ready to become table rows."""

    title: str | None
    subtitle: str | None
    author: str | None
    published_at: datetime | None
    published_at_text: str | None
    date_confidence: str | None
    updated_at: datetime | None
    section: str | None
    dateline: str | None
    update_note: str | None
    publisher: str | None
    language: str | None
    paragraphs: tuple[Paragraph, ...]
    captions: tuple[Caption, ...]
    removals: tuple[Removal, ...]
    quotes: tuple[Quote, ...] = ()
    field_sources: tuple[FieldSource, ...] = ()

    @property
    def body_text(self) -> str:
        return "\n\n".join(paragraph.text for paragraph in self.paragraphs)

    @property
    def word_count(self) -> int:
        return count_word_runs(self.body_text)


def _first_value(lines: list[LineDecision], role: str) -> str | None:
    return next((line.value for line in lines if line.role == role and line.value), None)


def _distance(line: LineDecision, anchor: int | None) -> int:
    return abs(line.line_number - anchor) if anchor is not None else line.line_number


_STAMP_ROLES = frozenset({"timestamp", "byline"})


def _stamp(line: LineDecision) -> ParsedTimestamp | None:
    if line.role == "timestamp":
        return parse_timestamp_line(line.text)
    if line.role == "byline":
        found = split_dated_byline(line.text)
        return found[1] if found else None
    return None


def _stamps(lines: list[LineDecision]) -> list[tuple[LineDecision, ParsedTimestamp]]:
    """Timestamp lines and dated bylines with their stamps, in line order."""
    return [
        (line, stamp)
        for line in lines
        if line.role in _STAMP_ROLES and (stamp := _stamp(line)) is not None
    ]


def _published_at(
    stamps: list[tuple[LineDecision, ParsedTimestamp]], title_line: int | None
) -> tuple[ParsedTimestamp, LineDecision] | None:
    """The publication stamp nearest the headline; an update stamp only when there is no other.

    Stamps come from timestamp lines and dated bylines only, never from captions or body text.
    """
    if not stamps:
        return None
    published = [pair for pair in stamps if "updated" not in (pair[1].label or "")] or stamps
    line, stamp = min(published, key=lambda pair: _distance(pair[0], title_line))
    return stamp, line


def _updated_at(
    stamps: list[tuple[LineDecision, ParsedTimestamp]],
    title_line: int | None,
    published: LineDecision | None,
) -> ParsedTimestamp | None:
    """The update stamp nearest the headline, when the page prints one beside its date."""
    updates = [
        (line, stamp)
        for line, stamp in stamps
        if line is not published and "updated" in (stamp.label or "")
    ]
    if not updates:
        return None
    return min(updates, key=lambda pair: _distance(pair[0], title_line))[1]


def date_confidence(stamp: ParsedTimestamp | None) -> str | None:
    """'high', 'ambiguous_day_month' (e.g. 01/07/2022) or 'update_stamp_only'; None: no date."""
    if stamp is None:
        return None
    if stamp.day_month_ambiguous:
        return "ambiguous_day_month"
    return "update_stamp_only" if "updated" in (stamp.label or "") else "high"


def _authors(
    lines: list[LineDecision], title_line: int | None, publisher: str | None
) -> tuple[str | None, list[LineDecision]]:
    """Names on the byline nearest the headline (and bylines right beside it).

    The publication itself ('By Jo Lee, Business Insider') is not an author unless it is the
    only name on the byline.
    """
    bylines = [line for line in lines if line.role == "byline" and line.value]
    if not bylines:
        return None, []
    nearest = min(bylines, key=lambda line: _distance(line, title_line))
    names: list[str] = []
    used = []
    for line in bylines:
        if abs(line.line_number - nearest.line_number) <= _BYLINE_GROUP_LINES:
            found = author_names(line.value or "")
            names += found
            used += [line] if found else []
    outlet = _compact(publisher or "")
    people = [name for name in names if _compact(name) != outlet]
    return ", ".join(dict.fromkeys(people or names)) or None, used


def normalize_publisher(raw: str) -> str | None:
    """'©2023 Bloomberg L.P.' holder text -> 'Bloomberg'; None when nothing name-like is left."""
    name = _LEADING_THE_CONTENTS.sub("", raw.strip())
    name = _COPYRIGHT_TAIL.sub("", name).strip(" .,")
    previous = None
    while previous != name:
        previous, name = name, _LEGAL_SUFFIX.sub("", name).strip(" .,")
    return name if _WORD.search(name) and len(name) <= 80 else None


def _web_host(source_uri: str) -> str | None:
    host = urlparse(source_uri).hostname if source_uri.startswith(("http:", "https:")) else None
    return host.removeprefix("www.") if host else None


def _compact(text: str) -> str:
    return _NOT_ALNUM.sub("", text.casefold())


def _host_name(host: str) -> str:
    """'www.pv-magazine.com' -> 'pvmagazine'; 'news.example.co.kr' -> 'example'."""
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL_LABELS:
        return _compact(labels[-3])
    return _compact(labels[-2] if len(labels) >= 2 else labels[0])


def _name_matching_host(
    lines: list[LineDecision], host: str
) -> tuple[int, str, LineDecision] | None:
    """The words on the page that spell the site's host name: 'thehill.com' -> 'The Hill'.

    Returns (kind, spelling): 0 for a name spelled with 'The' before it ('The Detroit News'),
    1 for the bare name ('CBS Sports'), 2 for a domain spelling ('Barrons.com'). Within the
    chosen kind, the spelling with the most words wins, then the most frequent.
    """
    name = _host_name(host)
    if len(name) < _HOST_NAME_MIN_CHARS:
        return None
    wanted = {f"the{name}": 0, name: 1, f"{name}com": 2}
    found: Counter[tuple[int, str]] = Counter()
    first_line: dict[tuple[int, str], LineDecision] = {}
    longest = len(name) + 5
    for line in lines:
        words = _BRAND_WORD.findall(line.text)
        # _compact of joined words is the join of each word's _compact (it works per character)
        compact = [_compact(word) for word in words]
        for start in range(len(words)):
            key = ""
            for end in range(start + 1, min(start + _HOST_NAME_MAX_WORDS, len(words)) + 1):
                before, key = key, key + compact[end - 1]
                if len(key) > longest:
                    break
                window = words[start:end]
                if key not in wanted:
                    window = [*window[:-1], _POSSESSIVE.sub("", window[-1])]
                    key_without_s = before + _compact(window[-1])
                    if key_without_s in wanted:
                        spelling = (wanted[key_without_s], " ".join(window))
                        found[spelling] += 1
                        first_line.setdefault(spelling, line)
                else:
                    spelling = (wanted[key], " ".join(window))
                    found[spelling] += 1
                    first_line.setdefault(spelling, line)
                if not any(target.startswith(key) for target in wanted):
                    break  # every longer window's key starts with this one
    if not found:
        return None
    totals: Counter[int] = Counter()
    for (kind, _text), count in found.items():
        totals[kind] += count
    # 'The Detroit News' only when the page writes 'The' at least as often as not.
    best_kind = 0 if totals[0] >= max(totals[1], 1) else min(kind for kind in totals if kind)
    spellings = [
        (len(text.split()), count, text)
        for (kind, text), count in found.items()
        if kind == best_kind
    ]
    text = max(spellings, key=lambda item: item[:2])[2]
    return best_kind, text, first_line[(best_kind, text)]


def _publisher(lines: list[LineDecision], source_uri: str) -> tuple[str | None, FieldSource | None]:
    """The site's name as the page spells its host; else the copyright holder, masthead or
    'more stories on' domain; else a domain spelling of the host, else the host itself."""
    host = _web_host(source_uri)
    named = _name_matching_host(lines, host) if host else None
    if named and named[0] < _DOMAIN_SPELLING:
        return named[1], FieldSource("publisher", named[2].line_number, named[2].text)
    for role in ("publisher", "masthead", "publisher_domain"):
        for line in lines:
            if line.role == role and line.value:
                name = normalize_publisher(line.value) if role == "publisher" else line.value
                if name:
                    return name, FieldSource("publisher", line.line_number, line.text)
    if named:
        return named[1], FieldSource("publisher", named[2].line_number, named[2].text)
    return host, FieldSource("publisher", None, source_uri) if host else None


def _slug_tokens(source_uri: str) -> set[str]:
    """Words of the URL path segment that reads most like a headline slug."""
    if not _web_host(source_uri):
        return set()
    segments = [_FILE_EXTENSION.sub("", part) for part in urlparse(source_uri).path.split("/")]
    words = max((_SLUG_WORD.findall(part.casefold()) for part in segments), key=len, default=[])
    return set(words) if len(words) >= _SLUG_MIN_WORDS else set()


def _line_tokens(text: str) -> set[str]:
    return set(_SLUG_WORD.findall(_APOSTROPHE.sub("", text.casefold())))


def _slug_match(text: str, slug: set[str]) -> float:
    tokens = _line_tokens(text)
    return 2 * len(tokens & slug) / (len(tokens) + len(slug)) if tokens else 0.0


def _title(lines: list[LineDecision], source_uri: str) -> LineDecision | None:
    """The headline the cleaner found, unless the page's URL slug spells another line far better.

    Real inputs come with their URL; the slug is the site's own name for the story.
    """
    title = next((line for line in lines if line.role == "title" and line.value), None)
    slug = _slug_tokens(source_uri)
    if not slug:
        return title
    current = _slug_match(title.text, slug) if title else 0.0
    best_score, best = current, title
    for line in lines:
        if line.kept or len(line.text) > _SLUG_LINE_MAX_CHARS or _ADDRESS.search(line.text):
            continue
        score = _slug_match(line.text, slug)
        if score > best_score:
            best_score, best = score, line
    return best if best_score >= _SLUG_MIN_MATCH and best_score > current + 0.2 else title


def identify_language(text: str, settings: Settings) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short to tell."""
    if not more_word_runs_than(text, settings.language_min_words - 1):
        return None
    # A few hundred words identify the language as well as the whole text does, far faster.
    from tasks.extract.language import classify_language  # loads numpy and the model

    return classify_language(text[: settings.language_sample_chars])


def split_dateline(text: str) -> tuple[str | None, str]:
    """'TOKYO: The United States...' -> ('TOKYO', 'The United States...')."""
    match = _DATELINE.match(text)
    if match is None or sum(char.isalpha() for char in match.group("place")) < 3:
        return None, text
    place = match.group("place").strip(" ,")
    agency = match.group("agency")
    return (f"{place} ({agency})" if agency else place), text[match.end() :]


class _MutableRemoval:
    """Removal's slots without its frozen __setattr__ (see _removals)."""

    __slots__ = Removal.__slots__


def _removals(lines: list[LineDecision]) -> tuple[Removal, ...]:
    """A Removal for each removed line, built without the frozen dataclass's __init__.

    As for the cleaner's LineDecisions (`tasks.clean.decisions.decisions_of`): each is filled as a
    _MutableRemoval (same slots) and then given the Removal class, the same object the
    constructor makes, at a fraction of the cost (pages remove a hundred lines and more).
    """
    new = object.__new__
    removals = []
    for line in lines:
        if line.role in KEPT_ROLES:
            continue
        removal = new(_MutableRemoval)
        removal.line_number = line.line_number
        removal.text = line.text
        removal.rule_id = line.rule_id or "structural.unknown"
        removal.reason = line.reason or ""
        removal.__class__ = Removal
        removals.append(removal)
    return tuple(removals)


def extract_article(
    cleaned: CleanedDocument, source_uri: str, settings: Settings
) -> ExtractedArticle:
    """Collect fields from the classified lines; split the dateline off the first paragraph."""
    lines = list(cleaned.lines)
    paragraphs: list[Paragraph] = []
    dateline = None
    for line in lines:
        if line.role not in KEPT_ROLES:
            continue
        text = line.content
        if not paragraphs and line.role == "paragraph":
            dateline, text = split_dateline(text)
        paragraphs.append(Paragraph(len(paragraphs), line.role, text, line.line_number))
    captions = tuple(
        Caption(line.line_number, line.caption, line.value)
        for line in lines
        if line.role == "caption" or (line.role == "credit" and not line.attached)
    )
    removals = _removals(lines)
    notes = [line.marker for line in lines if line.marker]
    notes += [line.value for line in lines if line.role == "update_note" and line.value]
    title = _title(lines, source_uri)
    title_line = title.line_number if title else None
    stamps = _stamps(lines)
    stamp = _published_at(stamps, title_line)
    updated = _updated_at(stamps, title_line, stamp[1] if stamp else None)
    publisher, publisher_source = _publisher(lines, source_uri)
    author, byline_lines = _authors(lines, title_line, publisher)
    sources = [FieldSource("title", title.line_number, title.text)] if title else []
    sources += [FieldSource("author", line.line_number, line.text) for line in byline_lines]
    if stamp:
        sources.append(FieldSource("published_at", stamp[1].line_number, stamp[1].text))
    sources += [publisher_source] if publisher_source else []
    for field in ("subtitle", "section"):
        line = next((line for line in lines if line.role == field and line.value), None)
        sources += [FieldSource(field, line.line_number, line.text)] if line else []
    if dateline and paragraphs:
        sources.append(FieldSource("dateline", paragraphs[0].line_number, dateline))
    body_text = "\n\n".join(paragraph.text for paragraph in paragraphs)
    return ExtractedArticle(
        title=(title.value if title.role == "title" else title.text) if title else None,
        subtitle=_first_value(lines, "subtitle"),
        author=author,
        published_at=stamp[0].value if stamp else None,
        published_at_text=stamp[0].text if stamp else None,
        date_confidence=date_confidence(stamp[0] if stamp else None),
        updated_at=updated.value if updated else None,
        section=_first_value(lines, "section"),
        dateline=dateline,
        update_note="; ".join(notes) or None,
        publisher=publisher,
        language=identify_language(body_text, settings),
        paragraphs=tuple(paragraphs),
        captions=captions,
        removals=removals,
        quotes=find_quotes((p.position, p.text) for p in paragraphs if p.kind == "paragraph"),
        field_sources=tuple(sources),
    )
