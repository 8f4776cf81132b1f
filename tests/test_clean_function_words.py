"""Main block: a run of short labels without a function word weighs as menu, not as text gap."""

import pytest

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.settings import Settings

ARTICLE = [
    "The city council approved the new budget on Tuesday after a long debate about the cost of "
    "repairing the old bridge over the river.",
    "Members of the council said that the money for the repairs would come from a fund that was "
    "set aside for roads and bridges last year.",
    "The mayor told reporters that work on the bridge would begin in the spring and that it "
    "should be finished before the end of the summer.",
]
# Text after a menu: a promotion or a comment, two sentences of about thirty words each.
AFTER_MENU = [
    "Get access to our fastest growing subscription service for as little as one dollar a month "
    "and read every story on our site and in our apps without any limits at all.",
    "We use cookies and other tracking technologies to improve your browsing experience on our "
    "site, to show you personalized content and to analyze our traffic and where it comes from.",
]
MENUS = {
    "no function word": ["Weather Radar", "Crossword Puzzles", "Sports Results",
                         "Property Listings", "Live Scores", "Recipe Finder"],
    "function words": ["Terms of Use", "About Us", "Contact the Newsroom",
                       "Work With Us", "Advertise on Our Site", "Follow Us"],
    "no list for the script": ["재테크 계산기", "주식 검색기", "이자 계산기",
                               "펀드 정보", "실시간 시장", "정기 예금"],
}  # fmt: skip


def _after_menu(menu: list[str]) -> list[str | None]:
    """Rule id of each line after the menu; None for a kept line."""
    page = "\n\n".join(["Council approves budget", *ARTICLE, *menu, *AFTER_MENU])
    doc = clean_text(page, load_rules(known_detectors=KNOWN_DETECTORS), Settings())
    decisions = {line.text: line for line in doc.lines}
    assert all(decisions[text].kept for text in ARTICLE)
    return [decisions[text].rule_id for text in AFTER_MENU]


def test_a_menu_of_labels_without_function_words_ends_the_article():
    outside = "classifier.outside-main-block"
    assert _after_menu(MENUS["no function word"]) == [outside, outside]


@pytest.mark.parametrize("menu", ["function words", "no list for the script"])
def test_labels_with_function_words_or_without_a_list_weigh_as_before(menu):
    assert _after_menu(MENUS[menu]) == [None, None]
