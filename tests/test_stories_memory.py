"""A run's story index is bounded (Settings.story_index_max_articles): past 1.25 times the
bound it forgets its oldest articles, down to the bound. Under the bound nothing changes;
above it, articles find what is still indexed, and an article like only forgotten ones starts
a story of its own."""

import random
from datetime import timedelta

import numpy as np
from stories_fixtures import START, article, outlet_corpus, prose, reloaded_index, story_tables

from tasks.settings import Settings
from tasks.stories.engine import EVICTION_SLACK, Postings, StoryIndex, assign

UNBOUNDED = Settings(story_index_max_articles=0)


def _assign_batches(articles: list[dict], size: int, settings: Settings):
    """Assign `articles` in batches of `size`; yield (tables of the batch, index after it)."""
    index = StoryIndex.empty()
    for start in range(0, len(articles), size):
        assignment = assign(index, *story_tables(articles[start : start + size]), settings)
        index = assignment.index
        yield assignment.tables(), index


def test_a_bounded_index_never_holds_more_than_its_slack_and_stays_consistent():
    articles = outlet_corpus(400, seed=5)
    bound = 20
    sizes, landed, held = [], [], set()
    naming_forgotten = 0  # copies whose original was forgotten before they were assigned
    for tables, index in _assign_batches(articles, 10, Settings(story_index_max_articles=bound)):
        sizes.append(len(index))
        rows = tables["articles"].to_pylist()
        naming_forgotten += sum(
            row["duplicate_of"] is not None and row["duplicate_of"] not in held
            and row["duplicate_of"] not in {other["article_id"] for other in rows}
            for row in rows
        )  # fmt: skip
        landed += rows
        held = set(index.article_ids)
        assert len(index) <= EVICTION_SLACK * bound
        # Everything the index holds belongs to the articles it still holds.
        assert len(index.story_of) == len(index.root_of) == len(index.days_of) == len(index)
        assert len(index.article_index) == len(index)
        assert len(index.story_ids) <= len(index)
        paragraphs = len(index.paragraph_article)
        assert index.paragraph_article.min() >= 0
        assert index.paragraph_article.max() < len(index)
        for kind, postings in index.postings.items():
            assert postings.items == (paragraphs if kind == "passage" else len(index)), kind
            assert postings.sets <= postings.items, kind  # forgotten sets were dropped
    assert min(sizes[sizes.index(max(sizes)) :]) >= bound, "forgets down to the bound, no more"
    assert sizes.count(bound) >= 10, "forgot many times"
    # Ids stay valid: a story is named by its first article, in that story; a copy names an
    # original that copies nothing (also when the original was forgotten).
    by_id = {row["article_id"]: row for row in landed}
    assert len(by_id) == len(articles)
    for row in landed:
        assert by_id[row["story_id"]]["story_id"] == row["story_id"]
        if row["duplicate_of"] is not None:
            assert by_id[row["duplicate_of"]]["duplicate_of"] is None
    assert naming_forgotten >= 1, "some copies name an original already forgotten"


def test_the_bounded_index_holds_a_bounded_share_of_the_signatures():
    articles = outlet_corpus(600, seed=6)
    *_, (_tables, bounded) = _assign_batches(articles, 50, Settings(story_index_max_articles=60))
    *_, (_tables, unbounded) = _assign_batches(articles, 50, UNBOUNDED)
    assert len(unbounded) == 600
    assert len(bounded) <= 75
    for kind in ("passage", "band", "title"):  # (str.capitalize lower-cases its names)
        held, everything = len(bounded.postings[kind]), len(unbounded.postings[kind])
        assert 0 < held < 0.25 * everything, (kind, held, everything)
    assert bounded.nbytes() < 0.5 * unbounded.nbytes()


def test_under_the_bound_assignment_equals_the_unbounded_one():
    articles = outlet_corpus(360, seed=1)
    bounded = Settings(story_index_max_articles=288)  # 1.25 times: exactly 360
    runs = [list(_assign_batches(articles, 120, settings)) for settings in (bounded, UNBOUNDED)]
    assert len(runs[0][-1][1]) == 360, "nothing forgotten"
    stories = set()
    for (got, got_index), (want, want_index) in zip(*runs, strict=True):
        for name in ("articles", "shared_passages", "story_signatures"):
            assert got[name].equals(want[name]), name
        assert np.array_equal(got_index.story_of, want_index.story_of)
        stories.update(got["articles"].column("story_id").to_pylist())
    assert 30 < len(stories) < 300, "several stories of several articles"


