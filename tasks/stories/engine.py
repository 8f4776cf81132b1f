"""Stories and syndication: near duplicates, stories across outlets, shared passages. Pure.

A `StoryIndex` holds what assignment needs of every article already assigned: its story, its
date, and its signatures (paragraph anchors, MinHash LSH bands, names, title words) in sorted
posting arrays. `assign` signs a batch, adds it to the index, finds for each new article the
earlier articles it shares text, names or headline words with, and decides in publication
order: near duplicate of which article, which story (an existing one, else a new one named by
its first article), which paragraphs it shares, and how much of it is its own.

Story ids never change once landed: an article joins the story with the strongest evidence;
stories are not merged afterwards (the warehouse is insert-only). See docs/stories.md.
"""

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.arrow import arrow_schema
from tasks.settings import Settings
from tasks.stories import signatures as sig

LOGGER = logging.getLogger(__name__)

SIGNATURE_KINDS = ("passage", "band", "name", "title")
# A key matches at most its most recent carriers: bounded work for very common shingles or
# names, and wire copy carried by hundreds of outlets still links to the latest of them.
POSTINGS_PER_KEY = 32
# Two paragraphs share a passage when they share this many anchors and the shared anchors are
# at least passage_similarity_threshold of the shorter paragraph's.
PASSAGE_MIN_SHARED_ANCHORS = 2
# A body contained in another counts as a (truncated) near duplicate only if it has at least
# this share of the other's length.
TRUNCATION_MIN_LENGTH_RATIO = 0.5
# Story evidence beside shared passages: Dice overlap of headline words, and the share of the
# smaller name set found in the other (with at least NAME_MIN_SHARED names in common).
TITLE_SUPPORT = 0.3
NAME_SUPPORT = 0.5
NAME_MIN_SHARED = 3
# Without shared text, two dated articles within the window join on headline and names alone.
TITLE_ALONE = 0.5
PASSAGES_ALONE = 2
# When no date can check a link (the article or the story undated), one shared passage joins
# only if it is at least this share of the article's words.
UNDATED_MIN_SHARE = 0.25
_SECONDS_PER_DAY = 86_400.0
_EPOCH = datetime(1970, 1, 1)


