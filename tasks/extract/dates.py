"""Recognize and parse publication timestamps printed on their own line."""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

# Labels and bullets that may stand before a timestamp: "- ", "Published:", "Updated on".
_PREFIX = re.compile(
    r"^(?:[-•·|*]\s*)?(?:(?P<label>published|posted|updated|last updated|first published|date)"
    r"(?:\s+on)?\s*:?\s*)?",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_WORD = re.compile(r"\w+")
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
# Words allowed in a timestamp line besides numbers: month and day names, am/pm, zones.
_DATE_WORDS = re.compile(
    rf"^(?:{_MONTHS}|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|am|pm|a|p|m|utc|gmt|est|edt|cst|cdt|pst|pdt|bst|cet|cest|"
    r"ist|jst|kst|sgt|hkt|aest|aedt|et|pt|z|t|at|on|of|the|st|nd|rd|th|\d+(?:st|nd|rd|th)?)$",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_SLASHED = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.]((?:19|20)\d{2})\b")
# A date inside a longer line ("By Jo Lee - 11/19/19 06:56 AM EST", "by Jo Lee — May 2, 2019").
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_SPAN = re.compile(
    rf"(?i)\b(?:{_WEEKDAY}(?:{_MONTHS})\.?\s+{_DAY},?\s+(?:19|20)\d{{2}}"
    rf"|{_WEEKDAY}{_DAY}\s+(?:{_MONTHS})\.?,?\s+(?:19|20)\d{{2}}"
    r"|(?:19|20)\d{2}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}/\d{1,2}/(?:(?:19|20)\d{2}|\d{2}))\b"
)
# Separators between the parts of a dateline: "May 2, 2019 / 12:21 AM / Updated 14 hours ago".
_PART_SEPARATOR = re.compile(r"\s+[/•|]\s+")
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
_SHORT_PART_WORDS = 4


@dataclass(frozen=True, slots=True)
class ParsedTimestamp:
    """A timestamp read from a line: the value, the text it came from, and its confidence."""

    value: datetime
    text: str
    label: str | None  # "published", "updated", ... when the line names it
    day_month_ambiguous: bool


def _looks_like_timestamp(body: str) -> bool:
    words = _WORD.findall(body)
    return (
        bool(_YEAR.search(body))
        and 2 <= len(words) <= 12
        and all(_DATE_WORDS.match(word) for word in words)
    )


# Formats tried with strptime before dateparser (which costs about 10 ms a call).
_FAST_FORMATS = (
    "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y",
    "%B %d, %Y %I:%M %p", "%b %d, %Y %I:%M %p", "%B %d, %Y, %I:%M %p", "%b %d, %Y, %I:%M %p",
    "%I:%M %p, %b %d, %Y", "%I:%M %p, %B %d, %Y", "%I:%M %p %b %d, %Y",
    "%a, %m/%d/%Y %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y, %H:%M", "%d.%m.%Y %H:%M",
    "%d.%m.%Y", "%a, %d %b %Y %H:%M", "%a %d %b %Y", "%A, %B %d, %Y", "%A %d %B %Y",
    "%B %d, %Y %H:%M", "%Y/%m/%d %H:%M", "%Y/%m/%d",
)  # fmt: skip
_ZONE_SUFFIX = re.compile(
    r"\s+(?:UTC|GMT|[ECMP][SD]T|BST|CES?T|IST|JST|KST|SGT|HKT|AE[SD]T|ET|PT)$"
)


# A format can only parse a text of its shape: runs of digits and of letters as one symbol
# each, spaces dropped ('May 5, 2020' and '%B %d, %Y' are both 'a9,9'). Formats are tried
# only on texts of their shape, which spares most failed strptime calls (and their errors).
_DIGIT_RUN = re.compile(r"\d+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_SPACE_RUN = re.compile(r"\s+")
_DIRECTIVE = re.compile(r"%[dmYHIM]|%[BbAap]")


def _shape(text: str) -> str:
    return _SPACE_RUN.sub("", _DIGIT_RUN.sub("9", _LETTER_RUN.sub("a", text)))


@lru_cache(maxsize=1)
def _formats_by_shape() -> dict[str, tuple[str, ...]] | None:
    """The fast formats by shape; None when the locale's names are not all letters."""
    import calendar

    names = [*calendar.month_name[1:], *calendar.month_abbr[1:], *calendar.day_name]
    names += [*calendar.day_abbr, datetime(2000, 1, 1, 1).strftime("%p")]
    names += [datetime(2000, 1, 1, 13).strftime("%p")]
    if not all(name.isalpha() for name in names):
        return None
    shapes: dict[str, list[str]] = {}
    for pattern in _FAST_FORMATS:
        literal = _DIRECTIVE.sub("", pattern)
        if "%" in literal or any(char.isalnum() for char in literal):
            raise ValueError(f"fast date format with a literal letter or '%': {pattern}")
        shape = _SPACE_RUN.sub(
            "", _DIRECTIVE.sub(lambda m: "9" if m[0][1] in "dmYHIM" else "a", pattern)
        )
        shapes.setdefault(shape, []).append(pattern)
    return {shape: tuple(patterns) for shape, patterns in shapes.items()}


def _strptime(text: str) -> datetime | None:
    candidate = _ZONE_SUFFIX.sub("", text.replace(".", "" if "." not in text[:3] else "."))
    candidate = re.sub(r"\b([AaPp])\.?[Mm]\.?$", lambda m: m.group(1).upper() + "M", candidate)
    candidate = re.sub(r"\b(Sept)\b", "Sep", candidate.replace(" at ", " "))
    by_shape = _formats_by_shape()
    for variant in (candidate, candidate.replace(".", "")):
        patterns = _FAST_FORMATS if by_shape is None else by_shape.get(_shape(variant), ())
        for pattern in patterns:
            try:
                return datetime.strptime(variant, pattern)
            except ValueError:
                continue
    return None


# Stamps with a time of day ('10:01 pm PST, Tuesday, November 19, 2019', 'Nov. 18th 2019 8:54 am
# PT', '11.14.2019 09:00 AM') are read here as dateparser reads them, without its cost (a few
# milliseconds a call). Any other token sequence, or a value this reading is unsure of, goes to
# dateparser. tests/test_clean_speed_equivalence.py checks the readings against dateparser.
_STAMP_TOKEN = re.compile(
    r"\s*(?:(?P<numeric>\d{1,2}([./])\d{1,2}\2\d{4})|(?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
    r"|(?P<number>\d+)(?P<ordinal>st|nd|rd|th)?|(?P<word>[A-Za-z]+)\.?|,)",
    re.IGNORECASE | re.ASCII,  # other digits and spaces are left to dateparser
)
_MERIDIEM = re.compile(r"\b([AaPp])\.?[Mm]\b\.?", re.ASCII)
_MONTH_NAMES = (
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may", "may"),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december"),
)  # fmt: skip
_MONTH_NUMBERS = {name: n for n, names in enumerate(_MONTH_NAMES, 1) for name in names} | {
    "sept": 9
}
_WEEKDAY_NAMES = frozenset({
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
})  # fmt: skip
# Zones dateparser accepts after a time and leaves out of a naive value (no conversion).
_ZONE_NAMES = frozenset({
    "utc", "gmt", "est", "edt", "cst", "cdt", "pst", "pdt", "bst", "cet", "cest", "ist", "jst",
    "kst", "sgt", "hkt", "aest", "aedt", "et", "pt", "z",
})  # fmt: skip
# Token sequences read here: D a date, T a time (with its 'at', am/pm and zone), W a weekday.
_STAMP_SHAPES = frozenset({"DT", "WDT", "TD", "TWD"})
_Token = tuple[str, str]  # (kind, text): numeric, time, number, day (with ordinal), word
_TOKEN_KINDS = ("numeric", "time", "number", "word")


def _stamp_tokens(text: str) -> list[_Token] | None:
    """The tokens of a stamp; None when a character is none of theirs."""
    text = _MERIDIEM.sub(lambda match: " " + match.group(1).lower() + "m", text)
    tokens = []
    at = 0
    while (token := _STAMP_TOKEN.match(text, at)) is not None and token.end() > at:
        at = token.end()
        kind = next((kind for kind in _TOKEN_KINDS if token.group(kind)), None)
        if kind is not None:
            value = token.group(kind).lower()
            tokens.append(("day" if kind == "number" and token.group("ordinal") else kind, value))
    return tokens if not text[at:].strip() else None


def known_stamp(text: str) -> tuple[bool, datetime | None]:
    """(True, what dateparser makes of `text`) for the shapes read here; (False, None) else.

    Besides stamps with a time, two shapes dateparser reads as nothing are known: a 24-hour time
    of four digits before a zone and a date (CNN's '0339 GMT November 19, 2019'), and a time
    with a year alone ('15:23 2019').
    """
    tokens = _stamp_tokens(text)
    if tokens is None:
        return False, None
    kinds = [kind for kind, _value in tokens]
    if (
        kinds in (["time", "number"], ["number", "time"])
        and len(tokens[kinds.index("number")][1]) == 4
    ):
        return True, None  # a time and a year: no day, no month
    if (
        len(tokens) >= 2
        and tokens[0][0] == "number"
        and len(tokens[0][1]) == 4
        and tokens[1][0] == "word"
        and tokens[1][1] in _ZONE_NAMES
        and _date_block(tokens, 2) == (len(tokens), True)
    ):
        return True, None
    value = _stamp_value(tokens)
    return value is not None, value


def _stamp_value(tokens: list[_Token]) -> datetime | None:
    shape, date, clock = [], None, None
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "word" and text in _WEEKDAY_NAMES:
            shape.append("W")
            index += 1
        elif kind == "time" or (kind == "word" and text == "at"):
            index, clock = _clock(tokens, index)
            if clock is None:
                return None
            shape.append("T")
        else:
            start = index
            index, readable = _date_block(tokens, index)
            if not readable:
                return None
            date = tokens[start:index]
            shape.append("D")
    if "".join(shape) not in _STAMP_SHAPES or date is None or clock is None:
        return None
    return _date_value(date, clock)


def _date_block(tokens: list[_Token], index: int) -> tuple[int, bool]:
    """(index after the date, whether it reads as one date): 'Nov 19 2019', '19 Nov 2019' or
    '11.14.2019'."""
    if index < len(tokens) and tokens[index][0] == "numeric":
        return index + 1, True
    date = tokens[index : index + 3]
    if len(date) < 3 or date[2][0] != "number" or len(date[2][1]) != 4:
        return index, False
    (first_kind, first), (second_kind, second) = date[0], date[1]
    named_first = first in _MONTH_NUMBERS and second_kind in ("number", "day")
    named_second = first_kind in ("number", "day") and second in _MONTH_NUMBERS
    readable = (named_first and len(second) <= 2) or (named_second and len(first) <= 2)
    return index + 3, readable


def _clock(tokens: list[_Token], index: int) -> tuple[int, tuple[int, int, int] | None]:
    """(index after the time, (hour, minute, second)) of '[at] H:MM[:SS] [am|pm] [zone]'."""
    if tokens[index] == ("word", "at"):
        index += 1
    if index >= len(tokens) or tokens[index][0] != "time":
        return index + 1, None
    hour, minute, *second = (int(part) for part in tokens[index][1].split(":"))
    index += 1
    if index < len(tokens) and tokens[index] in (("word", "am"), ("word", "pm")):
        if not 1 <= hour <= 12:
            return index, None
        hour = hour % 12 + (12 if tokens[index][1] == "pm" else 0)
        index += 1
    if index < len(tokens) and tokens[index][0] == "word" and tokens[index][1] in _ZONE_NAMES:
        index += 1
    if hour > 23 or minute > 59 or (second and second[0] > 59):
        return index, None
    return index, (hour, minute, second[0] if second else 0)


def _date_value(date: list[_Token], clock: tuple[int, int, int]) -> datetime | None:
    """The date at the time of day; None when it is not a valid year 19xx/20xx date."""
    if date[0][0] == "numeric":  # month first (dateparser's MDY order); else unsure
        month, day, year = (int(part) for part in re.split(r"[./]", date[0][1]))
    elif date[0][1] in _MONTH_NUMBERS:
        month, day, year = _MONTH_NUMBERS[date[0][1]], int(date[1][1]), int(date[2][1])
    else:
        month, day, year = _MONTH_NUMBERS[date[1][1]], int(date[0][1]), int(date[2][1])
    if not 1900 <= year <= 2099:
        return None
    try:
        return datetime(year, month, day, *clock)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _dateparser():
    import dateparser  # imported on first use: it takes half a second to load

    return dateparser


def dateparser_reading(text: str) -> datetime | None:
    """dateparser's value for a stamp line (month first when the order is unclear)."""
    return _dateparser().parse(
        text,
        languages=["en"],
        settings={
            "DATE_ORDER": "MDY",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "REQUIRE_PARTS": ["day", "month", "year"],
        },
    )


def _parse_span(text: str) -> datetime | None:
    """Parse a date found by _DATE_SPAN (no time of day unless ISO)."""
    span = _ORDINAL.sub(r"\1", text.strip())
    iso = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(T.*)?", span)
    if iso:
        try:
            value = datetime.fromisoformat(span.replace("Z", "+00:00"))
        except ValueError:
            return None
        return value.replace(tzinfo=None)
    slashed = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2,4})", span)
    if slashed:
        month, day, year = (int(part) for part in slashed.groups())
        try:
            return datetime(year + 2000 if year < 100 else year, month, day)
        except ValueError:
            return None
    words = re.sub(rf"(?i)^{_WEEKDAY}", "", span)
    return _strptime(re.sub(r",(?=\S)", ", ", words))


