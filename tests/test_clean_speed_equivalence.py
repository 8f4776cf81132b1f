"""The fast paths of cleaning and extraction give what the plain computations give.

Each fast path is checked against the computation it replaces, written out here or called from
the library it stands in for (dateparser, py3langid): stamp reading, word-run counts, learned
lines (bytes keys, lookups by text), language scores and the Removal records.
"""

import itertools
import re
from collections import Counter
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.learned import (
    LearnedCounts,
    LearnedKeys,
    is_learnable,
    learned_keys,
    line_key,
    page_lines,
)
from tasks.clean.rules import _fold_table, fold_case, load_rules
from tasks.clean.words import count_word_runs, more_word_runs_than
from tasks.extract import dates
from tasks.extract.engine import Removal, extract_article
from tasks.read.engine import normalize_text
from tasks.settings import Settings

SETTINGS = Settings()
RULES = load_rules(known_detectors=KNOWN_DETECTORS)
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
WORD = re.compile(r"\w+")
# Characters that stress word runs and case folding: accents, curly quotes, dashes, digits of
# other scripts, the dotted capital I, the long s, CJK, underscores and ASCII controls.
TRICKY = "aZ9_ é’“”—–…·İıſ٣三\t\x0b\x1f.,!?:;'\"()/-|@#"


def _texts(alphabet: str, max_size: int = 40) -> st.SearchStrategy[str]:
    """Texts mixing characters of `alphabet` (half of them) with any others. (st.text with an
    alphabet of `sampled_from | characters` would draw from all characters evenly.)"""
    chars = st.one_of(st.sampled_from(alphabet), st.characters())
    return st.lists(chars, max_size=max_size).map("".join)


def _seed_texts() -> list[str]:
    return [
        normalize_text(path.read_text(encoding="utf-8")) for path in sorted(SEEDS.glob("*.txt"))
    ]


# ---------------------------------------------------------------------- timestamps
_WEEKDAYS = ("", "Tuesday, ", "Tue. ", "sat ")
_DATES = (
    "Nov 19, 2019", "Nov. 19 2019", "November 19th, 2019", "19 Nov 2019", "3rd jan 2001",
    "Sept 3, 2020", "Sep 31 2019", "Feb 29, 2020", "Feb 29, 2019", "11.14.2019", "05/01/2020",
    "13.05.2019", "02/30/2019",
)  # fmt: skip
_TIMES = (
    "9:38 pm", "09:38PM", "12:05 a.m.", "12:45 p.m.", "0:05 AM", "13:05 PM", "23:59",
    "5:44:33", "at 8:40 AM", "10:01 pm PST", "05:44 GMT", "8:54 am PT", "7:00 Z", "24:00",
)  # fmt: skip
_ORDERS = ("{w}{d} {t}", "{w}{d}, {t}", "{t} {w}{d}", "{t}, {w}{d}")


def _stamp_grid() -> list[str]:
    """Stamp texts of many shapes, a deterministic sample of the full product (keeps the test
    to about a second of dateparser calls)."""
    product = itertools.product(_WEEKDAYS, _DATES, _TIMES, _ORDERS)
    texts = [order.format(w=w, d=d, t=t) for w, d, t, order in product]
    texts += [f"{hhmm} {zone} {date}" for hhmm in ("0339", "1909", "2359") for zone in ("GMT", "ET")
              for date in ("November 19, 2019", "19 Nov 2019")]  # fmt: skip
    texts += ["15:23 2019", "2019 7:05", "Nov 19 2019", "10:01 pm PST Tuesday", "Updated 9:38 pm"]
    return texts[::7] + texts[-17:]


def test_a_stamp_read_without_dateparser_reads_as_dateparser_reads_it():
    readings = {text: dates.known_stamp(text) for text in _stamp_grid()}
    known = {text: value for text, (is_known, value) in readings.items() if is_known}
    assert len(known) >= 100  # the grid exercises the reading, not only the way out of it
    differ = {text: (value, dates.dateparser_reading(text)) for text, value in known.items()}
    assert {text: pair for text, pair in differ.items() if pair[0] != pair[1]} == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18 Nov 2019 9:38 pm", "2019-11-18 21:38:00"),
        ("10:01 pm PST, Tuesday, November 19, 2019", "2019-11-19 22:01:00"),
        ("Monday, November 18th, 2019 at 11:08 a.m.", "2019-11-18 11:08:00"),
        ("11.14.2019 09:00 AM", "2019-11-14 09:00:00"),
        ("0339 GMT November 19, 2019", None),
        ("15:23 2019", None),
    ],
)
def test_the_stamps_of_the_dev_pages_need_no_dateparser(text, expected):
    """Lines from ../shared/eval/dev that used to cost dateparser a few milliseconds each."""
    known, value = dates.known_stamp(text)
    assert known
    assert (str(value) if value else None) == expected


