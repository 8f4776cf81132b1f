"""Count word runs (`\\w+`, as `re` reads them) fast: the cleaner and the extractor count them
on every line and body, where `len(WORD.findall(text))` lists words only to count them."""

import codecs
import re
from functools import lru_cache

WORD = re.compile(r"\w+")
# ASCII bytes of a word character become 'a', every other byte a space: the runs of 'a' in a
# translated text are its word runs.
_WORD_CLASS = bytes(
    ord("a") if byte < 128 and (chr(byte).isalnum() or byte == ord("_")) else ord(" ")
    for byte in range(256)
)
_ERROR_HANDLER = "news_etl.word_class"
_SHORT_RUN = 4  # classified non-ASCII runs this short are remembered
_remembered: dict[str, str] = {}


def _classify_non_ascii(error: UnicodeEncodeError) -> tuple[str, int]:
    """Encoding error handler: each non-ASCII character becomes 'a' (a word character: what
    str.isalnum() or '_' says, as `re` does) or a space."""
    run = error.object[error.start : error.end]
    classes = _remembered.get(run)
    if classes is None:
        classes = "".join("a" if char.isalnum() or char == "_" else " " for char in run)
        if len(run) <= _SHORT_RUN and len(_remembered) < 4096:
            _remembered[run] = classes
    return classes, error.end


codecs.register_error(_ERROR_HANDLER, _classify_non_ascii)  # type: ignore[arg-type]


def count_word_runs(text: str) -> int:
    """len(WORD.findall(text)), without listing the words."""
    classes = text.encode("ascii", _ERROR_HANDLER).translate(_WORD_CLASS)
    return classes.count(b" a") + classes.startswith(b"a")


@lru_cache(maxsize=8)
def _word_runs_beyond(count: int) -> re.Pattern[str]:
    """Matches a text with more than `count` word runs, reading no further."""
    return re.compile(rf"(?:\W*+\w++){{{count + 1}}}")


def more_word_runs_than(text: str, count: int) -> bool:
    """len(WORD.findall(text)) > count, reading only as far as the first count + 1 words."""
    return _word_runs_beyond(count).match(text) is not None
