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
    r"ist|jst|kst|sgt|hkt|aest|aedt|et|pt|z|t|at|on|of|the|st|nd|rd|th|\d+)$",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_SLASHED = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.]((?:19|20)\d{2})\b")


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


def _strptime(text: str) -> datetime | None:
    candidate = _ZONE_SUFFIX.sub("", text.replace(".", "" if "." not in text[:3] else "."))
    candidate = re.sub(r"\b([AaPp])\.?[Mm]\.?$", lambda m: m.group(1).upper() + "M", candidate)
    candidate = re.sub(r"\b(Sept)\b", "Sep", candidate.replace(" at ", " "))
    for variant in (candidate, candidate.replace(".", "")):
        for pattern in _FAST_FORMATS:
            try:
                return datetime.strptime(variant, pattern)
            except ValueError:
                continue
    return None


@lru_cache(maxsize=1)
def _dateparser():
    import dateparser  # imported on first use: it takes half a second to load

    return dateparser


@lru_cache(maxsize=4096)
def parse_timestamp_line(line: str) -> ParsedTimestamp | None:
    """Parse a line that is only a date/time (plus an optional label), else return None."""
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
    parsed = _strptime(cleaned) or _dateparser().parse(
        cleaned,
        languages=["en"],
        settings={
            "DATE_ORDER": "MDY",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "REQUIRE_PARTS": ["day", "month", "year"],
        },
    )
    if parsed is None:
        return None
    return ParsedTimestamp(value=parsed, text=body, label=label, day_month_ambiguous=ambiguous)