def test_shapes_outside_the_reading_go_to_dateparser():
    for text in (
        "Nov 19 2019",
        "13.05.2019 09:00 AM",
        "Nov 2019 19 10:00",
        "19 Nov 2019 10:00 xyz",
    ):
        assert dates.known_stamp(text) == (False, None)


# ---------------------------------------------------------------------- word runs
@settings(max_examples=300, deadline=None)
@given(_texts(TRICKY, max_size=80))
def test_word_runs_are_counted_as_findall_counts_them(text):
    words = len(WORD.findall(text))
    assert count_word_runs(text) == words
    for limit in (0, 4, 12):
        assert more_word_runs_than(text, limit) == (words > limit)


@settings(max_examples=300, deadline=None)
@given(_texts(TRICKY + "Σσςμµ\u212a\u1c80ꙋﬆ"))
def test_fold_case_skips_the_extra_case_table_only_when_it_changes_nothing(text):
    table, extra, _other_leads = _fold_table()
    lowered = text.replace("\u0130", "i").lower()
    assert fold_case(text) == (lowered.translate(table) if extra.search(lowered) else lowered)


# ---------------------------------------------------------------------- learned lines
def _plain_page_lines(text: str) -> dict[str, str]:
    """page_lines as defined: collapse each line, keep the learnable ones by line_key."""
    lines: dict[str, str] = {}
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line and is_learnable(line, SETTINGS):
            lines.setdefault(line_key(line), line)
    return lines


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=60), max_size=12))
def test_page_lines_keys_and_texts_are_the_plain_ones(raw_lines):
    text = "\n".join(raw_lines)
    page = page_lines(text, SETTINGS)
    assert dict(page) == _plain_page_lines(text)
    for key, variants in page.variants.items():
        assert all(line_key(variant) == key and variant != page[key] for variant in variants)


def test_page_lines_of_the_seed_pages_are_the_plain_ones():
    for text in _seed_texts():
        assert dict(page_lines(text, SETTINGS)) == _plain_page_lines(text)


def _learned_subset(text: str) -> tuple[frozenset[str], LearnedKeys]:
    """Every other learnable line of the page as learned: plain keys, and learned_keys' answer."""
    page = page_lines(text, SETTINGS)
    keys = frozenset(list(page)[::2])
    counts = LearnedCounts(counts=Counter({("site", key): 99 for key in keys}), texts={})
    return keys, learned_keys("site", page, {}, counts, SETTINGS)


def test_learned_lines_found_by_text_are_those_found_by_key():
    for text in _seed_texts():
        keys, learned = _learned_subset(text)
        assert learned == keys
        assert learned.texts
        by_key = clean_text(text, RULES, SETTINGS, keys)
        by_text = clean_text(text, RULES, SETTINGS, learned)
        assert by_text == by_key
        assert any(line.rule_id == "learned.site-boilerplate" for line in by_text.removed)


def test_learned_keys_of_another_page_are_looked_up_by_key():
    first, second = _seed_texts()[:2]
    _keys, learned = _learned_subset(first)
    # The second page's lines are not in `learned.texts`: they must be hashed, not missed.
    shared = second + "\n" + "\n".join(sorted(learned.texts))
    assert clean_text(shared, RULES, SETTINGS, learned) == clean_text(
        shared, RULES, SETTINGS, frozenset(learned)
    )


# ---------------------------------------------------------------------- language
def test_language_scores_are_py3langid_scores():
    from py3langid import langid

    from tasks.extract.language import _identifier

    fast, stock = _identifier(), langid._get_identifier()
    assert fast._depth > 0  # the array walk is in use
    texts = [text[start : start + 600] for text in _seed_texts() for start in (0, 900, 2500)]
    texts += ["", "42", "Ünïcödé façade — “quoted”", "東京都議会は火曜日、計画の拡大を承認した。"]
    texts += ["".join(chars) for chars in itertools.permutations("ab é三_", 4)][:40]
    for text in texts:
        assert np.array_equal(fast._decide(text), stock._decide(text)), text


# ---------------------------------------------------------------------- removals
def test_removals_are_plain_frozen_removal_records():
    text = _seed_texts()[0]
    article = extract_article(clean_text(text, RULES, SETTINGS), "", SETTINGS)
    cleaned = clean_text(text, RULES, SETTINGS)
    expected = tuple(
        Removal(
            line.line_number, line.text, line.rule_id or "structural.unknown", line.reason or ""
        )
        for line in cleaned.removed
    )
    assert article.removals == expected
    assert all(type(removal) is Removal for removal in article.removals)
    assert hash(article.removals) == hash(expected)
    with pytest.raises(FrozenInstanceError):
        article.removals[0].text = "changed"
