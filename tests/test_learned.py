"""Learned boilerplate: a site's recurring short lines are removed once a few pages are seen."""

from datetime import datetime

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.learned import (
    LearnedCounts,
    is_learnable,
    learned_keys,
    line_key,
    page_lines,
    source_key,
)
from tasks.clean.rules import load_rules
from tasks.process.engine import RunContext, process_batch
from tasks.read.engine import discover_files
from tasks.settings import Settings

SETTINGS = Settings()
RULES = load_rules(known_detectors=KNOWN_DETECTORS)
# Site furniture the rule table does not know: it sits between body paragraphs, so without
# learning the cleaner keeps it (as subheadings).
SITE_LINES = ("Gadget Harbour Weekly", "Pick of the week", "Lisbon bureau desk")
SIGN_OFF = (
    "This story was produced with the Lisbon Science Desk and checked by our standards editors."
)


def _page(number: int) -> str:
    topics = ["harbour cranes", "tram lines", "river ferries", "rooftop gardens", "bakeries"]
    topic = topics[number % len(topics)]
    return "\n\n".join(
        [
            f"City council approves a new plan for {topic} number {number}",
            f"The council voted on Tuesday to expand the {topic} programme across the city, "
            f"officials said, after a long debate over costs in district {number}.",
            SITE_LINES[0],
            f"Residents of district {number} told reporters that the {topic} had changed their "
            "daily routines and that they hoped the plan would be funded for years.",
            SITE_LINES[1],
            f"The mayor said the budget for {topic} would be published next month, and that "
            f"district {number} would be the first to see the work begin.",
            SITE_LINES[2],
            SIGN_OFF,
        ]
    )


def _write_site(folder, pages: range):
    folder.mkdir(parents=True, exist_ok=True)
    for number in pages:
        (folder / f"page-{number:03}.txt").write_text(_page(number))


def _context(prior=None) -> RunContext:
    return RunContext(
        run_id="run", ingested_at=datetime(2026, 1, 1), cleaner_version="t",
        prior_line_counts=prior or {},
    )  # fmt: skip


def test_source_key_is_host_or_folder():
    assert source_key("https://www.example.com/a/b.html") == "example.com"
    assert source_key("file:///data/site-a/page%201.txt") == "/data/site-a"


def test_prose_sign_off_is_never_learnable_but_nav_lines_are():
    assert not is_learnable(SIGN_OFF, SETTINGS)
    assert all(is_learnable(line, SETTINGS) for line in SITE_LINES)


def test_without_learning_the_site_lines_stay_in_the_body():
    body = clean_text(_page(1), RULES, SETTINGS).body_text
    assert all(line in body for line in SITE_LINES)


def test_learned_keys_need_enough_pages():
    pages = [("site", page_lines(_page(n), SETTINGS)) for n in range(2)]
    counts = LearnedCounts.from_pages(pages)
    assert learned_keys("site", pages[0][1], {}, counts, SETTINGS) == frozenset()
    prior = {("site", line_key(SITE_LINES[0])): 5}
    assert learned_keys("site", pages[0][1], prior, counts, SETTINGS) == {line_key(SITE_LINES[0])}


def test_site_lines_are_removed_once_a_few_pages_are_seen(tmp_path):
    _write_site(tmp_path / "site-a", range(4))
    result = process_batch(discover_files([tmp_path]), RULES, SETTINGS, _context())
    removed = result.tables["removed_lines"].to_pylist()
    learned = {row["text"] for row in removed if row["rule_id"] == "learned.site-boilerplate"}
    assert learned == set(SITE_LINES)
    bodies = result.tables["articles"].column("body_text").to_pylist()
    assert len(bodies) == 4
    for body in bodies:
        assert not any(line in body for line in SITE_LINES)
        assert SIGN_OFF in body, "a recurring prose sign-off stays in the article"


def test_learning_is_per_source(tmp_path):
    _write_site(tmp_path / "site-a", range(4))
    _write_site(tmp_path / "site-b", range(10, 11))
    result = process_batch(discover_files([tmp_path]), RULES, SETTINGS, _context())
    articles = result.tables["articles"].to_pylist()
    lonely = next(row for row in articles if "site-b" in row["source_uri"])
    assert all(line in lonely["body_text"] for line in SITE_LINES)


def test_a_later_run_uses_what_earlier_runs_learned(tmp_path, prefect_harness):
    from flows.ingest import ingest

    site = tmp_path / "inbox" / "site-a"
    warehouse = tmp_path / "warehouse"
    for number in range(3):  # three runs, one new page each: no batch alone has enough
        _write_site(site, range(number, number + 1))
        ingest(sources=[str(tmp_path / "inbox")], warehouse=str(warehouse))
    from warehouse.lake import connect

    connection = connect(warehouse, read_only=True)
    try:
        by_run = connection.execute(
            "select a.run_id, count(r.text) from articles a left join removed_lines r "
            "on r.article_id = a.article_id and r.rule_id = 'learned.site-boilerplate' "
            "group by a.run_id, a.ingested_at order by a.ingested_at"
        ).fetchall()
        counts = connection.execute(
            "select text, sum(doc_count) from learned_lines group by text"
        ).fetchall()
    finally:
        connection.close()
    assert [removed for _run, removed in by_run] == [0, 0, len(SITE_LINES)]
    assert dict(counts)[SITE_LINES[0]] == 3
