"""The boilerplate rule table, its loader, and the engine that applies it."""

import importlib.util
import re

import pytest
from conftest import EVAL_DEV, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.clean import engine
from tasks.clean.decisions import LineDecision
from tasks.clean.engine import KNOWN_DETECTORS, LINE_DETECTORS, clean_text
from tasks.clean.evaluation import load_manifest
from tasks.clean.rules import DEFAULT_RULES_PATH, RuleTableError, load_rules, parse_rules
from tasks.extract.dates import parse_timestamp_line
from tasks.settings import Settings

RULES = load_rules(known_detectors=KNOWN_DETECTORS)
REGEX_RULES = [rule for rule in RULES.rules if rule.kind == "line_regex"]

# Cases that fail because of a bug in rules.toml (see the reasons); strict, so a fix is noticed.
KNOWN_BAD_COUNTER_EXAMPLES: dict[tuple[str, str], str] = {}
KNOWN_SHADOWED_EXAMPLES: dict[tuple[str, str], str] = {}

PROSE_1 = (
    "The ministry said on Tuesday that the new rules would take effect next month "
    "across the country."
)
PROSE_2 = (
    "Officials expect the changes to cut costs for households and small firms by a fifth "
    "over two years."
)


def _cases(kind: str, known_bad: dict[tuple[str, str], str]) -> list:
    cases = []
    for rule in REGEX_RULES:
        texts = rule.examples if kind == "example" else rule.counter_examples
        for number, text in enumerate(texts):
            marks = []
            if (rule.id, text) in known_bad:
                marks = [pytest.mark.xfail(reason=known_bad[(rule.id, text)], strict=True)]
            cases.append(pytest.param(rule, text, id=f"{rule.id}-{kind}{number}", marks=marks))
    return cases


def _clean(text: str) -> engine.CleanedDocument:
    return clean_text(text, load_rules(known_detectors=KNOWN_DETECTORS), Settings())


def _by_number(text: str) -> dict[int, LineDecision]:
    return {line.line_number: line for line in _clean(text).lines}


def _rule_row(
    rule_id: str = "ads.sample",
    kind: str = "line_regex",
    pattern: str = "^sample ad$",
) -> str:
    return (
        f'[[rule]]\nid = "{rule_id}"\nkind = "{kind}"\nrole = "boilerplate"\n'
        f"pattern = '{pattern}'\nreason = \"test rule\"\n"
    )


# ---------------------------------------------------------------------- the committed table
def test_committed_table_loads_with_known_detectors():
    rules = load_rules(DEFAULT_RULES_PATH, known_detectors=KNOWN_DETECTORS)
    assert len(rules.rules) > 0
    assert len({rule.id for rule in rules.rules}) == len(rules.rules)
    assert all(rule.regex is not None for rule in rules.rules if rule.kind == "line_regex")


@pytest.mark.parametrize(("rule", "text"), _cases("example", {}))
def test_example_matches_its_rule(rule, text):
    assert rule.regex.search(text), f"{rule.id} should match {text!r}"


@pytest.mark.parametrize(("rule", "text"), _cases("counter", KNOWN_BAD_COUNTER_EXAMPLES))
def test_counter_example_does_not_match_its_rule(rule, text):
    assert rule.regex.search(text) is None, f"{rule.id} should not match {text!r}"


def _first_line_rule(text: str) -> str | None:
    """Id of the line rule the engine would apply to `text` (first match in table order)."""
    for rule in RULES.line_rules:
        if rule.kind == "line_detector":
            if LINE_DETECTORS[rule.pattern](text) is not None:
                return rule.id
        elif rule.regex.search(text):
            return rule.id
    return None


@pytest.mark.parametrize(("rule", "text"), _cases("example", KNOWN_SHADOWED_EXAMPLES))
def test_example_is_not_taken_by_an_earlier_rule(rule, text):
    assert _first_line_rule(text) == rule.id


TIMESTAMP_RULE = RULES.by_id("timestamp.line")