def _wire_and_copies() -> tuple[list[list[dict]], dict[str, str]]:
    """Batches: a wire story X (A, then outlet B printing two of its paragraphs), a story Y
    (P, then Q, an edited copy of P), two unrelated articles that push A and P out of an index
    bounded to 4 articles, then: C, a copy of Q; D, printing the wire paragraphs B prints; E,
    printing only wire paragraphs B does not."""
    wire = [prose(seed) for seed in range(1000, 1006)]
    original = [prose(seed) for seed in range(1100, 1106)]
    copy = [*original[:-1], original[-1].replace(" ", " also ", 1)]
    again = [original[0].replace(" ", " still ", 1), *copy[1:]]

    def at(hours: int) -> dict:
        return {"published_at": START + timedelta(hours=hours)}

    batches = [
        [article(1, wire, **at(0)), article(2, original, **at(0))],  # A, P
        [
            article(3, copy, **at(1)),  # Q
            article(4, [prose(1200), wire[0], prose(1201), wire[1]], **at(2)),  # B
        ],
        [article(5, [prose(1300), prose(1301)], **at(3)), article(6, [prose(1400)], **at(3))],
        [
            article(7, again, **at(4)),  # C
            article(8, [prose(1500), wire[0], prose(1501), wire[1]], **at(5)),  # D
            article(9, [prose(1600), *wire[2:]], **at(6)),  # E
        ],
    ]  # fmt: skip
    names = {"A": 1, "P": 2, "Q": 3, "B": 4, "C": 7, "D": 8, "E": 9}
    return batches, {name: f"{number:032x}" for name, number in names.items()}


def _run(batches: list[list[dict]], settings: Settings) -> tuple[dict[str, dict], StoryIndex]:
    index, rows = StoryIndex.empty(), {}
    for batch in batches:
        assignment = assign(index, *story_tables(batch), settings)
        index = assignment.index
        rows.update({row["article_id"]: row for row in assignment.articles.to_pylist()})
        passages = assignment.shared_passages.to_pylist()
        for row in passages:
            rows[row["article_id"]].setdefault("sources", set()).add(row["other_article_id"])
    return rows, index


def test_articles_still_indexed_are_found_and_name_forgotten_stories_and_originals():
    batches, ids = _wire_and_copies()
    rows, index = _run(batches, Settings(story_index_max_articles=4))
    assert ids["A"] not in index.article_index
    assert ids["P"] not in index.article_index
    # C copies Q, which copies the forgotten P: C names P as its original, in P's story.
    assert rows[ids["Q"]]["duplicate_of"] == ids["P"]
    assert rows[ids["C"]]["duplicate_of"] == ids["P"]
    assert rows[ids["C"]]["story_id"] == ids["P"]
    # D prints the wire paragraphs B prints: found through B, in the story A named.
    assert rows[ids["B"]]["story_id"] == ids["A"]
    assert rows[ids["D"]]["story_id"] == ids["A"]
    assert rows[ids["D"]]["sources"] == {ids["B"]}


def test_an_article_like_only_forgotten_ones_starts_its_own_story():
    batches, ids = _wire_and_copies()
    bounded, _index = _run(batches, Settings(story_index_max_articles=4))
    unbounded, _index = _run(batches, UNBOUNDED)
    assert unbounded[ids["E"]]["story_id"] == ids["A"], "with A indexed, E joins its story"
    assert unbounded[ids["E"]]["duplicate_of"] == ids["A"]
    assert bounded[ids["E"]]["story_id"] == ids["E"]
    assert bounded[ids["E"]]["duplicate_of"] is None
    assert "sources" not in bounded[ids["E"]]
    assert bounded[ids["E"]]["originality"] == 1.0
    # Everything else is assigned as without a bound.
    for name in ("A", "P", "Q", "B", "C", "D"):
        assert bounded[ids[name]]["story_id"] == unbounded[ids[name]]["story_id"], name
        assert bounded[ids[name]]["duplicate_of"] == unbounded[ids[name]]["duplicate_of"], name


