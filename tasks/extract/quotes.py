"""Quotations in the article body and who said them, when the text attributes them.

Shapes live here; the speech verbs ("said", "told", "according to") are vocabulary in the rule
table (`[vocabulary].speech_verb` in tasks/clean/rules.toml), read on first use.
"""

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tasks.clean.rules import DEFAULT_RULES_PATH

# A quoted span: curly or straight double quotes, at least a few words inside.
_QUOTED = re.compile(r"“(?P<curly>[^“”]+)”|\"(?P<straight>[^\"]+)\"")
_MIN_QUOTE_WORDS = 3
_NAME = r"[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|van|von|bin|al)){0,3}"
_PRONOUN = r"(?:he|she|they|it|we|i|you)"


@dataclass(frozen=True, slots=True)
class Quote:
    """One quotation: the body paragraph it is in, its text, and the speaker when attributed."""

    position: int
    text: str
    speaker: str | None


@lru_cache(maxsize=4)
def _speech_verbs(path: Path) -> tuple[str, ...]:
    with path.open("rb") as handle:
        vocabulary = tomllib.load(handle).get("vocabulary", {})
    return tuple(sorted(vocabulary.get("speech_verb", ()), key=len, reverse=True))


@lru_cache(maxsize=4)
def _attribution_patterns(path: Path) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    verbs = "|".join(re.escape(verb) for verb in _speech_verbs(path))
    after = re.compile(
        rf"^[,.!?]?\s*(?:(?:{verbs})\s+(?P<name_after>{_NAME}|{_PRONOUN}\b)"
        rf"|(?P<name_before>{_NAME}|(?i:{_PRONOUN}))\s+(?:{verbs})\b)"
    )
    before = re.compile(rf"(?P<name>{_NAME})\s+(?:{verbs})(?:\s+\w+){{0,3}}\s*[:,]?\s*$")
    according = re.compile(r"(?i:according to)\s+(?P<source>[^,.;“”\"]{2,60})")
    return after, before, according


def _speaker(name: str | None) -> str | None:
    if not name or re.fullmatch(_PRONOUN, name, re.IGNORECASE):
        return None
    return name.strip()


def _attribute(paragraph: str, start: int, end: int, path: Path) -> str | None:
    after, before, according = _attribution_patterns(path)
    following = after.match(paragraph[end:])
    if following:
        return _speaker(following.group("name_after") or following.group("name_before"))
    preceding = before.search(paragraph[:start])
    if preceding:
        return _speaker(preceding.group("name"))
    source = according.search(paragraph)
    return source.group("source").strip() if source else None


def find_quotes(
    paragraphs: Iterable[tuple[int, str]], rules_path: Path = DEFAULT_RULES_PATH
) -> tuple[Quote, ...]:
    """Quotes of at least a few words in (position, text) paragraphs, with their speakers."""
    quotes = []
    for position, text in paragraphs:
        if "“" not in text and '"' not in text:  # _QUOTED opens with one of them
            continue
        for match in _QUOTED.finditer(text):
            quoted = (match.group("curly") or match.group("straight") or "").strip(" ,")
            if len(quoted.split()) < _MIN_QUOTE_WORDS:
                continue
            speaker = _attribute(text, match.start(), match.end(), rules_path)
            quotes.append(Quote(position, quoted, speaker))
    return tuple(quotes)
