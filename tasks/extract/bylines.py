"""Read author names from byline lines, also when the line carries the date.

Shapes only, no phrases: `By NAME[, NAME] [- ROLE] [on|updated] DATE`, `DATE NAME`, and name lists
whose later members are kept only when they look like a person's name (two or three capitalized
words), so `Jill Disis, CNN Business` gives one author and `Matthew Digby, Minh Do` two.
"""

import re

from tasks.extract.dates import ParsedTimestamp, find_timestamp

_BULLET = re.compile(r"^[-•·*]\s*")
_BY = re.compile(r"^(?:[-•]\s*)?(?:[A-Za-z]+\s+)?by\s+", re.IGNORECASE)
_BY_START = re.compile(r"(?i)^(?:[-•]\s*)?by\s")
_HANDLE = re.compile(r"\s*@\w+")
_PIECE_SEPARATOR = re.compile(r"\s+[-–—|/•]\s+|\s*[|•]\s*")
_NAME_SEPARATOR = re.compile(r",\s*|\s+(?:and|&)\s+")
# Words that may stand between the names and the date: "on", "Updated", "Published".
_CONNECTOR_TAIL = re.compile(
    r"(?:\s+(?:on|at|updated|published|posted|last|first)|\s*[-–—|,:•])+\s*$", re.IGNORECASE
)
_NAME_WORD = re.compile(r"^(?:[A-Z][\w.'’-]*|de|van|von|der|da|di|la|le|bin|al|du|del|dos|das)$")
_PERSON_WORD = re.compile(r"^[A-Z](?:[a-z'’-][\w'’-]*|\.)$|^[A-Z][a-z]+[A-Z][a-z]+$")
_MAX_NAME_WORDS = 6
_MAX_BYLINE_WORDS = 30


def _name_shaped(text: str) -> bool:
    words = text.split()
    return (
        1 <= len(words) <= _MAX_NAME_WORDS
        and not any(char.isdigit() for char in text)
        and all(_NAME_WORD.match(word) for word in words)
        and words[0][0].isupper()
    )


def _person_shaped(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 3 and all(_PERSON_WORD.match(word) for word in words)


def author_names(raw: str) -> list[str]:
    """'By Jo Lee, Staff Writer' -> ['Jo Lee']; 'Matthew Digby, Minh Do' -> both names."""
    text = _HANDLE.sub("", _BY.sub("", _BULLET.sub("", raw.strip()))).strip()
    first_piece = _PIECE_SEPARATOR.split(text)[0].strip(" ,")
    names = [name.strip() for name in _NAME_SEPARATOR.split(first_piece) if name.strip()]
    if not names or not _name_shaped(names[0]):
        return []
    return [names[0], *(name for name in names[1:] if _person_shaped(name))]


def split_dated_byline(text: str) -> tuple[str, ParsedTimestamp] | None:
    """'By Jo Lee - 11/19/19 06:56 AM EST' -> ('Jo Lee', stamp); None for other lines."""
    if len(text.split()) > _MAX_BYLINE_WORDS:
        return None
    by_line = _BY_START.match(text) is not None
    # Other lines count only with the date first: look for it there alone (much faster).
    found = find_timestamp(text, at_start=not by_line)
    if found is None:
        return None
    stamp, start, end = found
    if by_line:
        names = author_names(_CONNECTOR_TAIL.sub("", text[:start]))
    else:  # "November 20, 2019 Emiliano Bellini"
        rest = text[end:].strip(" ,|-–—")
        names = [rest] if _person_shaped(rest) else []
    return (", ".join(names), stamp) if names else None


def dated_byline_value(text: str) -> str | None:
    """Line detector: the names of a byline that also carries the date."""
    found = split_dated_byline(text)
    return found[0] if found else None
