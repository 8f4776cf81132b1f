"""A story evaluation corpus with known truth, and pairwise precision and recall on it.

The corpus is generated at run time from real bodies: the seeds (through the cleaner) and the
gold bodies of the dev pages (`<id>.gold.txt`). Nothing generated is stored in the repository.
Some bodies are bases (each its own event), a few others only lend paragraphs ("donors") as the
outlets' own text. Planted on top, with a seeded random generator:
- near duplicates of bases: word edits and spelling variants, reordered paragraphs, truncation,
  other boilerplate, and a mix (truth: same duplicate group and story as the base);
- stories: several outlets rewriting around a base's wire paragraphs: the wire's lead paragraph
  and one or two more, lightly edited, sometimes one more rewritten heavily, and at least as
  many words of their own; a quarter undated (truth: the base's story);
- distractors: the same topic about a later event (the same names, a similar headline): two
  outlets sharing two passages of their own; half of these events dated about a year later
  and reprinting one background paragraph of the base, half undated without one (truth: a
  story of their own).
The seeds keep their own truth: 000, 001, 002 and 004 report the January 2022 meeting; 003
reports the January 2023 meeting of the same committee (docs/stories.md).
"""

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from tasks.settings import Settings
from tasks.stories.engine import StoryAssignment, StoryIndex, assign, sign_batch
from tasks.stories.signatures import article_names

START = datetime(2019, 10, 1, 9, 0)
PUBLISHERS = tuple(
    f"{city} {kind}"
    for city in ("Northport", "Eastfield", "Lakeside", "Rivertown", "Hillcrest", "Bayview")
    for kind in ("Herald", "Times", "Post", "Courier", "Daily")
)
BOILERPLATE = (
    "Follow us on Twitter and Facebook for the latest news and updates from our newsroom.",
    "This article was originally published by our partners and is republished with permission.",
    "Sign up for our morning newsletter to get the top stories delivered to your inbox.",
    "Copyright 2019 All rights reserved. This material may not be published or redistributed.",
    "Have a news tip? Contact our reporters securely through the form on our website.",
    "Read more: the full coverage of this story is available in our special section online.",
)
SPELLING = (
    ("defense", "defence"), ("ize", "ise"), ("izing", "ising"), ("color", "colour"),
    ("center", "centre"), ("program", "programme"), ("labor", "labour"), ("per cent", "percent"),
)  # fmt: skip
FILLER_WORDS = ("also", "reportedly", "now", "still", "officially", "further", "again", "then")
TITLE_WORDS = ("pledge", "vow", "warn", "push", "seek", "plan", "urge", "back", "agree", "say")
NEAR_DUPLICATE_KINDS = ("edited", "reordered", "truncated", "boilerplate", "mixed")
WIRE_PARAGRAPH_MIN_WORDS = 20
OWN_PARAGRAPH_MIN_WORDS = 15


@dataclass(frozen=True, slots=True)
class EvalArticle:
    """One article of the corpus, with the truth it was generated with."""

    article_id: str
    kind: str  # seed, base, a near-duplicate kind, outlet, distractor
    title: str | None
    publisher: str | None
    published_at: datetime | None
    paragraphs: tuple[str, ...]
    duplicate_group: str
    story: str
    date_confidence: str | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """A real article body: id, headline (when known) and paragraphs."""

    body_id: str
    title: str | None
    paragraphs: tuple[str, ...]
    publisher: str | None = None
    published_at: datetime | None = None
    date_confidence: str | None = None


def _article_id(paragraphs: Iterable[str], salt: str) -> str:
    digest = hashlib.sha256(("\n\n".join(paragraphs) + salt).encode("utf-8")).hexdigest()
    return digest[:32]


