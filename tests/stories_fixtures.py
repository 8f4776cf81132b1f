"""Articles for the story tests: made-up prose, a corpus of outlets around wire copy, and the
articles and paragraphs tables `assign` reads."""

import random
from datetime import datetime, timedelta

import pyarrow as pa

from tasks.stories.engine import StoryAssignment, StoryIndex
from tasks.stories.evaluation import StandInWarehouse

START = datetime(2022, 1, 7, 9, 0)
# Made-up five-letter words: paragraphs drawn from them share no 4-word run by chance.
_PROSE_WORDS = [
    first + vowel + middle + second_vowel + last
    for first in "bdfgklm" for vowel in "aeiou" for middle in "nprtv"
    for second_vowel in "aeiou" for last in "bdgkmnprt"
][::3]  # fmt: skip
# Another vocabulary of made-up words (the corpus), and names.
WORDS = [
    first + vowel + middle + second + last
    for first in "bdfgklmprt" for vowel in "aeiou" for middle in "lmnrstv"
    for second in "aeiou" for last in "dgkmnprt"
][::7]  # fmt: skip
NAMES = ["Hayashi", "Blinken", "Austin", "Kishi", "Okafor", "Lindqvist", "Moreau", "Tanaka",
         "Haddad", "Novak", "Ibarra", "Castell", "Oduya", "Brandt", "Sato", "Reyes"]  # fmt: skip


def prose(seed: int, words: int = 40) -> str:
    """A paragraph of made-up words no other seed shares a 4-word run with (in practice)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_PROSE_WORDS) for _ in range(words)).capitalize() + "."


def article(number: int, paragraphs: list[str], **values) -> dict:
    """An article numbered `number` (its id: the number in 32 hex digits)."""
    return {"id": f"{number:032x}", "paragraphs": paragraphs, **values}


def story_tables(articles: list[dict]) -> tuple[pa.Table, pa.Table]:
    """The articles and paragraphs tables of articles given as dicts (id, paragraphs, and
    optionally title, published_at, date_confidence)."""
    table = pa.table(
        {
            "article_id": [article["id"] for article in articles],
            "title": pa.array([article.get("title") for article in articles], pa.string()),
            "published_at": pa.array(
                [article.get("published_at") for article in articles], pa.timestamp("us")
            ),
            "date_confidence": pa.array(
                [article.get("date_confidence") for article in articles], pa.string()
            ),
        }
    )
    rows = [
        (article["id"], position, text)
        for article in articles
        for position, text in enumerate(article["paragraphs"])
    ]
    paragraphs = pa.table(
        {
            "article_id": [row[0] for row in rows],
            "position": pa.array([row[1] for row in rows], pa.int64()),
            "kind": ["paragraph"] * len(rows),
            "text": [row[2] for row in rows],
        }
    )
    return table, paragraphs


def outlet_corpus(count: int, seed: int = 1) -> list[dict]:
    """Articles in publication order: stories of outlets rewriting around wire paragraphs,
    near-duplicate copies (a marker added), some undated or with an ambiguous day/month date,
    and the same topic again a year later."""
    rng = random.Random(seed)

    def paragraph(names: list[str]) -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(25, 45))]
        for name in rng.sample(names, 2):
            words.insert(rng.randint(1, len(words) - 1), name)
        return " ".join(words).capitalize() + "."

    stories: list[dict] = []
    articles: list[dict] = []
    for number in range(count):
        published = START + timedelta(hours=2 * number)
        if not stories or rng.random() < 0.25:
            names = rng.sample(NAMES, 5)
            stories.append(
                {
                    "wire": [paragraph(names) for _ in range(4)],
                    "names": names,
                    "title": " ".join(rng.choice(WORDS) for _ in range(6)),
                    "members": [],
                }
            )
        story = rng.choice(stories[-4:])
        kind = rng.random()
        if story["members"] and kind < 0.3:  # a near duplicate of a member
            source = rng.choice(story["members"])
            body = list(source["paragraphs"])
            at = rng.randrange(len(body))
            body[at] = body[at].replace(" ", f" (ref {number}) ", 1)
            title = source["title"]
        else:
            own = [paragraph(story["names"]) for _ in range(rng.randint(2, 6))]
            body = own[:1] + rng.sample(story["wire"], rng.randint(2, 3)) + own[1:]
            title = story["title"] if rng.random() < 0.7 else None
        date: datetime | None = published
        confidence = None
        if rng.random() < 0.1:
            date = None
        elif rng.random() < 0.1 and date.day <= 12 and date.day != date.month:
            date, confidence = date.replace(month=date.day, day=date.month), "ambiguous_day_month"
        elif rng.random() < 0.05:
            date = date + timedelta(days=365)
        article = {
            "id": f"{rng.getrandbits(128):032x}",
            "title": title,
            "published_at": date,
            "date_confidence": confidence,
            "paragraphs": body,
        }
        story["members"].append(article)
        articles.append(article)
    return articles


def reloaded_index(assignment: StoryAssignment) -> StoryIndex:
    """The index a later run would load after `assignment` landed in a warehouse."""
    warehouse = StandInWarehouse()
    try:
        warehouse.land(assignment)
        return StoryIndex.load(warehouse.connection)
    finally:
        warehouse.close()
