"""Metadata shapes: dated bylines, dates inside lines, headline evidence, publisher, URL slug."""

from datetime import datetime

import pytest
from conftest import SEEDS

from tasks.clean.engine import KNOWN_DETECTORS, LINE_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.extract.bylines import author_names, split_dated_byline
from tasks.extract.dates import find_timestamp, parse_timestamp_line
from tasks.extract.engine import extract_article
from tasks.extract.quotes import Quote, find_quotes
from tasks.settings import Settings

RULES = load_rules(known_detectors=KNOWN_DETECTORS)
PROSE = (
    "The council met on Tuesday evening and approved the new budget for the coming year "
    "after a long debate."
)


def _article(text: str, source_uri: str = "file:///page.txt"):
    settings = Settings()
    return extract_article(clean_text(text, RULES, settings), source_uri, settings)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Nov 18, 2019 at 9:24 pm ET • 2 min read", datetime(2019, 11, 18, 21, 24)),
        ("November 19, 2019 / 12:21 AM / Updated 14 hours ago", datetime(2019, 11, 19)),
        ("Updated 0339 GMT (1139 HKT) November 19, 2019", datetime(2019, 11, 19)),
        ("- Nov. 18th 2019 8:54 am PT", datetime(2019, 11, 18, 8, 54)),
    ],
)
def test_timestamp_lines_with_trailing_parts(line, expected):
    parsed = parse_timestamp_line(line)
    assert parsed is not None
    assert parsed.value == expected


@pytest.mark.parametrize(
    "line", ["November 19, 2019 / Officials said the vote would be held next week", "2 min read"]
)
def test_long_trailing_text_is_not_a_timestamp_line(line):
    assert parse_timestamp_line(line) is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("By Jo Lee - 11/19/19 06:56 AM EST", datetime(2019, 11, 19)),
        ("By Jo Lee on Monday, November 18th, 2019 at 11:08 a.m.", datetime(2019, 11, 18)),
        ("By Jo Lee - Staff Writer 2019-11-19T12:48:14Z Space", datetime(2019, 11, 19, 12, 48, 14)),
    ],
)
def test_find_timestamp_inside_a_line(text, day):
    found = find_timestamp(text)
    assert found is not None
    assert found[0].value == day


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("By Tess Bonn - 11/19/19 06:56 AM EST", "Tess Bonn"),
        ("By Jo Lee, Minh Do on Monday, November 18th, 2019 at 11:08 a.m.", "Jo Lee, Minh Do"),
        ("By Umair Irfan Updated Nov 13, 2019, 10:28am EST", "Umair Irfan"),
        ("November 20, 2019 Emiliano Bellini", "Emiliano Bellini"),
        ("By HNN Staff | November 18, 2019 at 2:26 PM HST", "HNN Staff"),
    ],
)  # fmt: skip
def test_dated_bylines_give_names_and_date(text, names):
    found = split_dated_byline(text)
    assert found is not None
    assert found[0] == names
    assert LINE_DETECTORS["dated_byline"](text) == names


@pytest.mark.parametrize(
    "text", ["By the end of May 2, 2019 it ended", "The meeting on May 2, 2019 was long"]
)
def test_sentences_with_dates_are_not_bylines(text):
    assert split_dated_byline(text) is None


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("Steve Peoples, Ap National Political Writer", ["Steve Peoples"]),
        ("By Jill Disis, CNN Business", ["Jill Disis"]),
        ("Analysis by Chris Cillizza, CNN Editor-at-large", ["Chris Cillizza"]),
        ("Nishant Kumar @Nishantopines", ["Nishant Kumar"]),
        ("- Myind Staff", ["Myind Staff"]),
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("Home News Sport 2019", []),
    ],
)
def test_author_names(raw, names):
    assert author_names(raw) == names


def test_headline_is_the_line_above_the_byline_not_the_first_short_line():
    page = "\n".join(
        [
            "Skip to main content",
            "Home News Sport",
            "Most read stories this week",
            "Local News",
            "Council approves the new city budget",
            "The vote ends a year of arguments over spending on roads and schools.",
            "By Jo Lee - 11/19/19 06:56 AM EST",
            PROSE,
            PROSE.replace("council", "committee"),
        ]
    )
    article = _article(page)
    assert article.title == "Council approves the new city budget"
    assert article.author == "Jo Lee"
    assert article.published_at == datetime(2019, 11, 19)