@pytest.mark.parametrize("text", TIMESTAMP_RULE.examples)
def test_timestamp_examples_parse(text):
    parsed = parse_timestamp_line(text)
    assert parsed is not None
    assert parsed.value.year >= 1900


@pytest.mark.parametrize("text", TIMESTAMP_RULE.counter_examples)
def test_timestamp_counter_examples_do_not_parse(text):
    assert parse_timestamp_line(text) is None


def test_timestamp_rule_uses_the_timestamp_detector():
    assert TIMESTAMP_RULE.kind == "line_detector"
    assert TIMESTAMP_RULE.examples
    assert TIMESTAMP_RULE.counter_examples


@pytest.mark.parametrize("rule", RULES.rules, ids=[rule.id for rule in RULES.rules])
def test_every_rule_has_a_reason(rule):
    assert rule.reason.strip()


@pytest.mark.parametrize("rule", REGEX_RULES, ids=[rule.id for rule in REGEX_RULES])
def test_every_regex_rule_has_an_example(rule):
    assert len(rule.examples) >= 1


def test_every_structural_rule_has_a_detector_and_every_detector_a_rule():
    structural = {rule.pattern for rule in RULES.structural_rules}
    assert structural <= KNOWN_DETECTORS
    assert structural == set(engine.STRUCTURAL_DETECTORS), (
        "unimplemented rules: "
        f"{sorted(structural - set(engine.STRUCTURAL_DETECTORS))}; "
        f"detectors no rule uses: {sorted(set(engine.STRUCTURAL_DETECTORS) - structural)}"
    )


def test_every_line_detector_has_a_rule():
    used = {rule.pattern for rule in RULES.rules if rule.kind == "line_detector"}
    assert used == set(LINE_DETECTORS)


# ---------------------------------------------------------------------- the loader
@pytest.mark.parametrize(
    ("table", "rule_id"),
    [
        pytest.param(_rule_row() + _rule_row(), "ads.sample", id="duplicate-id"),
        pytest.param(_rule_row(pattern="^(sample$"), "ads.sample", id="does-not-compile"),
        pytest.param(_rule_row(pattern="^.*$"), "ads.sample", id="matches-empty-line"),
        pytest.param(_rule_row(pattern="sample|"), "ads.sample", id="empty-alternative"),
        pytest.param(_rule_row(kind="line_magic"), "ads.sample", id="unknown-kind"),
        pytest.param(
            _rule_row("structural.sample", "structural", "no_such_detector"),
            "structural.sample",
            id="unknown-structural-detector",
        ),
        pytest.param(
            _rule_row("timestamp.sample", "line_detector", "no_such_detector"),
            "timestamp.sample",
            id="unknown-line-detector",
        ),
        pytest.param(_rule_row("NoGroup"), "NoGroup", id="id-without-group"),
        pytest.param(_rule_row("ads.Sample Rule"), "ads.Sample Rule", id="id-with-capitals"),
        pytest.param(
            '[vocabulary]\nagency = ["AFP"]\n' + _rule_row(pattern="^{agencies}$"),
            "ads.sample",
            id="unknown-vocabulary",
        ),
    ],
)
def test_loader_rejects_bad_rule_naming_it(table, rule_id):
    with pytest.raises(RuleTableError) as caught:
        parse_rules(table, known_detectors=KNOWN_DETECTORS)
    assert rule_id in str(caught.value)


def test_loader_rejects_unknown_vocabulary():
    table = '[vocabulary]\nagency = ["AFP"]\n' + _rule_row(pattern="^{agencies}$")
    with pytest.raises(RuleTableError, match=re.escape("{agencies}")):
        parse_rules(table)


def test_loader_expands_vocabulary_longest_first():
    table = '[vocabulary]\nagency = ["AP", "AP Images"]\n' + _rule_row(pattern="^{agency}$")
    rule = parse_rules(table).by_id("ads.sample")
    assert rule.regex.search("AP Images")
    assert rule.regex.search("AP")
    assert rule.regex.search("APX") is None


def test_loader_accepts_a_minimal_rule():
    rules = parse_rules(_rule_row(), known_detectors=KNOWN_DETECTORS)
    assert [rule.id for rule in rules.rules] == ["ads.sample"]
    assert rules.by_id("ads.sample").regex.search("sample ad")


