"""Stopword share of a line: the part of its words that are function words ("the", "und", "de").

Running text is roughly a third to a half function words in every language the lists cover;
menus, tags, names and labels have few or none. The lists are data (`stopwords.toml`, one table
per language), read once per process on first use.

The share counts a word when it is a stopword of any listed language (one union), not of the
line's best-matching language: one set lookup per word keeps the share near a microsecond per
line, and a line that mixes languages (a quotation, a foreign name) still counts the function
words of both. Whether a line holds any function word at all, the question the cleaner asks,
has the same answer either way. The lists leave out words that are frequent content words in
English (see the file's header), which is where a union could count a word it should not.
"""

import re
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

DEFAULT_STOPWORDS_PATH = Path(__file__).with_name("stopwords.toml")
# Letters of scripts no list covers: Greek, Armenian to Mongolian (Hebrew, Arabic, Indic, Thai,
# Hangul Jamo, ...), Georgian, Greek Extended, Glagolitic, Coptic, CJK radicals, kana, CJK
# ideographs, Hangul syllables, Yi, presentation forms and fullwidth forms. Latin, Cyrillic,
# combining marks, punctuation, symbols, emoji and the byte order mark are not in it.
_UNCOVERED_SCRIPT = re.compile(
    "[\u0370-\u03ff\u0530-\u1c7f\u1c90-\u1cff\u1f00-\u1fff\u2c00-\u2c5f\u2c80-\u2ddf"
    "\u2e80-\u2fff\u3040-\u9fff\ua000-\ua63f\ua6a0-\ua6ff\ua800-\uab2f\uab70-\ud7ff"
    "\uf900-\ufaff\ufb13-\ufdff\ufe30-\ufe4f\ufe70-\ufefe\uff00-\uffef]"
)
_WORD = re.compile(r"\w+")
# A long line is judged on its first characters (about 50 words): the share of a paragraph
# does not need all of it, and reading all of it would cost most on the lines it matters least.
_SAMPLE_CHARS = 320


class StopwordTableError(ValueError):
    """The stopword table is malformed; the message names the language."""


def load_stopwords(path: Path = DEFAULT_STOPWORDS_PATH) -> dict[str, frozenset[str]]:
    """Language code -> its stopwords, checked: lowercase runs of word characters, none twice."""
    with path.open("rb") as handle:
        table = tomllib.load(handle)
    languages = {}
    for code, entry in table.items():
        words = entry.get("words", "").split() if isinstance(entry, dict) else []
        if not words:
            raise StopwordTableError(f"{code}: no words")
        bad = [word for word in words if word != word.lower() or not _WORD.fullmatch(word)]
        if bad:
            raise StopwordTableError(f"{code}: not lowercase word characters: {bad[:5]}")
        repeated = sorted(word for word, count in Counter(words).items() if count > 1)
        if repeated:
            raise StopwordTableError(f"{code}: listed twice: {repeated[:5]}")
        languages[code] = frozenset(words)
    return languages


_is_stopword: Callable[[str], bool] | None = None  # `in` on the union of all lists, once read


def _load_union() -> Callable[[str], bool]:
    """Read the default table once per process; later calls use `_is_stopword` directly."""
    global _is_stopword
    _is_stopword = frozenset().union(*load_stopwords().values()).__contains__
    return _is_stopword


def stopword_share(text: str) -> float | None:
    """Share of the words of `text` that are a stopword of some listed language.

    None when there is nothing to judge: no words, or letters of a script no list covers
    (Chinese, Japanese and Korean, whose function words are not separate words; Greek, Arabic,
    ...), so such lines stay neutral rather than look like labels. Words are the pieces between
    whitespace and apostrophes ("l'homme" is "l" and "homme"; other punctuation stays attached,
    so a lone dash is a word too), compared lowercased; a long line is judged on its first
    `_SAMPLE_CHARS` characters.
    """
    low = text[:_SAMPLE_CHARS].lower()
    if not low.isascii():
        if _UNCOVERED_SCRIPT.search(low):
            return None
        if "’" in low:
            low = low.replace("’", " ")
    if "'" in low:
        low = low.replace("'", " ")
    words = low.split()
    if not words:
        return None
    return sum(map(_is_stopword or _load_union(), words)) / len(words)