def find_timestamp(text: str, at_start: bool = False) -> tuple[ParsedTimestamp, int, int] | None:
    """The first date inside a longer line, with its start and end; None when there is none.

    With `at_start`, only a date that starts the line (None when the first date is later).
    """
    match = _DATE_SPAN.match(text) if at_start else _DATE_SPAN.search(text)
    if match is None:
        return None
    value = _parse_span(match.group())
    if value is None:
        return None
    before = text[: match.start()].casefold()
    label = next((word for word in ("updated", "published", "posted") if word in before), None)
    slashed = re.fullmatch(r"(\d{1,2})/(\d{1,2})/\d+", match.group())
    ambiguous = bool(slashed and int(slashed.group(1)) <= 12 and int(slashed.group(2)) <= 12)
    stamp = ParsedTimestamp(value, match.group(), label, ambiguous)
    return stamp, match.start(), match.end()


@lru_cache(maxsize=4096)
def parse_timestamp_line(line: str) -> ParsedTimestamp | None:
    """Parse a line that is only a date/time (plus a label and short trailing parts), else None.

    Parts split by ' / ', ' • ' or ' | ' are tried in order; the others must be short
    ("2 min read", "Updated 14 hours ago"). Parenthesized zones such as "(1139 HKT)" are ignored.
    """
    parts = _PART_SEPARATOR.split(_PARENTHESES.sub("", line))
    for index, part in enumerate(parts):
        others = parts[:index] + parts[index + 1 :]
        if any(
            len(_WORD.findall(other)) > _SHORT_PART_WORDS and not _DATE_SPAN.search(other)
            for other in others
        ):
            return None
        parsed = _parse_single(part)
        if parsed is not None:
            return parsed
    return None


def _parse_single(line: str) -> ParsedTimestamp | None:
    prefix = _PREFIX.match(line)
    label = prefix.group("label").lower() if prefix and prefix.group("label") else None
    body = line[prefix.end() :].strip(" -–—|,") if prefix else line
    if _ISO.match(body):
        try:
            value = datetime.fromisoformat(body.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ParsedTimestamp(
            value=value.replace(tzinfo=None), text=body, label=label, day_month_ambiguous=False
        )
    if not _looks_like_timestamp(body):
        return None
    slashed = _SLASHED.search(body)
    ambiguous = bool(slashed and int(slashed.group(1)) <= 12 and int(slashed.group(2)) <= 12)
    cleaned = re.sub(r"\s[-–—|]\s", " ", body)
    parsed = _strptime(cleaned)
    if parsed is None:
        known, parsed = known_stamp(cleaned)
        if not known:
            parsed = dateparser_reading(cleaned)
    if parsed is None:
        found = find_timestamp(body)
        parsed = found[0].value if found else None
    if parsed is None:
        return None
    return ParsedTimestamp(value=parsed, text=body, label=label, day_month_ambiguous=ambiguous)