def test_fingerprint_follows_the_table_text():
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    original = parse_rules(text, KNOWN_DETECTORS).fingerprint
    assert parse_rules(text, KNOWN_DETECTORS).fingerprint == original
    assert parse_rules(text + "\n# edited\n", KNOWN_DETECTORS).fingerprint != original
    edited = text.replace('reason = "comment widget"', 'reason = "comment box"')
    assert edited != text
    assert parse_rules(edited, KNOWN_DETECTORS).fingerprint != original


# ---------------------------------------------------------------------- the engine
def test_headline_printed_twice():
    headline = "Markets Rally After Central Bank Holds Rates"
    lines = _by_number(f"{headline}\n{headline}\n\n{PROSE_1}\n\n{PROSE_2}\n")
    assert lines[1].role == "title"
    assert lines[1].value == headline
    assert (lines[2].role, lines[2].rule_id) == ("duplicate", "structural.printed-twice")
    assert [lines[4].role, lines[6].role] == ["paragraph", "paragraph"]


def test_line_above_credit_is_its_caption():
    caption = "The minister speaks to reporters outside parliament on Monday"
    lines = _by_number(f"{PROSE_1}\n\n{caption}\nJane Roe/Pool via Reuters\n\n{PROSE_2}\n")
    assert lines[3].role == "caption"
    assert lines[3].rule_id == "structural.caption-before-credit"
    assert lines[3].value == "Jane Roe/Pool via Reuters"
    assert lines[3].caption == caption
    assert (lines[4].role, lines[4].rule_id) == ("credit", "credit.via-agency")
    assert lines[4].attached
    assert [lines[1].role, lines[6].role] == ["paragraph", "paragraph"]


def test_name_above_timestamp_is_the_byline():
    text = f"Jane Roe\nFri, 01/07/2022 – 21:00\n\n{PROSE_1}\n\n{PROSE_2}\n"
    lines = _by_number(text)
    assert (lines[1].role, lines[1].rule_id) == ("byline", "structural.byline-beside-timestamp")
    assert lines[1].value == "Jane Roe"
    assert (lines[2].role, lines[2].rule_id) == ("timestamp", "timestamp.line")


def test_navigation_before_the_body_is_removed():
    lines = _by_number(f"Home\nWorld\nSports\n\n{PROSE_1}\n\n{PROSE_2}\n")
    for number in (1, 2, 3):
        assert lines[number].rule_id == "structural.fragment-outside-body"
        assert not lines[number].kept
    assert [line.line_number for line in _clean(f"Home\n{PROSE_1}").body] == [2]


def test_short_line_inside_the_body_is_a_heading():
    document = _clean(f"{PROSE_1}\n\nWhat comes next\n\n{PROSE_2}\n")
    assert [(line.role, line.rule_id) for line in document.lines] == [
        ("paragraph", None),
        ("heading", None),
        ("paragraph", None),
    ]
    assert document.body_text == f"{PROSE_1}\n\nWhat comes next\n\n{PROSE_2}"


def test_every_non_blank_line_is_accounted_for_once():
    text = (
        "Home\n  \nMarkets Rally After Central Bank Holds Rates\nAdvertisement\n\n"
        f"By Jane Roe\n{PROSE_1}\n\t\nShare this article\n{PROSE_2}\n©2023 Bloomberg L.P.\n"
    )
    document = _clean(text)
    expected = [n for n, raw in enumerate(text.split("\n"), start=1) if raw.strip()]
    assert [line.line_number for line in document.lines] == expected
    assert all(line.kept or line.rule_id for line in document.lines)
    assert {line.rule_id for line in document.removed} >= {
        "ads.advertisement",
        "byline.by-prefix",
        "share.prompt",
        "footer.copyright",
    }