def test_postings_after_forgetting_answer_for_the_items_left():
    """Which items carry a key, and which carry the same keys, after forgetting the first
    `cut` items (numbered from 0 again), against the key sets themselves; then after more
    items are added (new sets numbered after the ones left)."""
    rng = random.Random(8)
    pool = [int(value) for value in np.random.default_rng(9).integers(0, 2**63, 30)]
    items: list[frozenset] = []
    postings = Postings(keep=None, carriers=None)  # no caps: every carrier is an answer

    def add(count: int) -> None:
        batch = []
        for _ in range(count):
            if rng.random() < 0.1:
                batch.append(frozenset())
            elif rng.random() < 0.5 and any(items):
                batch.append(rng.choice([keys for keys in items if keys]))
            else:
                batch.append(frozenset(rng.sample(pool, rng.randint(1, 4))))
        owners = np.repeat(np.arange(count), [len(keys) for keys in batch])
        keys = np.array([key for keys in batch for key in sorted(keys)], dtype=np.uint64)
        postings.add(keys, owners.astype(np.int64), count)
        items.extend(batch)

    def check() -> None:
        assert postings.items == len(items)
        query, sets = postings.sets_of(np.array(pool, dtype=np.uint64))
        with_key, carrier = postings.carriers_before(sets, np.full(len(sets), len(items)))
        for at, key in enumerate(pool):
            found = sorted(carrier[np.isin(with_key, np.flatnonzero(query == at))].tolist())
            assert found == [item for item, keys in enumerate(items) if key in keys], key
        for number in range(postings.sets):  # a set: items with the same keys
            _query, carriers = postings.carriers_before(np.array([number]), np.array([len(items)]))
            assert len({items[item] for item in carriers.tolist()}) == 1

    for _round in range(3):
        add(rng.randint(40, 60))
        add(rng.randint(40, 60))
        cut = rng.randint(20, 50)
        sets_before = postings.sets
        postings.forget_before(cut)
        del items[:cut]
        assert postings.sets < sets_before
        check()
    add(30)
    check()


def test_a_reloaded_index_forgets_as_the_index_kept_in_memory():
    """The index a run loads from the warehouse is bounded too: bounded, it assigns the next
    articles exactly as the bounded index the earlier run kept in memory."""
    articles = outlet_corpus(300, seed=7)
    earlier = assign(StoryIndex.empty(), *story_tables(articles[:200]), UNBOUNDED)
    reloaded = reloaded_index(earlier)
    bounded = Settings(story_index_max_articles=60)
    results = []
    for index in (earlier.index, reloaded):
        assert index.bound(bounded.story_index_max_articles) == 140
        results.append(assign(index, *story_tables(articles[200:]), bounded).tables())
    kept, loaded = results
    for name in ("articles", "shared_passages"):
        assert loaded[name].equals(kept[name]), name
    rows = kept["articles"].to_pylist()
    assert sum(row["story_id"] != row["article_id"] for row in rows) > 30, "many join stories"


def test_loading_a_bounded_index_skips_the_signatures_it_would_forget():
    """A run loads the index bounded: the signatures of the articles the bound forgets are not
    read (they are what grows with the warehouse), and the index assigns the next articles
    exactly as the whole index loaded and then bounded."""
    from tasks.stories.evaluation import StandInWarehouse
    from warehouse.stories import read_story_index_rows

    articles = outlet_corpus(300, seed=7)
    earlier = assign(StoryIndex.empty(), *story_tables(articles[:200]), UNBOUNDED)
    bounded = Settings(story_index_max_articles=60)
    warehouse = StandInWarehouse()
    try:
        warehouse.land(earlier)
        _, whole_rows = read_story_index_rows(warehouse.connection)
        _, bounded_rows = read_story_index_rows(warehouse.connection, max_articles=60)
        whole = StoryIndex.load(warehouse.connection)
        loaded_bounded = StoryIndex.load(warehouse.connection, max_articles=60)
    finally:
        warehouse.close()
    for kind, rows in bounded_rows.items():
        indexes = rows.column("article_index").to_numpy()
        assert len(indexes) == 0 or indexes.min() >= 140, kind
        assert len(rows) <= len(whole_rows[kind]), kind
    assert len(bounded_rows["passage"]) < len(whole_rows["passage"])
    assert whole.bound(60) == 140
    assert len(loaded_bounded) == len(whole) == 60
    assert loaded_bounded.forgotten_originals == whole.forgotten_originals
    results = [
        assign(index, *story_tables(articles[200:]), bounded).tables()
        for index in (whole, loaded_bounded)
    ]
    for name in ("articles", "shared_passages", "story_signatures"):
        assert results[1][name].equals(results[0][name]), name
