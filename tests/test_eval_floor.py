"""The cleaner may not drop below its measured dev-split quality without a deliberate change."""

import json
from functools import partial
from pathlib import Path

import pytest
from conftest import EVAL_DEV

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.evaluation import evaluate_directory
from tasks.clean.rules import load_rules
from tasks.process.engine import clean_page_body
from tasks.settings import Settings

FLOOR = json.loads((Path(__file__).with_name("eval_floor.json")).read_text())


@pytest.mark.skipif(not EVAL_DEV.is_dir(), reason="../shared/eval/dev is not present")
def test_dev_split_stays_above_the_floor():
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    report = evaluate_directory(
        EVAL_DEV, partial(clean_page_body, rules=rules, settings=Settings())
    )
    overall, english = report.group("all"), report.group("en")
    assert overall.cleaned.f1_mean >= FLOOR["f1_mean_min"]
    assert overall.cleaned.recall_mean >= FLOOR["recall_mean_min"]
    assert english.cleaned.f1_mean >= FLOOR["english_f1_mean_min"]
    assert overall.cleaned.f1_mean > overall.baseline.f1_mean + 0.1


def test_nothing_kept_falls_back_to_the_longest_line():
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    # Too long for a headline, no final stop: removed by shape, the only text on the page.
    long_line = " ".join(["word"] * 40)
    doc = clean_text(f"Home\nNews\nSport\n{long_line}\nAbout", rules, Settings())
    assert doc.confidence == "fallback"
    assert [line.text for line in doc.body] == [long_line]


def test_navigation_only_page_stays_empty_and_short_body_is_low_confidence():
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    assert clean_text("Home\nNews\nSport\n", rules, Settings()).body == ()
    short = clean_text("The council met on Tuesday and approved the plan.", rules, Settings())
    assert short.confidence == "low"
    assert short.body_text == "The council met on Tuesday and approved the plan."