SAMPLE_LINES = [
    *(text for rule in RULES.rules for text in (*rule.examples, *rule.counter_examples)),
    PROSE_1,
    PROSE_2,
    "Markets Rally After Central Bank Holds Rates",
    "Home",
    "What comes next",
    "Jane Roe",
    "",
    "   ",
]
DOCUMENTS = st.lists(
    st.one_of(st.text(max_size=80), st.sampled_from(SAMPLE_LINES)), max_size=20
).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_cleaning_accounts_for_every_line_and_never_invents_text(text):
    document = clean_text(text, RULES, Settings())
    raw_lines = text.split("\n")
    non_blank = [n for n, raw in enumerate(raw_lines, start=1) if raw.strip()]
    assert [line.line_number for line in document.lines] == non_blank
    for line in document.lines:
        source = re.sub(r"\s+", " ", raw_lines[line.line_number - 1]).strip()
        assert line.text == source
        if line.kept:
            assert line.content in source
        else:
            assert line.rule_id in {rule.id for rule in RULES.rules}


# ---------------------------------------------------------------------- generality (issue 3)
@pytest.mark.skipif(not EVAL_DEV.is_dir(), reason="../shared/eval/dev is not present")
def test_no_line_rule_spells_a_dev_site_name():
    """A rule keyed to one site's name cannot generalize to the sites of the held-out split."""
    names = {row["site"].split(".")[0] for row in load_manifest(EVAL_DEV).values() if row["site"]}
    assert len(names) > 10
    # "pv-magazine" is also spelled "pv magazine" or "pvmagazine".
    spellings = {name: "[- ]?".join(map(re.escape, name.split("-"))) for name in sorted(names)}
    spelled = [
        (rule.id, name)
        for rule in REGEX_RULES
        for name, spelling in spellings.items()
        if re.search(rf"(?<![a-z0-9]){spelling}(?![a-z0-9])", rule.pattern.lower())
    ]
    assert spelled == []


def _audit_module():
    spec = importlib.util.spec_from_file_location("audit_rules", REPO / "bench" / "audit_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_audit_credits_removed_words_the_output_lacks_from_the_gold(tmp_path):
    audit = _audit_module()
    (tmp_path / "p1.txt").write_text(
        f"Share this article\n\n{PROSE_1}\n\nSign up for our daily newsletter\n\n{PROSE_2}\n"
    )
    # The gold keeps the newsletter line (wrongly removed) and has "Share" once in its prose.
    (tmp_path / "p1.gold.txt").write_text(
        f"{PROSE_1}\n\nSign up for our daily newsletter\n\n{PROSE_2} Share"
    )
    audits, pages, sites, has_gold = audit.audit_folder(tmp_path, RULES, Settings(), 0.8)
    by_id = {row.rule_id: row for row in audits}
    assert (pages, sites, has_gold) == (1, 1, True)
    newsletter, share = by_id["newsletter.sign-up"], by_id["share.prompt"]
    assert (newsletter.words, newsletter.gold_words, newsletter.gold_lines) == (6, 6, 1)
    # Only "Share" of "Share this article" is a missed gold word: 1 of 3, not a gold line.
    assert (share.words, share.gold_words, share.gold_lines) == (3, 1, 0)
    assert audits[0].rule_id == "newsletter.sign-up"  # most gold words first


def test_audit_counts_pages_and_sites_and_lists_rules_that_never_fired(tmp_path):
    audit = _audit_module()
    for page_id in ("a1", "a2", "b1"):
        (tmp_path / f"{page_id}.txt").write_text(f"{PROSE_1}\n\nAdvertisement\n\n{PROSE_2}\n")
    (tmp_path / "manifest.tsv").write_text("id\tsite\na1\ta.example\na2\ta.example\n")
    audits, pages, sites, has_gold = audit.audit_folder(tmp_path, RULES, Settings(), 0.8)
    by_id = {row.rule_id: row for row in audits}
    assert (pages, sites, has_gold) == (3, 2, False)  # b1 has no manifest row: its own site
    ads = by_id["ads.advertisement"]
    assert (len(ads.lines), ads.pages, ads.sites) == (3, 3, 2)
    assert ads.top_site_share == pytest.approx(2 / 3)
    assert {rule.id for rule in RULES.rules} <= set(by_id)
    assert by_id["update.note"].lines == []
