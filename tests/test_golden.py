"""Golden outputs for the seeds: body, metadata, and every removed line with its rule id."""

import json

import pytest
from conftest import GOLDEN, SEEDS

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.extract.engine import extract_article
from tasks.settings import Settings

SEED_FILES = sorted(SEEDS.glob("*.txt"))
FIELDS = (
    "title", "subtitle", "author", "published_at", "published_at_text", "section", "dateline",
    "update_note", "publisher", "language", "word_count",
)  # fmt: skip


def _snapshot(path) -> dict:
    settings = Settings()
    text = path.read_text(encoding="utf-8")
    cleaned = clean_text(text, load_rules(known_detectors=KNOWN_DETECTORS), settings)
    article = extract_article(cleaned, path.as_uri(), settings)
    fields = {name: getattr(article, name) for name in FIELDS}
    if fields["published_at"] is not None:
        fields["published_at"] = fields["published_at"].isoformat()
    return {
        "fields": fields,
        "paragraphs": [[p.kind, p.line_number, p.text] for p in article.paragraphs],
        "removed": [[r.line_number, r.rule_id, r.text] for r in article.removals],
        "captions": [[c.line_number, c.text, c.credit] for c in article.captions],
    }


def test_there_are_five_seeds():
    assert len(SEED_FILES) == 5


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda path: path.stem)
def test_seed_matches_golden(path, update_golden):
    expected_path = GOLDEN / f"{path.stem}.expected.json"
    actual = _snapshot(path)
    if update_golden:
        expected_path.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(expected_path.read_text())
    assert actual["fields"] == expected["fields"]
    assert actual["removed"] == expected["removed"]
    assert actual["captions"] == expected["captions"]
    assert actual["paragraphs"] == expected["paragraphs"]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda path: path.stem)
def test_seed_body_has_no_boilerplate(path):
    body = "\n".join(text for _kind, _line, text in _snapshot(path)["paragraphs"])
    for phrase in (
        "Add a comment",
        "ADVERTISEMENT",
        "Newspapers in English",
        "Photographer:",
        "©",
        "More stories",
        "Image credit",
        "AI generated",
        "Sort by",
        "??",
    ):
        assert phrase not in body


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda path: path.stem)
def test_every_nonblank_line_is_body_or_removed(path):
    snapshot = _snapshot(path)
    nonblank = {
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1)
        if line.strip()
    }
    body_lines = [line for _kind, line, _text in snapshot["paragraphs"]]
    removed_lines = [line for line, _rule, _text in snapshot["removed"]]
    assert sorted(body_lines + removed_lines) == sorted(nonblank)


# Read off the seed files by a person, not generated: what a careful reader would extract.
HAND_LABELLED = {
    "000_fcce72fbc55e8da1": {
        "title": "Japan and US vow more defense cooperation to counter Chinese threat",
        "section": "global security", "update_note": "2nd UPDATE", "author": None,
        "published_at": None, "dateline": None,
    },
    "001_4a8c3549d9ae3af8": {
        "title": "Japan vows to step up US cooperation", "publisher": "Bangkok Post",
        "subtitle": "China undermining ‘rules-based’ order", "dateline": "TOKYO",
    },
    "002_b5e49ef3225955b8": {
        "author": "Tyler Durden", "published_at": "2022-01-07T21:00:00",
    },
    "003_4492cd740cc923e9": {
        "title": "U.S.-Japan Deepen Space, Military Ties As China’s Threat Grows",
        "publisher": "Bloomberg", "published_at": None,
        "update_note": "Updates with joint statement provisions starting in eighth paragraph",
    },
    "004_47d3a070607f175a": {
        "author": "Myind Staff", "published_at": "2022-01-07T18:02:00", "section": "Reports",
    },
}  # fmt: skip


@pytest.mark.parametrize("stem", sorted(HAND_LABELLED))
def test_seed_metadata_matches_hand_labels(stem):
    fields = _snapshot(SEEDS / f"{stem}.txt")["fields"]
    for name, expected in HAND_LABELLED[stem].items():
        assert fields[name] == expected, name


def test_date_confidence_flags_day_month_ambiguity():
    settings = Settings()
    rules = load_rules(known_detectors=KNOWN_DETECTORS)

    def extracted(stem: str):
        text = (SEEDS / f"{stem}.txt").read_text(encoding="utf-8")
        return extract_article(clean_text(text, rules, settings), "", settings)

    assert extracted("002_b5e49ef3225955b8").date_confidence == "ambiguous_day_month"  # 01/07/2022
    assert extracted("004_47d3a070607f175a").date_confidence == "high"  # Jan 07, 2022
    assert extracted("003_4492cd740cc923e9").date_confidence is None


def test_update_stamp_beside_publication_stamp():
    settings = Settings()
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    text = (
        "Council approves the harbour plan after a long debate\n"
        "Published: January 7, 2022\nUpdated: January 9, 2022\n"
        "The council voted on Tuesday to expand the harbour programme across the city, "
        "officials said after a debate that lasted most of the evening.\n"
    )
    article = extract_article(clean_text(text, rules, settings), "", settings)
    assert article.published_at.isoformat() == "2022-01-07T00:00:00"
    assert article.updated_at.isoformat() == "2022-01-09T00:00:00"
    assert article.date_confidence == "high"


def test_caption_dates_are_not_publication_dates():
    # Seed 003 has dates only in photo captions ("May 23, 2020", "Jan. 11"): none may be taken.
    fields = _snapshot(SEEDS / "003_4492cd740cc923e9.txt")["fields"]
    assert fields["published_at"] is None
