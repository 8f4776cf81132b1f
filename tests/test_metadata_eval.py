"""Metadata accuracy on the hand-labelled set may not drop below its pinned floors."""

from functools import partial
from pathlib import Path

import pytest
from conftest import EVAL_DEV, SEEDS

from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.extract.evaluation import (
    FIELDS,
    evaluate_pages,
    extract_metadata,
    field_matches,
    load_labels,
    load_urls,
    normalize_value,
)
from tasks.settings import Settings

LABELS = load_labels(Path(__file__).parent / "data" / "metadata_labels.tsv")
SEED_IDS = sorted(path.stem for path in SEEDS.glob("*.txt"))
# Measured: title 42/43, author 37/43, publisher 39/43, date 37/38 where shown (with URLs);
# without URLs the publisher falls to 11/43 and the title to 40/43. Floors sit a little below.
FLOORS_WITH_URL = {"title": 0.93, "author": 0.81, "publisher": 0.85, "published_date": 0.93}
FLOORS_WITHOUT_URL = {"title": 0.88, "author": 0.81, "publisher": 0.2, "published_date": 0.93}
DATE_WHERE_SHOWN_FLOOR = 0.92


def _extract():
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    return partial(extract_metadata, rules=rules, settings=Settings())


def _pages(ids, folder: Path, urls: dict[str, str]):
    for page_id in ids:
        path = folder / f"{page_id}.txt"
        yield page_id, path.read_text(encoding="utf-8"), urls.get(page_id, path.as_uri())


def test_labels_cover_the_seeds_and_thirty_dev_pages():
    assert set(SEED_IDS) <= set(LABELS)
    assert len(set(LABELS) - set(SEED_IDS)) >= 30
    for label in LABELS.values():
        assert label["title"]
        assert label["published_date"] == "" or len(label["published_date"]) == 10


def test_seed_metadata_matches_the_labels():
    report = evaluate_pages(_pages(SEED_IDS, SEEDS, {}), LABELS, _extract())
    assert report.misses == ()


@pytest.mark.skipif(not EVAL_DEV.is_dir(), reason="../shared/eval/dev is not present")
@pytest.mark.parametrize(
    ("with_url", "floors"), [(True, FLOORS_WITH_URL), (False, FLOORS_WITHOUT_URL)]
)
def test_labelled_dev_pages_stay_above_the_floors(with_url, floors):
    dev_ids = sorted(set(LABELS) - set(SEED_IDS))
    urls = load_urls(EVAL_DEV / "manifest.tsv") if with_url else {}
    pages = [*_pages(SEED_IDS, SEEDS, {}), *_pages(dev_ids, EVAL_DEV, urls)]
    report = evaluate_pages(pages, LABELS, _extract())
    for score in report.fields:
        assert score.accuracy >= floors[score.field], (score, report.misses)
    assert report.date_where_shown.accuracy >= DATE_WHERE_SHOWN_FLOOR
    assert report.dates_invented == 0


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("  The  Hill. ", "the hill"), ("“Quoted” Title!", 'quoted" title'), ("", "")],
)
def test_normalize_value(raw, normalized):
    assert normalize_value(raw) == normalized


@pytest.mark.parametrize(
    ("field", "label", "predicted", "matches"),
    [
        ("author", "Matthew Digby, Minh Do", "Minh Do and Matthew Digby", True),
        ("author", "Jo Lee", "Jo Lee, CNN", False),
        ("publisher", "", "", True),
        ("publisher", "", "example.com", False),
        ("title", "Barron's", "Barron’s", True),
    ],
)
def test_field_matches(field, label, predicted, matches):
    assert field in FIELDS
    assert field_matches(field, label, predicted) is matches