def dev_bodies(dev: Path) -> list[Body]:
    """Gold bodies of the dev pages; the headline from the page URL's slug when it has one."""
    urls = {}
    manifest = dev / "manifest.tsv"
    if manifest.is_file():
        lines = manifest.read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(header, line.split("\t"), strict=False))
            urls[row["id"]] = row.get("url", "")
    bodies = []
    for path in sorted(dev.glob("*.gold.txt")):
        body_id = path.name.removesuffix(".gold.txt")
        paragraphs = tuple(
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )
        bodies.append(Body(body_id, _slug_title(urls.get(body_id, "")), paragraphs))
    return bodies


def _slug_title(url: str) -> str | None:
    slug = max(url.rstrip("/").split("/")[3:] or [""], key=lambda part: part.count("-"))
    words = [word for word in re.split(r"[-_.]", slug) if word.isalpha() and len(word) > 1]
    return " ".join(words).capitalize() if len(words) >= 3 else None


def seed_bodies(seeds: Path) -> list[Body]:
    """The seeds as the pipeline lands them (cleaned, with their extracted metadata)."""
    from tasks.clean.engine import KNOWN_DETECTORS, clean_text
    from tasks.clean.rules import load_rules
    from tasks.extract.engine import extract_article

    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    settings = Settings()
    bodies = []
    for path in sorted(Path(seeds).resolve().glob("*.txt")):
        cleaned = clean_text(path.read_text(encoding="utf-8"), rules, settings)
        article = extract_article(cleaned, path.as_uri(), settings)
        paragraphs = tuple(p.text for p in article.paragraphs if p.kind == "paragraph")
        bodies.append(
            Body(
                path.stem[:3],
                article.title,
                paragraphs,
                article.publisher,
                article.published_at,
                article.date_confidence,
            )
        )
    return bodies


# The seeds' truth: the January 2022 meeting, and 003 on the January 2023 meeting.
SEED_STORIES = {"000": "seeds-2022", "001": "seeds-2022", "002": "seeds-2022",
                "003": "seeds-2023", "004": "seeds-2022"}  # fmt: skip


def _edit(text: str, rng: random.Random, rate: float) -> str:
    """Small edits: words dropped, inserted or swapped at `rate`, and spelling variants."""
    words = text.split()
    edited: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue
        edited.append(word)
        if roll > 1 - rate / 3:
            edited.append(rng.choice(FILLER_WORDS))
        elif rate / 3 <= roll < rate * 2 / 3 and len(edited) > 1:
            edited[-1], edited[-2] = edited[-2], edited[-1]
    result = " ".join(edited) or text
    for american, british in SPELLING:
        if rng.random() < 0.5:
            result = result.replace(american, british)
    return result


def _retitle(title: str | None, rng: random.Random, changes: int) -> str | None:
    if not title:
        return title
    words = title.split()
    for _ in range(changes):
        position = rng.randrange(len(words))
        words[position] = rng.choice(TITLE_WORDS)
    if len(words) > 3 and rng.random() < 0.5:
        first, second = rng.sample(range(len(words)), 2)
        words[first], words[second] = words[second], words[first]
    return " ".join(words)


def _near_duplicate(base: Body, kind: str, rng: random.Random) -> tuple[str, ...]:
    paragraphs = list(base.paragraphs)
    if kind in ("edited", "mixed"):
        paragraphs = [_edit(text, rng, 0.02) for text in paragraphs]
    if kind == "reordered" and len(paragraphs) > 2:
        moved = paragraphs.pop(rng.randrange(1, len(paragraphs)))
        paragraphs.insert(rng.randrange(len(paragraphs)), moved)
        first, second = rng.sample(range(len(paragraphs)), 2)
        paragraphs[first], paragraphs[second] = paragraphs[second], paragraphs[first]
    if kind in ("truncated", "mixed"):
        words = sum(len(text.split()) for text in paragraphs)
        keep_share = rng.uniform(0.65, 0.85) if kind == "truncated" else 0.9
        kept, count = [], 0
        for text in paragraphs:
            if kept and count >= keep_share * words:
                break
            kept.append(text)
            count += len(text.split())
        paragraphs = kept
    if kind in ("boilerplate", "mixed"):
        extra = rng.sample(BOILERPLATE, rng.randint(1, 2))
        paragraphs = [extra[0], *paragraphs, *extra[1:]]
    return tuple(paragraphs)