class Postings:
    """(key, value) postings packed in one sorted uint64 array: the key's top 40 bits, then
    the value (an article or paragraph number, below 2**24). Values grow as articles are
    added, so a key's postings stay in insertion order: its last ones are the most recent."""

    VALUE_BITS = 24
    _VALUES = np.uint64((1 << VALUE_BITS) - 1)

    def __init__(self) -> None:
        self.packed = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.packed)

    def _prefix(self, keys: np.ndarray) -> np.ndarray:
        return (keys >> np.uint64(self.VALUE_BITS)) << np.uint64(self.VALUE_BITS)

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        if len(values) and int(values.max()) > int(self._VALUES):
            raise ValueError(
                f"the story index holds at most {1 << self.VALUE_BITS} articles or paragraphs; "
                "lower story_index_days"
            )
        packed = np.sort(self._prefix(keys) | values.astype(np.uint64))
        if len(self.packed) == 0:
            self.packed = packed
        else:
            self.packed = np.insert(self.packed, np.searchsorted(self.packed, packed), packed)

    def lookup(self, keys: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(index into `keys`, value) for the last `limit` postings of each key."""
        prefix = self._prefix(keys)
        high = np.searchsorted(self.packed, prefix | self._VALUES, side="right")
        low = np.maximum(np.searchsorted(self.packed, prefix, side="left"), high - limit)
        counts = high - low
        query = np.repeat(np.arange(len(keys)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        found = self.packed[np.repeat(low, counts) + offsets] & self._VALUES
        return query, found.astype(np.int64)

    def nbytes(self) -> int:
        return self.packed.nbytes


@dataclass(slots=True)
class Signatures:
    """Signatures of some articles, numbered 0..n-1 locally (the rows of story_signatures)."""

    articles: int
    paragraph_article: np.ndarray  # per paragraph with anchors: its article
    paragraph_position: np.ndarray  # its position in the article body
    anchor_paragraph: np.ndarray  # per anchor: its paragraph (index into the arrays above)
    anchor_key: np.ndarray  # uint64
    band_article: np.ndarray
    band_number: np.ndarray
    band_key: np.ndarray  # uint64
    name_article: np.ndarray
    name_key: np.ndarray  # uint64
    title_article: np.ndarray
    title_key: np.ndarray  # uint64

    def rows(self, article_ids: list[str]) -> pa.Table:
        """The story_signatures rows: (article_id, kind, position, key)."""
        ids = np.array(article_ids, dtype=object)
        anchor_article = self.paragraph_article[self.anchor_paragraph]
        parts = [
            ("passage", anchor_article, self.paragraph_position[self.anchor_paragraph],
             self.anchor_key),
            ("band", self.band_article, self.band_number, self.band_key),
            ("name", self.name_article, np.zeros(len(self.name_key), np.int64), self.name_key),
            ("title", self.title_article, np.zeros(len(self.title_key), np.int64),
             self.title_key),
        ]  # fmt: skip
        columns = {
            "article_id": np.concatenate([ids[article] for _kind, article, _p, _k in parts]),
            "kind": np.concatenate([np.full(len(key), kind) for kind, _a, _p, key in parts]),
            "position": np.concatenate([position for _kind, _a, position, _k in parts]),
            "key": np.concatenate([sig.as_signed(key) for _kind, _a, _p, key in parts]),
        }
        return pa.Table.from_pydict(
            {name: pa.array(values.tolist() if values.dtype == object else values)
             for name, values in columns.items()},
            schema=arrow_schema("story_signatures"),
        )  # fmt: skip


def sign_articles(titles: list[str | None], bodies: list[list[tuple[int, str]]]) -> Signatures:
    """Signatures of articles given their titles and (position, text) body paragraphs."""
    texts = [text for paragraphs in bodies for _position, text in paragraphs]
    article_of_text = np.repeat(
        np.arange(len(bodies), dtype=np.int64), [len(paragraphs) for paragraphs in bodies]
    )
    position_of_text = np.array(
        [position for paragraphs in bodies for position, _text in paragraphs], dtype=np.int64
    )
    shingles = sig.shingle_paragraphs(texts)
    text_of_anchor, anchor_key = sig.paragraph_anchors(shingles)
    with_anchors, anchor_paragraph = np.unique(text_of_anchor, return_inverse=True)
    # MinHash of the anchors: the mod-m sample keeps the Jaccard similarity of the bodies.
    anchor_article = article_of_text[text_of_anchor]
    order = np.argsort(anchor_article, kind="stable")
    signatures = sig.minhash_signatures(anchor_key[order], anchor_article[order], len(bodies))
    has_anchors = np.zeros(len(bodies), dtype=bool)
    has_anchors[anchor_article] = True
    bands = sig.band_keys(signatures[has_anchors])
    band_article = np.repeat(np.flatnonzero(has_anchors), sig.BANDS)
    name_article, name_key = sig.name_keys(
        [sig.article_names([text for _p, text in body]) for body in bodies]
    )
    title_article, title_key = sig.title_keys(titles)
    return Signatures(
        articles=len(bodies),
        paragraph_article=article_of_text[with_anchors],
        paragraph_position=position_of_text[with_anchors],
        anchor_paragraph=anchor_paragraph.astype(np.int64),
        anchor_key=anchor_key,
        band_article=band_article.astype(np.int64),
        band_number=np.tile(np.arange(sig.BANDS, dtype=np.int64), int(has_anchors.sum())),
        band_key=bands.reshape(-1),
        name_article=name_article,
        name_key=name_key,
        title_article=title_article,
        title_key=title_key,
    )


def signatures_from_rows(articles: int, rows: dict[str, pa.Table]) -> Signatures:
    """Signatures from persisted rows: per kind a table of (article_index, position, key)."""

    def columns(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        table = rows.get(kind)
        if table is None or table.num_rows == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=np.uint64)
        return (
            table.column("article_index").to_numpy().astype(np.int64),
            table.column("position").to_numpy().astype(np.int64),
            sig.as_unsigned(table.column("key").to_numpy()),
        )

    article, position, anchor_key = columns("passage")
    paragraph_code = article * (1 << 20) + position
    codes = np.unique(paragraph_code)
    anchor_paragraph = np.searchsorted(codes, paragraph_code)
    band_article, band_number, band_key = columns("band")
    name_article, _, name_key = columns("name")
    title_article, _, title_key = columns("title")
    return Signatures(
        articles=articles,
        paragraph_article=codes // (1 << 20),
        paragraph_position=codes % (1 << 20),
        anchor_paragraph=anchor_paragraph.astype(np.int64),
        anchor_key=anchor_key,
        band_article=band_article,
        band_number=band_number,
        band_key=band_key,
        name_article=name_article,
        name_key=name_key,
        title_article=title_article,
        title_key=title_key,
    )


def _day(value: datetime | None) -> float:
    """Days since 1970 of a wall-clock timestamp, NaN when null."""
    if value is None:
        return math.nan
    return (value.replace(tzinfo=None) - _EPOCH).total_seconds() / _SECONDS_PER_DAY


def _candidate_days(value: datetime | None, confidence: str | None) -> tuple[float, ...]:
    """The publication day, and the other reading of an ambiguous day/month date."""
    if value is None:
        return ()
    days = (_day(value),)
    if confidence == "ambiguous_day_month" and value.day <= 12 and value.day != value.month:
        days += (_day(value.replace(month=value.day, day=value.month)),)
    return days


class StoryIndex:
    """What story assignment needs of the articles already assigned (see module docstring)."""

    def __init__(self) -> None:
        self.article_ids: list[str] = []
        self.article_index: dict[str, int] = {}
        self.story_of: list[int] = []
        self.root_of: list[int] = []  # the original a near duplicate copies (itself if none)
        self.days_of: list[tuple[float, ...]] = []
        self.anchor_count: list[int] = []
        self.name_count: list[int] = []
        self.title_count: list[int] = []
        self.story_ids: list[str] = []
        self.story_first: list[float] = []
        self.story_last: list[float] = []
        self.story_number: dict[str, int] = {}
        self.paragraph_article = np.empty(0, dtype=np.int64)
        self.paragraph_position = np.empty(0, dtype=np.int64)
        self.paragraph_anchors = np.empty(0, dtype=np.int64)
        self.postings = {kind: Postings() for kind in SIGNATURE_KINDS}

    def __len__(self) -> int:
        return len(self.article_ids)

    @classmethod
    def empty(cls) -> "StoryIndex":
        return cls()

    @classmethod
    def load(cls, connection: object, days: float = 0) -> "StoryIndex":
        """The index of the articles an open warehouse connection holds (empty if none):
        all of them, or those landed at most `days` before the latest landing."""
        from warehouse.stories import read_story_index_rows

        articles, rows = read_story_index_rows(connection, days)
        return cls.from_rows(articles, rows)

    @classmethod
    def from_rows(cls, articles: pa.Table, rows: dict[str, pa.Table]) -> "StoryIndex":
        """Rebuild from landed rows: articles (article_id, story_id, duplicate_of,
        published_at, date_confidence) in assignment order, and signature rows per kind."""
        index = cls()
        ids = articles.column("article_id").to_pylist()
        published = articles.column("published_at").to_pylist()
        confidence = articles.column("date_confidence").to_pylist()
        days = [
            _candidate_days(value, sure) for value, sure in zip(published, confidence, strict=True)
        ]
        index._append(ids, days, signatures_from_rows(len(ids), rows))
        positions = index.article_index
        for local, (story_id, copied) in enumerate(
            zip(
                articles.column("story_id").to_pylist(),
                articles.column("duplicate_of").to_pylist(),
                strict=True,
            )
        ):
            story = index._story_named(story_id)
            index._join(local, story)
            index.root_of[local] = positions.get(copied, local) if copied else local
        return index

    def _story_named(self, story_id: str) -> int:
        """The number of a story, created (without dates yet) if new."""
        if story_id not in self.story_number:
            self.story_number[story_id] = len(self.story_ids)
            self.story_ids.append(story_id)
            self.story_first.append(math.nan)
            self.story_last.append(math.nan)
        return self.story_number[story_id]

    def _join(self, article: int, story: int) -> None:
        """Put an article in a story; its date (the reading nearest the story's) widens the
        story's dates."""
        self.story_of[article] = story
        days = self.days_of[article]
        if not days:
            return
        first, last = self.story_first[story], self.story_last[story]
        if math.isnan(first):
            self.story_first[story] = self.story_last[story] = days[0]
            return
        day = min(days, key=lambda day: max(first - day, day - last, 0.0))
        self.story_first[story], self.story_last[story] = min(first, day), max(last, day)

    def _append(self, ids: list[str], days: list[tuple[float, ...]], signatures: Signatures) -> int:
        """Add articles (story still unknown) with their signatures; return the first's index."""
        base = len(self.article_ids)
        for offset, article_id in enumerate(ids):
            self.article_index[article_id] = base + offset
        self.article_ids.extend(ids)
        self.story_of.extend([-1] * len(ids))
        self.root_of.extend(range(base, base + len(ids)))
        self.days_of.extend(days)
        paragraph_anchors = np.bincount(
            signatures.anchor_paragraph, minlength=len(signatures.paragraph_article)
        )
        # Anchors per article, summed over its paragraphs (a key repeated in two paragraphs
        # counts twice, as it does when shared anchors are summed over paragraph pairs).
        self.anchor_count.extend(
            np.bincount(signatures.paragraph_article, weights=paragraph_anchors, minlength=len(ids))
            .astype(np.int64)
            .tolist()
        )
        self.name_count.extend(np.bincount(signatures.name_article, minlength=len(ids)).tolist())
        self.title_count.extend(np.bincount(signatures.title_article, minlength=len(ids)).tolist())
        paragraph_base = len(self.paragraph_article)
        self.paragraph_article = np.concatenate(
            [self.paragraph_article, signatures.paragraph_article + base]
        )
        self.paragraph_position = np.concatenate(
            [self.paragraph_position, signatures.paragraph_position]
        )
        self.paragraph_anchors = np.concatenate([self.paragraph_anchors, paragraph_anchors])
        self.postings["passage"].add(
            signatures.anchor_key, signatures.anchor_paragraph + paragraph_base
        )
        self.postings["band"].add(signatures.band_key, signatures.band_article + base)
        self.postings["name"].add(signatures.name_key, signatures.name_article + base)
        self.postings["title"].add(signatures.title_key, signatures.title_article + base)
        return base

    def nbytes(self) -> int:
        """Bytes held in numpy arrays (the bulk of the index)."""
        arrays = (self.paragraph_article, self.paragraph_position, self.paragraph_anchors)
        return sum(array.nbytes for array in arrays) + sum(
            postings.nbytes() for postings in self.postings.values()
        )


def _pair_codes(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    return (later.astype(np.int64) << 32) | earlier.astype(np.int64)


def _pair_counts(later: np.ndarray, earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (later, earlier) pair codes and how often each occurs."""
    return np.unique(_pair_codes(later, earlier), return_counts=True)


def _split(codes: np.ndarray) -> tuple[list[int], list[int]]:
    return (codes >> 32).tolist(), (codes & 0xFFFFFFFF).tolist()


@dataclass(slots=True)
class _Evidence:
    """What links a new article to one earlier article."""

    shared_anchors: int = 0
    bands: int = 0
    names: int = 0
    titles: int = 0
    # (position, other position, similarity, share of this paragraph's sample in the other)
    passages: list[tuple[int, int, float, float]] = field(default_factory=list)


@dataclass(slots=True)
class _StoryEvidence:
    """What links a new article to one story, over the story's candidate articles."""

    covered: dict[int, float] = field(default_factory=dict)  # position -> share found
    title: float = 0.0
    names: float = 0.0
    copies: bool = False


@dataclass(slots=True)
class StoryAssignment:
    """The batch's articles with story_id, duplicate_of and originality filled, new rows for
    shared_passages and story_signatures, and the index updated with the batch."""

    articles: pa.Table
    shared_passages: pa.Table
    story_signatures: pa.Table
    index: StoryIndex
    stories_created: int = 0
    near_duplicates: int = 0

    def tables(self) -> dict[str, pa.Table]:
        """The rows to land: articles (replacing the batch's), shared_passages, story_signatures."""
        return {
            "articles": self.articles,
            "shared_passages": self.shared_passages,
            "story_signatures": self.story_signatures,
        }


def _earlier_pairs(
    postings: Postings, keys: np.ndarray, owners: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (later, earlier) article pair codes sharing keys, and how many keys each."""
    query, matched = postings.lookup(keys, POSTINGS_PER_KEY)
    later = owners[query]
    keep = matched < later
    return _pair_counts(later[keep], matched[keep])


def _gather_evidence(
    index: StoryIndex, signatures: Signatures, base: int, settings: Settings
) -> dict[int, dict[int, _Evidence]]:
    """For each new article (index number), the earlier articles it shares something with."""
    evidence: dict[int, dict[int, _Evidence]] = defaultdict(lambda: defaultdict(_Evidence))
    paragraph_base = len(index.paragraph_article) - len(signatures.paragraph_article)
    anchors = np.asarray(index.anchor_count, dtype=np.int64)

    # Paragraph pairs sharing anchors, and how many.
    paragraph = signatures.anchor_paragraph + paragraph_base
    codes, shared = _earlier_pairs(index.postings["passage"], signatures.anchor_key, paragraph)
    # (_earlier_pairs compares paragraph numbers: earlier paragraphs belong to earlier articles.)
    left, right = codes >> 32, codes & 0xFFFFFFFF
    own_anchors = index.paragraph_anchors[left]
    similarity = shared / np.maximum(np.minimum(own_anchors, index.paragraph_anchors[right]), 1)
    covered = np.minimum(shared / np.maximum(own_anchors, 1), 1.0)
    passing = (shared >= PASSAGE_MIN_SHARED_ANCHORS) & (
        similarity >= settings.passage_similarity_threshold
    )
    later, earlier = index.paragraph_article[left], index.paragraph_article[right]
    other = earlier != later
    passing &= other

    # Shared anchors per article pair (summed over paragraph pairs), where a copy is possible.
    article_codes, inverse = np.unique(
        _pair_codes(later[other], earlier[other]), return_inverse=True
    )
    article_shared = np.bincount(inverse, weights=shared[other]).astype(np.int64)
    smaller = np.minimum(anchors[article_codes >> 32], anchors[article_codes & 0xFFFFFFFF])
    article_shared = np.minimum(article_shared, smaller)
    band_codes, band_counts = _earlier_pairs(
        index.postings["band"], signatures.band_key, signatures.band_article + base
    )
    possible = (article_shared >= settings.near_duplicate_threshold * np.maximum(smaller, 1)) | (
        np.isin(article_codes, band_codes)
    )
    name_codes, name_counts = _earlier_pairs(
        index.postings["name"], signatures.name_key, signatures.name_article + base
    )
    strong = name_counts >= NAME_MIN_SHARED
    name_codes, name_counts = name_codes[strong], name_counts[strong]
    title_codes, title_counts = _earlier_pairs(
        index.postings["title"], signatures.title_key, signatures.title_article + base
    )
    candidates = np.concatenate(
        [_pair_codes(later[passing], earlier[passing]), article_codes[possible], band_codes,
         name_codes]
    )  # fmt: skip
    relevant = np.isin(title_codes, candidates)

    for own, other_paragraph, value, cover in zip(
        left[passing].tolist(),
        right[passing].tolist(),
        similarity[passing].tolist(),
        covered[passing].tolist(),
        strict=True,
    ):
        x, y = int(index.paragraph_article[own]), int(index.paragraph_article[other_paragraph])
        position = int(index.paragraph_position[own])
        evidence[x][y].passages.append(
            (position, int(index.paragraph_position[other_paragraph]), value, cover)
        )
    for x, y, count in zip(
        *_split(article_codes[possible]), article_shared[possible].tolist(), strict=True
    ):
        evidence[x][y].shared_anchors = count
    for x, y, count in zip(*_split(band_codes), band_counts.tolist(), strict=True):
        evidence[x][y].bands = count
    for x, y, count in zip(*_split(name_codes), name_counts.tolist(), strict=True):
        evidence[x][y].names = count
    for x, y, count in zip(
        *_split(title_codes[relevant]), title_counts[relevant].tolist(), strict=True
    ):
        evidence[x][y].titles = count
    return evidence


def _copy_score(own_anchors: int, other_anchors: int, evidence: _Evidence) -> float:
    """How near a duplicate: Jaccard of the anchor samples, or containment of the shorter body
    when it is at least TRUNCATION_MIN_LENGTH_RATIO of the longer; MinHash bands otherwise."""
    shared = evidence.shared_anchors
    if shared and own_anchors and other_anchors:
        jaccard = shared / (own_anchors + other_anchors - shared)
        shorter, longer = sorted((own_anchors, other_anchors))
        contained = shared / shorter if shorter >= TRUNCATION_MIN_LENGTH_RATIO * longer else 0.0
        return max(jaccard, contained)
    if evidence.bands:
        return (evidence.bands / sig.BANDS) ** (1 / sig.BAND_ROWS)
    return 0.0


def _covered_words(covered: dict[int, float], words: dict[int, int]) -> float:
    """Words of an article found elsewhere: each paragraph's words times the share found."""
    return sum(words.get(position, 0) * cover for position, cover in covered.items())


def _dice(shared: int, left: int, right: int) -> float:
    return 2 * shared / (left + right) if left + right else 0.0


def _overlap(shared: int, left: int, right: int) -> float:
    smaller = min(left, right)
    return shared / smaller if shared >= NAME_MIN_SHARED and smaller else 0.0


def _dates_agree(days: tuple[float, ...], first: float, last: float, window: float) -> bool:
    """Whether an article's date can belong to a story spanning [first, last] (either undated
    agrees with anything)."""
    if not days or math.isnan(first):
        return True
    return any(first - window <= day <= last + window for day in days)


def _decide(
    index: StoryIndex,
    article: int,
    candidates: dict[int, _Evidence],
    words: dict[int, int],
    settings: Settings,
) -> tuple[int | None, int | None]:
    """(story number or None for a new story, the original it copies or None)."""
    best_copy, best_score = None, 0.0
    for other, evidence in candidates.items():
        score = _copy_score(index.anchor_count[article], index.anchor_count[other], evidence)
        if score >= settings.near_duplicate_threshold and score > best_score:
            best_copy, best_score = other, score
    stories: dict[int, _StoryEvidence] = defaultdict(_StoryEvidence)
    for other, evidence in candidates.items():
        story = stories[index.story_of[other]]
        for position, _other, _similarity, cover in evidence.passages:
            story.covered[position] = max(story.covered.get(position, 0.0), cover)
        title = _dice(evidence.titles, index.title_count[article], index.title_count[other])
        names = _overlap(evidence.names, index.name_count[article], index.name_count[other])
        story.title, story.names = max(story.title, title), max(story.names, names)
        story.copies |= other == best_copy
    days = index.days_of[article]
    total_words = sum(words.values())
    ranked = []
    for number, story in stories.items():
        first, last = index.story_first[number], index.story_last[number]
        if not _dates_agree(days, first, last, settings.story_window_days):
            continue
        matched = sum(
            cover >= settings.passage_similarity_threshold for cover in story.covered.values()
        )
        matched_words = _covered_words(story.covered, words)
        if bool(days) and not math.isnan(first):  # both dated, and the dates agree
            supported = story.title >= TITLE_SUPPORT or story.names >= NAME_SUPPORT
            alone = story.title >= TITLE_ALONE and story.names >= NAME_SUPPORT
            joins = matched >= PASSAGES_ALONE or (matched and supported) or alone
        else:  # only shared text decides
            joins = matched >= PASSAGES_ALONE or matched_words >= UNDATED_MIN_SHARE * total_words
        if story.copies or (joins and matched_words + matched + story.title > 0):
            rank = (story.copies, matched_words, matched, story.title, story.names, -number)
            ranked.append((rank, number))
    chosen = max(ranked)[1] if ranked else None
    copied = index.root_of[best_copy] if best_copy is not None else None
    return chosen, copied


def _assignment_order(articles: pa.Table) -> list[int]:
    """Rows in publication order (undated last), ties by article_id: 'earlier' articles."""
    published = articles.column("published_at").to_pylist()
    ids = articles.column("article_id").to_pylist()
    return sorted(
        range(articles.num_rows),
        key=lambda row: (published[row] is None, published[row] or _EPOCH, ids[row]),
    )


def _bodies(paragraphs: pa.Table, wanted: set[str]) -> dict[str, list[tuple[int, str]]]:
    """Body paragraphs (not subheadings) of the wanted articles: (position, text) in order."""
    rows = paragraphs.filter(pc.equal(paragraphs.column("kind"), "paragraph"))
    bodies: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for article_id, position, text in zip(
        rows.column("article_id").to_pylist(),
        rows.column("position").to_pylist(),
        rows.column("text").to_pylist(),
        strict=True,
    ):
        if article_id in wanted:
            bodies[article_id].append((position, text))
    for body in bodies.values():
        body.sort()
    return bodies


def _with_column(table: pa.Table, name: str, values: list) -> pa.Table:
    field = arrow_schema("articles").field(name)
    index = table.schema.get_field_index(name)
    column = pa.array(values, type=field.type)
    if index < 0:
        return table.append_column(field, column)
    return table.set_column(index, field, column)


def assign(
    index: StoryIndex, articles: pa.Table, paragraphs: pa.Table, settings: Settings
) -> StoryAssignment:
    """Assign a batch of new articles to stories, in publication order; updates `index`.

    Articles already in the index (a retried batch) keep what they were given and add no rows.
    """
    ids = articles.column("article_id").to_pylist()
    titles = articles.column("title").to_pylist()
    published = articles.column("published_at").to_pylist()
    confidence = articles.column("date_confidence").to_pylist()
    new_rows = [row for row in _assignment_order(articles) if ids[row] not in index.article_index]
    bodies = _bodies(paragraphs, {ids[row] for row in new_rows})
    batch_bodies = [bodies.get(ids[row], []) for row in new_rows]
    signatures = sign_articles([titles[row] for row in new_rows], batch_bodies)
    base = index._append(
        [ids[row] for row in new_rows],
        [_candidate_days(published[row], confidence[row]) for row in new_rows],
        signatures,
    )
    evidence = _gather_evidence(index, signatures, base, settings)

    originality: dict[str, float | None] = {}
    passages: dict[str, list] = defaultdict(list)
    created = copies = 0
    for offset, row in enumerate(new_rows):
        article = base + offset
        words = {position: sig.paragraph_words(text) for position, text in batch_bodies[offset]}
        candidates = evidence.get(article, {})
        story, copied = _decide(index, article, candidates, words, settings)
        if story is None:
            story = index._story_named(ids[row])
            created += 1
        index._join(article, story)
        if copied is not None:
            index.root_of[article] = copied
            copies += 1
        found: dict[int, float] = {}
        # One row per paragraph: its closest match, the earliest article on a tie (the likely
        # source). Every match would be quadratic: wire copy carried by hundreds of outlets.
        best: dict[int, tuple[float, int, int]] = {}
        for other, link in candidates.items():
            for position, other_position, similarity, cover in link.passages:
                if position not in best or (similarity, -other) > (
                    best[position][0],
                    -best[position][1],
                ):
                    best[position] = (similarity, other, other_position)
                if index.story_of[other] == story:
                    found[position] = max(found.get(position, 0.0), cover)
        for position, (similarity, other, other_position) in sorted(best.items()):
            passages["article_id"].append(ids[row])
            passages["position"].append(position)
            passages["other_article_id"].append(index.article_ids[other])
            passages["other_position"].append(other_position)
            passages["similarity"].append(round(similarity, 4))
        total = sum(words.values())
        shared = _covered_words(found, words)
        originality[ids[row]] = round(min(max(1 - shared / total, 0.0), 1.0), 4) if total else None

    known_originality = (
        articles.column("originality").to_pylist()
        if "originality" in articles.column_names
        else [None] * len(ids)
    )
    story_ids, duplicates, original = [], [], []
    for row, article_id in enumerate(ids):
        number = index.article_index[article_id]
        story_ids.append(index.story_ids[index.story_of[number]])
        root = index.root_of[number]
        duplicates.append(index.article_ids[root] if root != number else None)
        original.append(originality.get(article_id, known_originality[row]))
    result = _with_column(articles, "story_id", story_ids)
    result = _with_column(result, "duplicate_of", duplicates)
    result = _with_column(result, "originality", original)
    LOGGER.info(
        "%d articles: %d new stories, %d near duplicates, %d shared passages",
        len(new_rows), created, copies, len(passages["article_id"]),
    )  # fmt: skip
    return StoryAssignment(
        articles=result,
        shared_passages=pa.Table.from_pydict(
            {name: passages[name] for name in arrow_schema("shared_passages").names},
            schema=arrow_schema("shared_passages"),
        ),
        story_signatures=signatures.rows([ids[row] for row in new_rows]),
        index=index,
        stories_created=created,
        near_duplicates=copies,
    )