def test_a_caption_date_is_never_the_publication_date():
    page = "\n".join(
        [
            "Council approves the new city budget",
            "The mayor speaks in the chamber on May 23, 2020. Photographer: Jo Lee/Bloomberg",
            PROSE,
            PROSE.replace("council", "committee"),
        ]
    )
    assert _article(page).published_at is None


def test_publisher_is_the_name_spelling_the_host_and_title_can_come_from_the_slug():
    page = "\n".join(
        [
            "The Daily Gazette",
            "Menu",
            "Council approves budget",
            PROSE,
            PROSE.replace("council", "committee"),
            "© 2019 Gazette Media Group, Inc.",
        ]
    )
    uri = "https://www.dailygazette.com/news/2019/11/19/council-approves-budget/"
    article = _article(page, uri)
    assert article.publisher == "The Daily Gazette"
    assert article.title == "Council approves budget"
    assert _article(page).publisher == "Gazette Media Group"


@pytest.mark.parametrize(
    ("paragraph", "quote", "speaker"),
    [
        ("“There is no coded messaging here,” Hornung said.", "There is no coded messaging here",
         "Hornung"),
        ("“China is the challenge,” said Daniel Russel, a diplomat.", "China is the challenge",
         "Daniel Russel"),
        ('"We will respond if needed," according to their statement.', "We will respond if needed",
         "their statement"),
        ("“We deplore this interference,” he said.", "We deplore this interference", None),
        ("The report called the talks “a turning point for the region” overall.",
         "a turning point for the region", None),
    ],
)  # fmt: skip
def test_quotes_and_speakers(paragraph, quote, speaker):
    assert find_quotes([(2, paragraph)]) == (Quote(2, quote, speaker),)


def test_short_scare_quotes_are_not_quotes():
    assert find_quotes([(0, "He called the deal “historic” and left.")]) == ()


def test_field_sources_name_the_lines_the_values_came_from():
    page = "\n".join(
        [
            "Home News Sport",
            "Council approves the new city budget",
            "By Jo Lee - 11/19/19 06:56 AM EST",
            PROSE,
            "“We finally have a plan for the roads,” said Ann Smith, the council leader.",
            PROSE.replace("council", "committee"),
        ]
    )
    article = _article(page, "https://www.example.com/news/council-approves-the-new-city-budget")
    sources = {(source.field, source.line_number) for source in article.field_sources}
    assert {("title", 2), ("author", 3), ("published_at", 3), ("publisher", None)} <= sources
    assert article.quotes == (Quote(1, "We finally have a plan for the roads", "Ann Smith"),)


def test_seed_quotes_and_evidence():
    seed = _article((SEEDS / "000_fcce72fbc55e8da1.txt").read_text(encoding="utf-8"))
    said = {(quote.text, quote.speaker) for quote in seed.quotes}
    assert ("There is no coded messaging here", "Hornung") in said
    wire = _article((SEEDS / "002_b5e49ef3225955b8.txt").read_text(encoding="utf-8"))
    evidence = {source.field: source.line_number for source in wire.field_sources}
    assert evidence["published_at"] == 30
    assert evidence["author"] == 29


def test_one_word_beside_a_timestamp_is_not_an_author():
    page = "\n".join(["Council approves the new city budget", "Film", "2017-11-23", PROSE, PROSE])
    assert _article(page).author is None


def test_the_publication_on_a_byline_is_not_an_author():
    page = "\n".join(
        [
            "Council approves the new city budget",
            "By Jo Lee, Business Insider",
            "Nov 19, 2019, 6:02 AM",
            PROSE,
            PROSE.replace("council", "committee"),
            "© 2019 Business Insider Inc.",
        ]
    )
    article = _article(page, "https://www.businessinsider.com/council-budget")
    assert article.publisher == "Business Insider"
    assert article.author == "Jo Lee"