@dataclass(slots=True)
class _Generator:
    rng: random.Random
    donors: list[str]
    articles: list[EvalArticle] = field(default_factory=list)

    def own_paragraphs(self, count: int) -> list[str]:
        """Paragraphs no other article has (each donor paragraph is used once)."""
        return [self.donors.pop() for _ in range(min(count, len(self.donors)))]

    def add(self, kind: str, paragraphs: tuple[str, ...], **values: object) -> EvalArticle:
        article = EvalArticle(
            article_id=_article_id(paragraphs, f"{kind}{len(self.articles)}"),
            kind=kind,
            paragraphs=paragraphs,
            **values,
        )
        self.articles.append(article)
        return article

    def publisher(self, avoid: Iterable[str | None] = ()) -> str:
        taken = set(avoid)
        return self.rng.choice([name for name in PUBLISHERS if name not in taken])


def _wire_paragraphs(body: Body) -> list[str]:
    return [text for text in body.paragraphs if len(text.split()) >= WIRE_PARAGRAPH_MIN_WORDS]


def build_corpus(
    seeds: list[Body], dev: list[Body], seed: int = 5, donor_bodies: int = 12
) -> list[EvalArticle]:
    """The corpus (see the module docstring); deterministic for a given `seed`."""
    rng = random.Random(seed)
    by_paragraphs = sorted(dev, key=lambda body: (-len(body.paragraphs), body.body_id))
    donors_bodies, bases = by_paragraphs[:donor_bodies], by_paragraphs[donor_bodies:]
    donors, openings = [], set()
    for body in donors_bodies:
        for text in body.paragraphs:
            opening = " ".join(text.lower().split()[:8])
            if len(text.split()) >= OWN_PARAGRAPH_MIN_WORDS and opening not in openings:
                openings.add(opening)  # a gold body can repeat a paragraph: use it once
                donors.append(text)
    rng.shuffle(donors)
    generator = _Generator(rng, donors)
    for body in seeds:
        story = SEED_STORIES.get(body.body_id, f"seed-{body.body_id}")
        generator.add(
            "seed",
            body.paragraphs,
            title=body.title,
            publisher=body.publisher,
            published_at=body.published_at,
            date_confidence=body.date_confidence,
            duplicate_group=f"seed-{body.body_id}",
            story=story,
        )
    rng.shuffle(bases)
    dated_bases = []
    for number, body in enumerate(bases):
        published = START + timedelta(days=rng.randrange(120), minutes=rng.randrange(1440))
        base = replace(body, publisher=generator.publisher(), published_at=published)
        dated_bases.append(base)
        generator.add(
            "base",
            base.paragraphs,
            title=base.title,
            publisher=base.publisher,
            published_at=published,
            duplicate_group=base.body_id,
            story=base.body_id,
        )
        for kind in rng.sample(NEAR_DUPLICATE_KINDS, number % 3):
            when = rng.choice([published + timedelta(hours=rng.randrange(1, 40)), None])
            generator.add(
                kind,
                _near_duplicate(base, kind, rng),
                title=_retitle(base.title, rng, 0) if rng.random() < 0.7 else base.title,
                publisher=generator.publisher([base.publisher]),
                published_at=when,
                duplicate_group=base.body_id,
                story=base.body_id,
            )
    wires = [base for base in dated_bases if len(_wire_paragraphs(base)) >= 4]
    for number, wire in enumerate(wires[: max(4, len(wires) // 3)]):
        _plant_story(generator, wire)
        if number % 2 == 0:
            _plant_distractor(generator, wire, background=number % 4 == 0)
    return generator.articles


def _plant_story(generator: _Generator, wire: Body) -> None:
    """Outlets around the wire: its lead paragraph and one or two more, lightly edited,
    sometimes one more rewritten heavily, and at least as many words of their own."""
    rng = generator.rng
    core = _wire_paragraphs(wire)[:1] + rng.sample(_wire_paragraphs(wire)[1:], 3)
    used = [wire.publisher]
    for _outlet in range(rng.randint(3, 4)):
        picked = [core[0], *rng.sample(core[1:], rng.choice([1, 2, 2]))]
        shared = [_edit(text, rng, 0.03) for text in picked]
        rest = [text for text in core if text not in picked]
        if rest and rng.random() < 0.5:
            shared.append(_edit(rng.choice(rest), rng, 0.35))  # rewritten: not the same text
        shared_words = sum(len(text.split()) for text in shared)
        own = generator.own_paragraphs(2)
        while sum(len(text.split()) for text in own) < shared_words and generator.donors:
            own += generator.own_paragraphs(1)
        paragraphs = [own[0], *shared]
        for text in own[1:]:
            paragraphs.insert(rng.randrange(1, len(paragraphs) + 1), text)
        publisher = generator.publisher(used)
        used.append(publisher)
        delay = rng.choice([0, 0, 1, None])
        generator.add(
            "outlet",
            tuple(paragraphs),
            title=_retitle(wire.title, rng, 1),
            publisher=publisher,
            published_at=None
            if delay is None
            else wire.published_at + timedelta(days=delay, hours=rng.randrange(1, 12)),
            duplicate_group=f"outlet-{len(generator.articles)}",
            story=wire.body_id,
        )


def _plant_distractor(generator: _Generator, wire: Body, background: bool) -> None:
    """A later event on the same topic and with the same names: two outlets sharing two
    passages of their own. With `background` they also reprint one wire paragraph and are
    dated; without, they are undated."""
    rng = generator.rng
    names = [name.capitalize() for name in article_names(wire.paragraphs)[:6]]
    later = wire.published_at + timedelta(days=rng.randint(330, 400))
    shared = generator.own_paragraphs(2)
    for outlet in range(2):
        # The same people again: the wire's names opening a paragraph of the outlet's own.
        lede = " ".join(generator.own_paragraphs(1))
        paragraphs = [f"{', '.join(rng.sample(names, min(4, len(names))))}: {lede}"]
        paragraphs += [_edit(text, rng, 0.02) for text in shared]
        paragraphs += generator.own_paragraphs(rng.randint(2, 3))
        if background:
            paragraphs.append(rng.choice(_wire_paragraphs(wire)))
        generator.add(
            "distractor",
            tuple(paragraphs),
            title=_retitle(wire.title, rng, 2),
            publisher=generator.publisher([wire.publisher]),
            published_at=later + timedelta(hours=outlet * 5) if background else None,
            duplicate_group=f"distractor-{len(generator.articles)}",
            story=f"{wire.body_id}-later",
        )


def corpus_tables(articles: list[EvalArticle]) -> tuple[pa.Table, pa.Table]:
    """The columns `assign` reads: articles and their body paragraphs."""
    table = pa.table(
        {
            "article_id": [article.article_id for article in articles],
            "title": [article.title for article in articles],
            "publisher": [article.publisher for article in articles],
            "published_at": pa.array(
                [article.published_at for article in articles], pa.timestamp("us")
            ),
            "date_confidence": [article.date_confidence for article in articles],
        }
    )
    ids, positions, texts = [], [], []
    for article in articles:
        for position, text in enumerate(article.paragraphs):
            ids.append(article.article_id)
            positions.append(position)
            texts.append(text)
    paragraphs = pa.table(
        {
            "article_id": ids,
            "position": pa.array(positions, pa.int64()),
            "kind": ["paragraph"] * len(ids),
            "text": texts,
        }
    )
    return table, paragraphs


class StandInWarehouse:
    """An in-memory DuckDB with just the columns the story index reads, to test reloading."""

    def __init__(self) -> None:
        self.connection = duckdb.connect(":memory:")
        self.connection.execute(
            "CREATE TABLE articles (article_id VARCHAR, story_id VARCHAR, duplicate_of VARCHAR, "
            "published_at TIMESTAMP, date_confidence VARCHAR, ingested_at TIMESTAMP)"
        )
        self.connection.execute(
            "CREATE TABLE story_signatures (article_id VARCHAR, kind VARCHAR, position BIGINT, "
            "key BIGINT)"
        )
        self.runs = 0

    def land(self, assignment: StoryAssignment) -> None:
        self.runs += 1
        articles = assignment.articles.select(
            ["article_id", "story_id", "duplicate_of", "published_at", "date_confidence"]
        )
        ingested = pa.array([START + timedelta(seconds=self.runs)] * articles.num_rows)
        staged = articles.append_column("ingested_at", ingested.cast(pa.timestamp("us")))
        self.connection.register("staged", staged)
        self.connection.execute("INSERT INTO articles SELECT * FROM staged")
        self.connection.unregister("staged")
        self.connection.register("staged", assignment.story_signatures)
        self.connection.execute("INSERT INTO story_signatures SELECT * FROM staged")
        self.connection.unregister("staged")

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pairwise precision and recall: pairs put together that belong together."""

    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    shared_pairs: int


def pair_scores(truth: dict[str, str], predicted: dict[str, str]) -> PairScores:
    """Pairwise scores of a clustering (`predicted`: item -> cluster) against `truth`."""

    def pairs(counts: Iterable[int]) -> int:
        return sum(count * (count - 1) // 2 for count in counts)

    true_pairs = pairs(Counter(truth.values()).values())
    predicted_pairs = pairs(Counter(predicted.values()).values())
    shared = pairs(Counter((truth[item], predicted[item]) for item in truth).values())
    return PairScores(
        precision=shared / predicted_pairs if predicted_pairs else 1.0,
        recall=shared / true_pairs if true_pairs else 1.0,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        shared_pairs=shared,
    )


@dataclass(frozen=True, slots=True)
class StoryEvaluation:
    """Scores of one evaluation run, and what each article was given."""

    articles: int
    duplicates: PairScores
    stories: PairScores
    assigned: dict[str, tuple[str, str | None]]  # article_id -> (story_id, duplicate_of)


def evaluate(
    articles: list[EvalArticle], settings: Settings, batch_size: int = 40, seed: int = 5
) -> StoryEvaluation:
    """Assign the corpus in shuffled batches, each batch a 'run' that reloads the index from
    a stand-in warehouse, and score duplicates and stories pairwise. Each batch is signed
    first and assigned with its signatures, as the ingest flow does."""
    order = list(articles)
    random.Random(seed).shuffle(order)
    warehouse = StandInWarehouse()
    assigned: dict[str, tuple[str, str | None]] = {}
    try:
        for start in range(0, len(order), batch_size):
            index = StoryIndex.load(warehouse.connection)
            table, paragraphs = corpus_tables(order[start : start + batch_size])
            signed = sign_batch(table, paragraphs)
            assignment = assign(index, table, paragraphs, settings, signed=signed)
            warehouse.land(assignment)
            for row in assignment.articles.select(
                ["article_id", "story_id", "duplicate_of"]
            ).to_pylist():
                assigned[row["article_id"]] = (row["story_id"], row["duplicate_of"])
    finally:
        warehouse.close()
    ids = [article.article_id for article in articles]
    return StoryEvaluation(
        articles=len(articles),
        duplicates=pair_scores(
            {article.article_id: article.duplicate_group for article in articles},
            {key: assigned[key][1] or key for key in ids},
        ),
        stories=pair_scores(
            {article.article_id: article.story for article in articles},
            {key: assigned[key][0] for key in ids},
        ),
        assigned=assigned,
    )
