"""Stories and syndication: near duplicates, stories across outlets, shared passages. Pure.

Two steps. `sign_batch` reads a batch's bodies and headlines and needs nothing else: it runs
where the batch is processed, in parallel with other batches. `assign` runs where the
`StoryIndex` lives, one batch after another: it adds the signed batch to the index, finds for
each new article the earlier articles it shares text, names or headline words with, and decides
in publication order: near duplicate of which article, which story (an existing one, else a new
one named by its first article), which paragraphs it shares, and how much of it is its own.

The index holds each article's story, date and signatures (paragraph anchors, MinHash LSH
bands, names, headline words). Items with identical key sets (a paragraph printed verbatim by
many outlets, the same headline) share one set, so a lookup reads each distinct text once,
however many outlets carry it; keys and carriers sit in sorted runs merged log-structured, so
adding a batch never rewrites the whole index. All of a batch's evidence is gathered in numpy
at once; only the decisions run article by article (an article may join a story an earlier
article of its batch started). A run's index is bounded: past EVICTION_SLACK times
`Settings.story_index_max_articles` it forgets its oldest articles (`StoryIndex.bound`).

Story ids never change once landed: an article joins the story with the strongest evidence;
stories are not merged afterwards (the warehouse is insert-only). See docs/stories.md.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.arrow import arrow_schema
from tasks.settings import Settings
from tasks.stories import signatures as sig

LOGGER = logging.getLogger(__name__)

SIGNATURE_KINDS = ("passage", "band", "name", "title")
# A key matches at most the last POSTINGS_PER_KEY distinct sets of keys holding it (a set: the
# anchors of one paragraph, the bands, names or headline words of one article), and a set at
# most its last CARRIERS_PER_SET carriers before the article looking: bounded work for very
# common shingles or names, and wire copy carried by hundreds of outlets still links to the
# latest of them. Fewer carriers is faster on much-copied text (16: about 30% less time on
# bench/bench_flow.py's corpus) but finds fewer copies there (near-duplicate recall 0.995).
POSTINGS_PER_KEY = 32
CARRIERS_PER_SET = 32
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
# Sorted runs are merged when the older is at most this many times the newer: each value is
# copied about log(n) / log(MERGE_RATIO) times in all, and a lookup reads few runs.
MERGE_RATIO = 4
_SECONDS_PER_DAY = 86_400.0
_NO_DAY = np.array([math.nan])
_EPOCH = datetime(1970, 1, 1)
# Items (paragraphs or articles) and key sets are numbered below 2**ITEM_BITS; a (later,
# earlier) pair of them packs into one integer.
ITEM_BITS = 24
_ITEM_MASK = (1 << ITEM_BITS) - 1
_SET_SALT = np.uint64(0x7365747300000000)
# A bounded index (Settings.story_index_max_articles) forgets its oldest articles once it holds
# this many times its bound, down to the bound: one compaction per quarter of the bound added,
# so forgetting costs little per batch.
EVICTION_SLACK = 1.25


class _Growing:
    """A numpy array with room to grow: appending n values costs O(n), amortized."""

    def __init__(self, dtype: type = np.int64) -> None:
        self._data = np.empty(0, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        needed = self.size + len(values)
        if needed > len(self._data):
            grown = np.empty(max(needed, 2 * len(self._data), 1024), dtype=self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : needed] = values
        self.size = needed

    @property
    def array(self) -> np.ndarray:
        """The values (a view: writes go through; stale once the array grows)."""
        return self._data[: self.size]

    def replace(self, values: np.ndarray) -> None:
        """Hold `values` instead, with room for half as many again (an index kept at its bound
        grows to EVICTION_SLACK times it before shrinking back)."""
        self._data = np.empty(max(len(values) * 3 // 2, 1024), dtype=self._data.dtype)
        self._data[: len(values)] = values
        self.size = len(values)

    def nbytes(self) -> int:
        return self._data.nbytes


class _GrowingValues:
    """A read-only attribute `name`: the values of the instance's _Growing `_name`."""

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.growing = f"_{name}"

    def __get__(self, instance: object, owner: type | None = None) -> np.ndarray:
        if instance is None:  # looked up on the class (help, inspect)
            return self
        return getattr(instance, self.growing).array


class _Run:
    """Sorted uint64 values (with an optional payload), and a directory of buckets on their top
    bits: a search bisects one small bucket, not the whole run (hashes spread evenly)."""

    __slots__ = ("directory", "payload", "shift", "values")

    def __init__(self, values: np.ndarray, payload: np.ndarray | None = None) -> None:
        self.values, self.payload = values, payload
        top = max(int(values[-1]).bit_length() if len(values) else 1, 1)
        bits = max(1, min(top, len(values).bit_length() - 3))  # about 8 values a bucket
        self.shift = np.uint64(top - bits)
        counts = np.bincount((values >> self.shift).astype(np.int64), minlength=1 << bits)
        self.directory = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.directory[1:])

    def search(self, targets: np.ndarray, right: bool = False) -> np.ndarray:
        """np.searchsorted(values, targets, side='right' if right else 'left')."""
        size = len(self.values)
        bucket = targets >> self.shift
        beyond = bucket >= np.uint64(len(self.directory) - 1)
        bucket = np.where(beyond, 0, bucket).astype(np.int64)
        low = np.where(beyond, size, self.directory[bucket])
        high = np.where(beyond, size, self.directory[bucket + 1])
        active = np.flatnonzero(low < high)
        while len(active):  # bisect the buckets still open
            start, end = low[active], high[active]
            middle = (start + end) >> 1
            value, target = self.values[middle], targets[active]
            above = (value <= target) if right else (value < target)
            start = np.where(above, middle + 1, start)
            end = np.where(above, end, middle)
            low[active], high[active] = start, end
            active = active[start < end]
        return low

    def nbytes(self) -> int:
        payload = 0 if self.payload is None else self.payload.nbytes
        return self.values.nbytes + self.directory.nbytes + payload


def _merged(older: _Run, newer: _Run, prefix_shift: int | None, keep: int | None) -> _Run:
    """One run of both; with `keep`, only the last `keep` values of each prefix."""
    values = np.concatenate([older.values, newer.values])
    if older.payload is None:
        order = None
        values = np.sort(values, kind="stable")  # two sorted runs: a linear merge
    else:
        order = np.argsort(values, kind="stable")
        values = values[order]
    payload = None if order is None else np.concatenate([older.payload, newer.payload])[order]
    if keep is not None and prefix_shift is not None and len(values):
        prefix = values >> np.uint64(prefix_shift)
        ends = np.r_[np.flatnonzero(prefix[1:] != prefix[:-1]) + 1, len(values)]
        end_of = np.repeat(ends, np.diff(np.r_[0, ends]))
        recent = end_of - np.arange(len(values)) <= keep
        values = values[recent]
        payload = None if payload is None else payload[recent]
    return _Run(values, payload)


class _Runs:
    """Sorted runs of uint64 values, newest last. Within a prefix, a newer run's values are
    larger than an older run's (values grow as items are added), so the last values of a range
    are found from the newest run back. Adding compacts the older runs log-structured."""

    def __init__(self, prefix_shift: int | None = None, keep: int | None = None) -> None:
        self.runs: list[_Run] = []
        self.prefix_shift, self.keep = prefix_shift, keep

    def __len__(self) -> int:
        return sum(len(run.values) for run in self.runs)

    def add(self, values: np.ndarray, payload: np.ndarray | None = None) -> None:
        """Add a run (values sorted). The newest run is left whole until the next add: a
        lookup of its own batch may still need values `keep` would drop."""
        if len(values) == 0:
            return
        while len(self.runs) >= 2 and len(self.runs[-2].values) <= MERGE_RATIO * len(
            self.runs[-1].values
        ):
            newer = self.runs.pop()
            self.runs[-1] = _merged(self.runs[-1], newer, self.prefix_shift, self.keep)
        self.runs.append(_Run(values, payload))

    def trim(self) -> None:
        """Merge all runs into one, keeping the last `keep` values of each prefix: for runs that
        no lookup of the batch being assigned still reads (such as a reloaded index)."""
        if self.runs:
            self.runs = [_Run(self.merged())]

    def rewrite(self, rewritten: Callable[[_Run], tuple[np.ndarray, np.ndarray | None]]) -> None:
        """Replace each run by `rewritten(run)`: (values, payload), the values still sorted."""
        runs = [_Run(*rewritten(run)) for run in self.runs]
        self.runs = [run for run in runs if len(run.values)]

    def last(
        self, low: np.ndarray, high: np.ndarray, limit: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query number, value) for the largest `limit` values v with low <= v <= high, by
        query, values increasing."""
        remaining = np.full(len(low), np.iinfo(np.int64).max if limit is None else limit)
        queries = np.arange(len(low))
        taken: list[tuple[_Run, np.ndarray, np.ndarray, np.ndarray]] = []
        for run in reversed(self.runs):  # newest first: the largest values of a range
            if len(queries) == 0:
                break
            ends = run.search(high[queries], right=True)
            count = np.minimum(np.maximum(ends - run.search(low[queries]), 0), remaining[queries])
            remaining[queries] -= count
            taken.append((run, queries, ends - count, count))
            queries = queries[remaining[queries] > 0]
        totals = np.zeros(len(low), dtype=np.int64)
        for _run, query, _start, count in taken:
            totals[query] += count
        offsets = np.cumsum(totals) - totals  # where each query's values go
        values = np.empty(int(totals.sum()), dtype=np.uint64)
        for run, query, start, count in reversed(taken):  # oldest first: increasing values
            destination = offsets[query]
            offsets[query] += count
            values[_ranges(destination, count)] = run.values[_ranges(start, count)]
        return np.repeat(np.arange(len(low)), totals), values

    def find(self, targets: np.ndarray) -> np.ndarray:
        """The payload of each target value, -1 where absent."""
        found = np.full(len(targets), -1, dtype=np.int64)
        for run in self.runs:
            at = np.minimum(run.search(targets), len(run.values) - 1)
            hit = run.values[at] == targets
            found[hit] = run.payload[at[hit]]
        return found

    def merged(self) -> np.ndarray:
        """All values in one sorted array, trimmed as compaction trims them."""
        if not self.runs:
            return np.empty(0, dtype=np.uint64)
        total = self.runs[0]
        for run in self.runs[1:]:
            total = _merged(total, run, self.prefix_shift, self.keep)
        if len(self.runs) == 1:
            total = _merged(total, _Run(np.empty(0, np.uint64)), self.prefix_shift, self.keep)
        return total.values

    def nbytes(self) -> int:
        return sum(run.nbytes() for run in self.runs)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges: start[i], ..., start[i] + count[i] - 1 for each i."""
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


class Postings:
    """Which items (paragraphs or articles, numbered as added) carry which keys.

    Items whose key sets are identical share one set (numbered by first appearance, with a
    64-bit fingerprint of its keys). The index holds, in sorted runs, (key, set) postings for
    each set's keys and (set, item) carriers. A lookup gives per key its last `keep` sets, and
    per set its last `keep` carriers before a given item; compaction drops what no lookup can
    return, which bounds memory for common keys and much-copied text.
    """

    def __init__(
        self, keep: int | None = POSTINGS_PER_KEY, carriers: int | None = CARRIERS_PER_SET
    ) -> None:
        self.keep, self.carriers = keep, carriers
        self._fingerprints = _Runs()  # fingerprint -> set
        self._postings = _Runs(ITEM_BITS, keep)  # key's top 40 bits, then the set
        self._carriers = _Runs(32, carriers)  # set, then the item (32 bits)
        self._set_size = _Growing(np.int32)
        self._first_carrier = _Growing()  # per set: its first item
        self._carrier_count = _Growing(np.int32)  # per set: items that carry it
        self.items = 0

    def __len__(self) -> int:
        return len(self._postings)

    set_size = _GrowingValues("Keys in each set.")

    @property
    def sets(self) -> int:
        return self._set_size.size

    @property
    def packed(self) -> np.ndarray:
        """The (key, set) postings in one sorted array, as compaction keeps them."""
        return self._postings.merged()

    def trim(self) -> None:
        """Compact everything into one run per structure (see _Runs.trim)."""
        self._postings.trim()
        self._carriers.trim()

    def add(self, keys: np.ndarray, owners: np.ndarray, items: int) -> np.ndarray:
        """Add `items` items numbered from self.items on, item i carrying keys[owners == i];
        return the set of each (-1 for an item without keys)."""
        first_item = self.items
        if first_item + items > 1 << 32:
            raise ValueError("too many items for the story index")
        sets = np.full(items, -1, dtype=np.int64)
        self.items += items
        if len(keys) == 0:
            return sets
        if np.any(owners[1:] < owners[:-1]):
            order = np.argsort(owners, kind="stable")
            keys, owners = keys[order], owners[order]
        starts = _group_starts(owners)
        carriers = owners[starts]
        sizes = np.diff(np.r_[starts, len(keys)])
        spread = sig.mix64(keys ^ _SET_SALT)
        fingerprints = sig.mix64(np.add.reduceat(spread, starts) ^ sizes.astype(np.uint64))
        found = self._fingerprints.find(fingerprints)
        new = np.flatnonzero(found < 0)
        if len(new):
            # New sets, numbered in order of first appearance.
            order = np.argsort(fingerprints[new], kind="stable")
            ordered = fingerprints[new][order]
            group = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
            first = order[_group_starts(ordered)]  # in `new`: each new set's first carrier
            numbers = np.empty(len(first), dtype=np.int64)
            numbers[np.argsort(first)] = np.arange(len(first)) + self.sets
            if self.sets + len(first) > 1 << ITEM_BITS:
                raise ValueError(
                    f"the story index holds at most {1 << ITEM_BITS} distinct paragraphs or "
                    "articles; lower story_index_days"
                )
            found[new[order]] = numbers[group]
            self._fingerprints.add(ordered[_group_starts(ordered)], numbers)
            introducing = np.sort(new[first])
            self._set_size.extend(sizes[introducing])
            self._first_carrier.extend(carriers[introducing] + first_item)
            self._carrier_count.extend(np.zeros(len(first), dtype=np.int64))
            key_owner = np.repeat(np.arange(len(starts)), sizes)
            keep = np.zeros(len(starts), dtype=bool)
            keep[introducing] = True
            keep = keep[key_owner]
            prefix = (keys[keep] >> np.uint64(ITEM_BITS)) << np.uint64(ITEM_BITS)
            self._postings.add(np.sort(prefix | found[key_owner[keep]].astype(np.uint64)))
        sets[carriers] = found
        ordered = np.sort(found)
        distinct = _group_starts(ordered)
        self._carrier_count.array[ordered[distinct]] += np.diff(np.r_[distinct, len(ordered)])
        items_of = (carriers + first_item).astype(np.uint64)
        self._carriers.add(np.sort((found.astype(np.uint64) << np.uint64(32)) | items_of))
        return sets

    def forget_before(self, cut: int) -> None:
        """Forget the items numbered below `cut`, and the sets no other item carries; number
        the rest from 0 in the same order (so every sorted run stays sorted).

        A set's last carriers are always kept, so the sets still carried are those with a
        carrier from `cut` on. Lookups then answer as before, less the forgotten items and sets.
        """
        if cut <= 0:
            return
        low, kept_from = np.uint64(0xFFFFFFFF), np.uint64(cut)
        carried = np.concatenate(
            [np.empty(0, np.uint64)]
            + [run.values[(run.values & low) >= kept_from] for run in self._carriers.runs]
        )
        carried_set = (carried >> np.uint64(32)).astype(np.int64)
        count = np.bincount(carried_set, minlength=self.sets)
        live = count > 0
        number = np.cumsum(live) - 1  # each set still carried: its new number
        first = np.full(self.sets, np.iinfo(np.int64).max)
        np.minimum.at(first, carried_set, (carried & low).astype(np.int64))
        renumbered = number.astype(np.uint64)
        mask = np.uint64(_ITEM_MASK)

        def carriers(run: _Run) -> tuple[np.ndarray, None]:
            values = run.values[(run.values & low) >= kept_from]
            sets = renumbered[(values >> np.uint64(32)).astype(np.int64)]
            return (sets << np.uint64(32)) | ((values & low) - kept_from), None

        def postings(run: _Run) -> tuple[np.ndarray, None]:
            sets = (run.values & mask).astype(np.int64)
            kept = live[sets]
            return (run.values[kept] & ~mask) | renumbered[sets[kept]], None

        def fingerprints(run: _Run) -> tuple[np.ndarray, np.ndarray]:
            kept = live[run.payload]
            return run.values[kept], number[run.payload[kept]]

        self._carriers.rewrite(carriers)
        self._postings.rewrite(postings)
        self._fingerprints.rewrite(fingerprints)
        self._set_size.replace(self.set_size[live])
        self._first_carrier.replace(first[live] - cut)
        # Carriers still held, not all there were: exactly 1 where the set has one carrier
        # left, which is all carriers_before reads it for.
        self._carrier_count.replace(count[live])
        self.items -= cut

    def sets_of(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into `keys`, set) for the last `keep` sets holding each key."""
        low = (keys >> np.uint64(ITEM_BITS)) << np.uint64(ITEM_BITS)
        query, values = self._postings.last(low, low | np.uint64(_ITEM_MASK), self.keep)
        return query, (values & np.uint64(_ITEM_MASK)).astype(np.int64)

    def carriers_before(self, sets: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into `sets`, item) for the last `carriers` items before items[i] carrying
        sets[i], by index, items increasing. For items of the batch added last: compaction
        has dropped older carriers that only a lookup further back would return."""
        alone = self._carrier_count.array[sets] == 1  # most sets: no search needed
        first = self._first_carrier.array[sets]
        shared = np.flatnonzero(~alone)
        low = sets[shared].astype(np.uint64) << np.uint64(32)
        high = low | np.maximum(items[shared] - 1, 0).astype(np.uint64)
        query, values = self._carriers.last(low, high, self.carriers)
        carrier = (values & np.uint64(0xFFFFFFFF)).astype(np.int64)
        query = shared[query]
        keep = carrier < items[query]  # item 0 has nothing before it
        query, carrier = query[keep], carrier[keep]
        single = np.flatnonzero(alone & (first < items))
        counts = np.zeros(len(sets), dtype=np.int64)
        counts[single] = 1
        counts += np.bincount(query, minlength=len(sets))
        offsets = np.cumsum(counts) - counts
        result = np.empty(int(counts.sum()), dtype=np.int64)
        result[offsets[single]] = first[single]
        starts = _group_starts(query)
        rank = np.arange(len(query)) - np.repeat(starts, np.diff(np.r_[starts, len(query)]))
        result[offsets[query] + rank] = carrier
        return np.repeat(np.arange(len(sets)), counts), result

    def nbytes(self) -> int:
        return (
            self._fingerprints.nbytes()
            + self._postings.nbytes()
            + self._carriers.nbytes()
            + self._set_size.nbytes()
            + self._first_carrier.nbytes()
            + self._carrier_count.nbytes()
        )


@dataclass(slots=True)
class Signatures:
    """Signatures of some articles, numbered 0..n-1 locally (the rows of story_signatures).

    Signed from bodies (not read back from rows), it also counts words: each signed paragraph's
    and each article's body."""

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
    paragraph_words: np.ndarray | None = None  # per paragraph with anchors
    article_words: np.ndarray | None = None  # per article: words of all body paragraphs

    def rows(self, article_ids: list[str]) -> pa.Table:
        """The story_signatures rows: (article_id, kind, position, key)."""
        anchor_article = self.paragraph_article[self.anchor_paragraph]
        parts = [
            (anchor_article, self.paragraph_position[self.anchor_paragraph], self.anchor_key),
            (self.band_article, self.band_number, self.band_key),
            (self.name_article, np.zeros(len(self.name_key), np.int64), self.name_key),
            (self.title_article, np.zeros(len(self.title_key), np.int64), self.title_key),
        ]
        article = np.concatenate([part[0] for part in parts]).astype(np.int64)
        kind = np.repeat(np.arange(len(parts), dtype=np.int8), [len(part[2]) for part in parts])
        schema = arrow_schema("story_signatures")
        ids = pa.array(article_ids, type=schema.field("article_id").type)
        kinds = pa.array(SIGNATURE_KINDS, type=schema.field("kind").type)
        return pa.Table.from_arrays(
            [
                ids.take(pa.array(article)),
                kinds.take(pa.array(kind)),
                pa.array(np.concatenate([part[1] for part in parts]).astype(np.int64)),
                pa.array(sig.as_signed(np.concatenate([part[2] for part in parts]))),
            ],
            schema=schema,
        )

    def subset(self, keep: np.ndarray) -> "Signatures":
        """The signatures of the articles `keep` (sorted local numbers), renumbered 0..k-1."""
        number = np.full(self.articles, -1, dtype=np.int64)
        number[keep] = np.arange(len(keep))
        paragraph_number = np.cumsum(number[self.paragraph_article] >= 0) - 1
        kept_paragraph = number[self.paragraph_article] >= 0
        kept_anchor = kept_paragraph[self.anchor_paragraph]

        def articles(owner: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
            kept = number[owner] >= 0
            return [number[owner[kept]], *(value[kept] for value in values)]

        band_article, band_number, band_key = articles(
            self.band_article, self.band_number, self.band_key
        )
        name_article, name_key = articles(self.name_article, self.name_key)
        title_article, title_key = articles(self.title_article, self.title_key)
        return Signatures(
            articles=len(keep),
            paragraph_article=number[self.paragraph_article[kept_paragraph]],
            paragraph_position=self.paragraph_position[kept_paragraph],
            anchor_paragraph=paragraph_number[self.anchor_paragraph[kept_anchor]],
            anchor_key=self.anchor_key[kept_anchor],
            band_article=band_article,
            band_number=band_number,
            band_key=band_key,
            name_article=name_article,
            name_key=name_key,
            title_article=title_article,
            title_key=title_key,
            paragraph_words=None
            if self.paragraph_words is None
            else self.paragraph_words[kept_paragraph],
            article_words=None if self.article_words is None else self.article_words[keep],
        )


@dataclass(slots=True)
class SignedBatch:
    """A batch's articles signed for story assignment, in assignment order: what `assign`
    needs of their bodies. Picklable: sign in the batch's worker, assign where the index is."""

    article_ids: list[str]
    days: list[tuple[float, ...]]  # publication day, and the other reading of an ambiguous one
    signatures: Signatures

    def __len__(self) -> int:
        return len(self.article_ids)

    def subset(self, keep: list[int]) -> "SignedBatch":
        """The articles at positions `keep` (increasing)."""
        return SignedBatch(
            [self.article_ids[at] for at in keep],
            [self.days[at] for at in keep],
            self.signatures.subset(np.asarray(keep, dtype=np.int64)),
        )

    def rows(self) -> pa.Table:
        """Their story_signatures rows."""
        return self.signatures.rows(self.article_ids)


def sign_articles(titles: list[str | None], bodies: list[list[tuple[int, str]]]) -> Signatures:
    """Signatures of articles given their titles and (position, text) body paragraphs."""
    return _sign(
        titles,
        [text for paragraphs in bodies for _position, text in paragraphs],
        np.repeat(
            np.arange(len(bodies), dtype=np.int64), [len(paragraphs) for paragraphs in bodies]
        ),
        np.array(
            [position for paragraphs in bodies for position, _text in paragraphs], dtype=np.int64
        ),
    )


def _sign(
    titles: list[str | None],
    texts: list[str],
    article_of_text: np.ndarray,
    position_of_text: np.ndarray,
) -> Signatures:
    """Signatures of articles given their titles and body paragraphs: their texts in article
    order (then position), with the article and position of each."""
    bodies = len(titles)
    words, shingles = sig.paragraph_words_and_shingles(texts)
    text_of_anchor, anchor_key = sig.paragraph_anchors(shingles)
    with_anchors, anchor_paragraph = np.unique(text_of_anchor, return_inverse=True)
    # MinHash of the anchors: the mod-m sample keeps the Jaccard similarity of the bodies.
    anchor_article = article_of_text[text_of_anchor]
    order = np.argsort(anchor_article, kind="stable")
    signatures = sig.minhash_signatures(anchor_key[order], anchor_article[order], bodies)
    has_anchors = np.zeros(bodies, dtype=bool)
    has_anchors[anchor_article] = True
    bands = sig.band_keys(signatures[has_anchors])
    band_article = np.repeat(np.flatnonzero(has_anchors), sig.BANDS)
    ends = np.searchsorted(article_of_text, np.arange(bodies + 1)).tolist()
    name_article, name_key = sig.body_name_keys(
        ["\n".join(texts[start:end]) for start, end in pairwise(ends)]
    )
    title_article, title_key = sig.title_keys(titles)
    return Signatures(
        articles=bodies,
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
        paragraph_words=words[with_anchors],
        article_words=np.bincount(article_of_text, weights=words, minlength=bodies).astype(
            np.int64
        ),
    )


def sign_batch(articles: pa.Table, paragraphs: pa.Table) -> SignedBatch:
    """Sign a batch's articles (articles: article_id, title, published_at, date_confidence;
    paragraphs: article_id, position, kind, text) for `assign`. Pure and independent of the
    index: run it where the batch is processed."""
    order = _assignment_order(articles)
    ids = articles.column("article_id").to_pylist()
    titles = articles.column("title").to_pylist()
    published = articles.column("published_at").to_pylist()
    confidence = articles.column("date_confidence").to_pylist()
    ordered = [ids[row] for row in order]
    # Body paragraphs (not subheadings), by article in assignment order, then position.
    body = paragraphs.filter(pc.equal(paragraphs.column("kind"), "paragraph"))
    article = pc.index_in(body.column("article_id"), value_set=pa.array(ordered, pa.string()))
    body = body.filter(pc.is_valid(article))
    article = pc.drop_null(article).to_numpy().astype(np.int64)
    position = body.column("position").to_numpy().astype(np.int64)
    within = np.lexsort((position, article))
    return SignedBatch(
        article_ids=ordered,
        days=[_candidate_days(published[row], confidence[row]) for row in order],
        signatures=_sign(
            [titles[row] for row in order],
            body.column("text").take(pa.array(within)).to_pylist(),
            article[within],
            position[within],
        ),
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
    # Landed rows come mostly grouped by article: a stable (merging) sort is fast on them.
    order = np.argsort(paragraph_code, kind="stable")
    ordered = paragraph_code[order]
    starts = _group_starts(ordered)
    codes = ordered[starts]
    anchor_paragraph = np.empty(len(order), dtype=np.int64)
    anchor_paragraph[order] = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
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


def articles_forgotten(articles: int, max_articles: int) -> int:
    """How many of its oldest articles an index of `articles` forgets when bounded to
    `max_articles` (StoryIndex.bound)."""
    if max_articles <= 0 or articles <= EVICTION_SLACK * max_articles:
        return 0
    return articles - max_articles


class StoryIndex:
    """What story assignment needs of the articles already assigned (see module docstring)."""

    def __init__(self) -> None:
        self.article_ids: list[str] = []
        self.article_index: dict[str, int] = {}
        self._story_of = _Growing()
        self._root_of = _Growing()  # the original a near duplicate copies (itself if none)
        self.days_of: list[tuple[float, ...]] = []
        self._anchors = _Growing()
        self._names = _Growing()
        self._titles = _Growing()
        self.story_ids: list[str] = []
        self._story_first = _Growing(np.float64)  # per story: its first day (NaN if undated)
        self._story_last = _Growing(np.float64)
        self.story_number: dict[str, int] = {}
        self._paragraph_article = _Growing()
        self._paragraph_position = _Growing()
        self._paragraph_anchors = _Growing()
        self.postings = {kind: Postings() for kind in SIGNATURE_KINDS}
        # Originals of indexed copies that the index has forgotten: root_of -1 - i is the i-th.
        self.forgotten_originals: list[str] = []

    story_of = _GrowingValues("Per article: its story.")
    root_of = _GrowingValues(
        "Per article: the original it copies (itself if none; below 0, a forgotten original)."
    )
    story_first = _GrowingValues(
        "Per story: the day (since 1970) of its earliest dated article, NaN if none."
    )
    story_last = _GrowingValues("Per story: the day of its latest dated article.")
    paragraph_article = _GrowingValues("Per paragraph with anchors: its article.")
    paragraph_position = _GrowingValues("Per paragraph: its position in the article body.")
    paragraph_anchors = _GrowingValues("Per paragraph: its anchors.")

    def __len__(self) -> int:
        return len(self.article_ids)

    @property
    def anchor_count(self) -> list[int]:
        """Anchors per article, summed over its paragraphs."""
        return self._anchors.array.tolist()

    def original_id(self, root: int) -> str:
        """The article_id of a root_of value."""
        return self.article_ids[root] if root >= 0 else self.forgotten_originals[-1 - root]

    def bound(self, max_articles: int) -> int:
        """Forget the oldest-inserted articles once the index holds more than EVICTION_SLACK
        times `max_articles`, down to `max_articles` (0: no bound); return how many it forgot."""
        forgotten = articles_forgotten(len(self), max_articles)
        if not forgotten:
            return 0
        self._forget_before(forgotten)
        LOGGER.info("story index: forgot the %d oldest articles", forgotten)
        return forgotten

    def _forget_before(self, cut: int) -> None:
        """Forget the articles numbered below `cut` with their paragraphs, the stories none of
        the rest is in, and their signatures; number what is left from 0 in the same order.
        The stories left keep their ids and dates (forgotten articles' dates included), and
        copies of a forgotten original still name it."""
        paragraph_cut = int(np.searchsorted(self.paragraph_article, cut))
        story_of = self.story_of[cut:]
        live = np.zeros(len(self.story_ids), dtype=bool)
        live[story_of] = True
        kept_stories = np.flatnonzero(live)
        self._story_of.replace((np.cumsum(live) - 1)[story_of])
        self.story_ids = [self.story_ids[story] for story in kept_stories.tolist()]
        self.story_number = {story_id: number for number, story_id in enumerate(self.story_ids)}
        self._story_first.replace(self.story_first[kept_stories])
        self._story_last.replace(self.story_last[kept_stories])

        roots = self.root_of[cut:]
        forgotten = np.flatnonzero(roots < cut)  # originals forgotten now, or before (below 0)
        originals = [self.original_id(root) for root in roots[forgotten].tolist()]
        numbering = {original: number for number, original in enumerate(dict.fromkeys(originals))}
        roots = roots - cut
        roots[forgotten] = -1 - np.array([numbering[original] for original in originals], np.int64)
        self.forgotten_originals = list(numbering)
        self._root_of.replace(roots)

        self.article_ids = self.article_ids[cut:]
        self.article_index = dict(zip(self.article_ids, range(len(self.article_ids)), strict=True))
        self.days_of = self.days_of[cut:]
        for per_article in (self._anchors, self._names, self._titles):
            per_article.replace(per_article.array[cut:])
        self._paragraph_article.replace(self.paragraph_article[paragraph_cut:] - cut)
        self._paragraph_position.replace(self.paragraph_position[paragraph_cut:])
        self._paragraph_anchors.replace(self.paragraph_anchors[paragraph_cut:])
        for kind, postings in self.postings.items():
            postings.forget_before(paragraph_cut if kind == "passage" else cut)

    @classmethod
    def empty(cls) -> "StoryIndex":
        return cls()

    @classmethod
    def load(cls, connection: object, days: float = 0, max_articles: int = 0) -> "StoryIndex":
        """The index of the articles an open warehouse connection holds (empty if none):
        all of them, or those landed at most `days` before the latest landing; bounded to
        `max_articles` (see bound; 0: no bound)."""
        from warehouse.stories import read_story_index_rows

        index = cls.from_rows(*read_story_index_rows(connection, days, max_articles))
        index.bound(max_articles)
        return index

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
        for postings in index.postings.values():
            postings.trim()
        positions = index.article_index
        root_of = index.root_of
        for local, (story_id, copied) in enumerate(
            zip(
                articles.column("story_id").to_pylist(),
                articles.column("duplicate_of").to_pylist(),
                strict=True,
            )
        ):
            story = index._story_named(story_id)
            index._join(local, story)
            root_of[local] = positions.get(copied, local) if copied else local
        return index

    def _story_named(self, story_id: str) -> int:
        """The number of a story, created (without dates yet) if new."""
        if story_id not in self.story_number:
            self.story_number[story_id] = len(self.story_ids)
            self.story_ids.append(story_id)
            self._story_first.extend(_NO_DAY)
            self._story_last.extend(_NO_DAY)
        return self.story_number[story_id]

    def _join(self, article: int, story: int) -> None:
        """Put an article in a story; its date (the reading nearest the story's) widens the
        story's dates."""
        self._story_of.array[article] = story
        days = self.days_of[article]
        if not days:
            return
        story_first, story_last = self._story_first.array, self._story_last.array
        first, last = float(story_first[story]), float(story_last[story])
        if math.isnan(first):
            story_first[story] = story_last[story] = days[0]
            return
        day = min(days, key=lambda day: max(first - day, day - last, 0.0))
        story_first[story], story_last[story] = min(first, day), max(last, day)

    def _append(
        self, ids: list[str], days: list[tuple[float, ...]], signatures: Signatures
    ) -> tuple[int, dict[str, np.ndarray]]:
        """Add articles (story still unknown) with their signatures; return the first's index,
        and per kind the set of each new item (paragraph or article; -1 if it has no keys)."""
        base = len(self.article_ids)
        for offset, article_id in enumerate(ids):
            self.article_index[article_id] = base + offset
        self.article_ids.extend(ids)
        self._story_of.extend(np.full(len(ids), -1, dtype=np.int64))
        self._root_of.extend(np.arange(base, base + len(ids), dtype=np.int64))
        self.days_of.extend(days)
        paragraph_anchors = np.bincount(
            signatures.anchor_paragraph, minlength=len(signatures.paragraph_article)
        )
        # Anchors per article, summed over its paragraphs (a key repeated in two paragraphs
        # counts twice, as it does when shared anchors are summed over paragraph pairs).
        self._anchors.extend(
            np.bincount(signatures.paragraph_article, weights=paragraph_anchors, minlength=len(ids))
        )
        self._names.extend(np.bincount(signatures.name_article, minlength=len(ids)))
        self._titles.extend(np.bincount(signatures.title_article, minlength=len(ids)))
        paragraphs = len(signatures.paragraph_article)
        self._paragraph_article.extend(signatures.paragraph_article + base)
        self._paragraph_position.extend(signatures.paragraph_position)
        self._paragraph_anchors.extend(paragraph_anchors)
        postings = self.postings
        sets = {
            "passage": postings["passage"].add(
                signatures.anchor_key, signatures.anchor_paragraph, paragraphs
            ),
            "band": postings["band"].add(signatures.band_key, signatures.band_article, len(ids)),
            "name": postings["name"].add(signatures.name_key, signatures.name_article, len(ids)),
            "title": postings["title"].add(
                signatures.title_key, signatures.title_article, len(ids)
            ),
        }
        return base, sets

    def nbytes(self) -> int:
        """Bytes held in numpy arrays (the bulk of the index)."""
        arrays = (
            self._story_of, self._root_of, self._anchors, self._names, self._titles,
            self._paragraph_article, self._paragraph_position, self._paragraph_anchors,
        )  # fmt: skip
        return sum(array.nbytes() for array in arrays) + sum(
            postings.nbytes() for postings in self.postings.values()
        )


def _pair_codes(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """(later, earlier) item pairs as one int64 each, ordered by later then earlier."""
    return (np.asarray(later, dtype=np.int64) << ITEM_BITS) | np.asarray(earlier, dtype=np.int64)


def _sorted_with(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (below 2**48) sorted, the non-negative int values carried along (packed into
    one sort when they fit 16 bits)."""
    if len(values) == 0 or int(values.max()) < 1 << 16:
        packed = (np.asarray(codes, dtype=np.int64) << 16).view(np.uint64)
        packed |= np.asarray(values, dtype=np.int64).view(np.uint64)
        packed.sort()
        return (packed >> np.uint64(16)).view(np.int64), (packed & np.uint64(0xFFFF)).view(np.int64)
    order = np.argsort(codes, kind="stable")
    return codes[order], values[order]


def _group_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts."""
    if len(sorted_values) == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique, by sorting: faster on large integer arrays)."""
    ordered = np.sort(values)
    return ordered[_group_starts(ordered)]


def _isin(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """Whether each value is in `sorted_unique`."""
    if len(sorted_unique) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), len(sorted_unique) - 1)
    return sorted_unique[at] == values


def _shared_keys(
    postings: Postings, keys: np.ndarray, owners: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, set, keys in common) for each set sharing keys with an owner's keys."""
    order = np.argsort(keys)
    ordered = keys[order]
    starts = _group_starts(ordered)  # each distinct key is looked up once
    query, found = postings.sets_of(ordered[starts])
    occurrences = np.diff(np.r_[starts, len(keys)])
    per_key = np.bincount(query, minlength=len(starts))
    first_found = np.cumsum(per_key) - per_key
    # Each occurrence of a key gets that key's sets.
    repeats = np.repeat(per_key, occurrences)
    found = found[_ranges(np.repeat(first_found, occurrences), repeats)]
    codes = np.sort(_pair_codes(np.repeat(owners[order], repeats), found))
    starts = _group_starts(codes)
    codes, shared = codes[starts], np.diff(np.r_[starts, len(codes)])
    return codes >> ITEM_BITS, codes & _ITEM_MASK, shared


def _shared_sets(
    postings: Postings, keys: np.ndarray, owners: np.ndarray, owner_sets: np.ndarray, first: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, set, keys in common) for each set sharing keys with a new item, by owner: items
    numbered `first` + local owner, keys[i] carried by local owner owners[i], owner_sets the set
    of each. Items with the same set have the same keys: each set is looked up once."""
    carried = np.flatnonzero(owner_sets >= 0)
    order = np.argsort(owner_sets[carried], kind="stable")
    ordered = owner_sets[carried][order]
    starts = _group_starts(ordered)
    distinct = ordered[starts]
    looked_up = np.zeros(len(owner_sets), dtype=bool)
    looked_up[carried[order[starts]]] = True
    wanted = looked_up[owners]
    query, found, shared = _shared_keys(postings, keys[wanted], owner_sets[owners[wanted]])
    # The rows of each owner's set, in owner order.
    at = np.searchsorted(distinct, owner_sets[carried])
    begin = np.searchsorted(query, distinct)
    counts = (np.searchsorted(query, distinct, side="right") - begin)[at]
    rows = _ranges(begin[at], counts)
    return np.repeat(carried + first, counts), found[rows], shared[rows]


def _earlier_pairs(
    postings: Postings,
    keys: np.ndarray,
    owners: np.ndarray,
    owner_sets: np.ndarray,
    base: int,
    min_shared: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (later, earlier) article pair codes sharing keys, and how many keys each."""
    owner, found, shared = _shared_sets(postings, keys, owners, owner_sets, base)
    strong = shared >= min_shared
    query, earlier = postings.carriers_before(found[strong], owner[strong])
    # An earlier article carries one set of a kind: each pair comes from one set.
    return _sorted_with(_pair_codes(owner[strong][query], earlier), shared[strong][query])


@dataclass(slots=True)
class _Evidence:
    """What links the batch's new articles to earlier ones, as arrays. Pairs (later article,
    earlier article) are sorted by code. Passages are kept per later paragraph and earlier set
    of anchors ("passage sets", sorted by paragraph; what makes a passage depends on the text
    only), with their carriers in earlier articles ("carrier rows", sorted by passage set)."""

    pair_later: np.ndarray
    pair_earlier: np.ndarray
    pair_start: np.ndarray  # per new article (local): where its pairs start (and end)
    copy_score: np.ndarray
    title: np.ndarray  # Dice overlap of headline words
    names: np.ndarray  # overlap of names
    pair_passages: np.ndarray  # paragraph pairs of the two sharing a passage
    passage_article: np.ndarray  # per passage set: the later article
    passage_paragraph: np.ndarray  # the later paragraph (index number)
    passage_similarity: np.ndarray
    passage_cover: np.ndarray  # share of the later paragraph's anchors found in the set
    passage_first: np.ndarray  # its earliest carrier (paragraph number)
    carrier_passage: np.ndarray  # per carrier row: its passage set
    carrier_article: np.ndarray  # the earlier article carrying the set
    carrier_start: np.ndarray  # per new article (local): where its carrier rows start


@dataclass(slots=True)
class _Passages:
    """Paragraphs of the new articles found in earlier ones: the passage sets and carrier rows
    of _Evidence, and per (later, earlier) article pair code the anchors the two share (summed
    over paragraph pairs) and the paragraph pairs that make a passage."""

    article_codes: np.ndarray
    article_shared: np.ndarray
    article_passages: np.ndarray
    article: np.ndarray
    paragraph: np.ndarray
    similarity: np.ndarray
    cover: np.ndarray
    first: np.ndarray
    carrier_passage: np.ndarray
    carrier_article: np.ndarray


def _passages(
    index: StoryIndex, signatures: Signatures, paragraph_sets: np.ndarray, settings: Settings
) -> _Passages:
    """Which earlier paragraphs the new paragraphs share anchors with (per set, then per
    carrier), which of those are passages, and the anchors shared per article pair."""
    paragraph_base = len(index.paragraph_article) - len(signatures.paragraph_article)
    paragraph_article = index.paragraph_article
    postings = index.postings["passage"]
    paragraph, found, shared = _shared_sets(
        postings, signatures.anchor_key, signatures.anchor_paragraph, paragraph_sets, paragraph_base
    )
    own = index.paragraph_anchors[paragraph]
    size = postings.set_size[found]
    similarity = shared / np.maximum(np.minimum(own, size), 1)
    cover = np.minimum(shared / np.maximum(own, 1), 1.0)
    passes = (shared >= PASSAGE_MIN_SHARED_ANCHORS) & (
        similarity >= settings.passage_similarity_threshold
    )
    # A single shared anchor counts toward a copy only as the whole of one paragraph's sample
    # (a short paragraph): elsewhere it is a common phrase, and the bulk of all matches.
    counted = np.flatnonzero(
        (shared >= PASSAGE_MIN_SHARED_ANCHORS) | (shared >= np.minimum(own, size))
    )
    query, right = postings.carriers_before(found[counted], paragraph[counted])
    query = counted[query]
    later, earlier = paragraph_article[paragraph][query], paragraph_article[right]
    other = np.flatnonzero(earlier != later)
    passing = other[passes[query[other]]]
    carrier_set = query[passing]
    set_starts = _group_starts(carrier_set)
    in_passage = carrier_set[set_starts]
    # Per article pair, in one sort: anchors shared (summed over paragraph pairs), passages.
    article_codes, weight = _sorted_with(
        _pair_codes(later[other], earlier[other]), (shared << 1 | passes)[query[other]]
    )
    starts = _group_starts(article_codes)
    return _Passages(
        article_codes=article_codes[starts],
        article_shared=np.add.reduceat(weight >> 1, starts) if len(starts) else starts,
        article_passages=np.add.reduceat(weight & 1, starts) if len(starts) else starts,
        article=later[passing][set_starts],
        paragraph=paragraph[in_passage],
        similarity=similarity[in_passage],
        cover=cover[in_passage],
        first=right[passing][set_starts],
        carrier_passage=np.repeat(
            np.arange(len(set_starts)), np.diff(np.r_[set_starts, len(carrier_set)])
        ),
        carrier_article=earlier[passing],
    )


def _gather_evidence(
    index: StoryIndex,
    signatures: Signatures,
    sets: dict[str, np.ndarray],
    base: int,
    settings: Settings,
) -> _Evidence:
    """For each new article (index number), the earlier articles it shares something with."""
    anchors = index._anchors.array
    passages = _passages(index, signatures, sets["passage"], settings)
    article_codes = passages.article_codes
    smaller = np.minimum(anchors[article_codes >> ITEM_BITS], anchors[article_codes & _ITEM_MASK])
    article_shared = np.minimum(passages.article_shared, smaller)
    postings = index.postings
    band_codes, band_counts = _earlier_pairs(
        postings["band"], signatures.band_key, signatures.band_article, sets["band"], base
    )
    # A copy is possible where most anchors are shared, or MinHash bands agree.
    possible = (article_shared >= settings.near_duplicate_threshold * np.maximum(smaller, 1)) | (
        _isin(article_codes, band_codes)
    )
    name_codes, name_counts = _earlier_pairs(
        postings["name"], signatures.name_key, signatures.name_article, sets["name"], base,
        NAME_MIN_SHARED,
    )  # fmt: skip
    title_codes, title_counts = _earlier_pairs(
        postings["title"], signatures.title_key, signatures.title_article, sets["title"], base
    )
    with_passages = passages.article_passages > 0
    candidates = _unique(
        np.concatenate([article_codes[with_passages | possible], band_codes, name_codes])
    )
    relevant = _isin(title_codes, candidates)  # headline words count only beside other links
    codes = _unique(np.concatenate([candidates, title_codes[relevant]]))

    def at_pairs(found_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        column = np.zeros(len(codes), dtype=values.dtype)
        column[np.searchsorted(codes, found_codes)] = values
        return column

    later, earlier = codes >> ITEM_BITS, codes & _ITEM_MASK
    shared_anchors = at_pairs(article_codes[possible], article_shared[possible])
    bands = at_pairs(band_codes, band_counts)
    names = at_pairs(name_codes, name_counts)
    titles = at_pairs(title_codes[relevant], title_counts[relevant])

    # How near a duplicate: Jaccard of the anchor samples, or containment of the shorter body
    # when it is at least TRUNCATION_MIN_LENGTH_RATIO of the longer; MinHash bands otherwise.
    own, others = anchors[later], anchors[earlier]
    shorter, longer = np.minimum(own, others), np.maximum(own, others)
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = shared_anchors / (own + others - shared_anchors)
        contained = np.where(
            shorter >= TRUNCATION_MIN_LENGTH_RATIO * longer, shared_anchors / shorter, 0.0
        )
    by_anchors = (shared_anchors > 0) & (own > 0) & (others > 0)
    by_bands = (bands / sig.BANDS) ** (1 / sig.BAND_ROWS)
    copy_score = np.where(
        by_anchors, np.maximum(jaccard, contained), np.where(bands > 0, by_bands, 0.0)
    )
    title_count, name_count = index._titles.array, index._names.array
    title_sum = title_count[later] + title_count[earlier]
    smaller_names = np.minimum(name_count[later], name_count[earlier])
    with np.errstate(divide="ignore", invalid="ignore"):
        title = np.where(title_sum > 0, 2 * titles / title_sum, 0.0)
        overlap = np.where(
            (names >= NAME_MIN_SHARED) & (smaller_names > 0), names / smaller_names, 0.0
        )
    local = np.arange(signatures.articles + 1) + base
    return _Evidence(
        pair_later=later,
        pair_earlier=earlier,
        pair_start=np.searchsorted(later, local),
        copy_score=copy_score,
        title=title,
        names=overlap,
        pair_passages=at_pairs(
            article_codes[with_passages], passages.article_passages[with_passages]
        ),
        passage_article=passages.article,
        passage_paragraph=passages.paragraph,
        passage_similarity=passages.similarity,
        passage_cover=passages.cover,
        passage_first=passages.first,
        carrier_passage=passages.carrier_passage,
        carrier_article=passages.carrier_article,
        carrier_start=np.searchsorted(passages.article[passages.carrier_passage], local),
    )


def _best_copies(evidence: _Evidence, articles: int, base: int, threshold: float) -> np.ndarray:
    """Per new article (local), the earlier article it is the nearest duplicate of (the
    earliest on a tie), or -1."""
    best = np.full(articles, -1, dtype=np.int64)
    eligible = np.flatnonzero((evidence.copy_score >= threshold) & (evidence.copy_score > 0))
    if len(eligible) == 0:
        return best
    later, score = evidence.pair_later[eligible], evidence.copy_score[eligible]
    starts = _group_starts(later)
    top = np.repeat(np.maximum.reduceat(score, starts), np.diff(np.r_[starts, len(later)]))
    at_top = eligible[score == top]
    first = _group_starts(evidence.pair_later[at_top])
    best[evidence.pair_later[at_top[first]] - base] = evidence.pair_earlier[at_top[first]]
    return best


def _dates_agree(days: tuple[float, ...], first: float, last: float, window: float) -> bool:
    """Whether an article's date can belong to a story spanning [first, last] (either undated
    agrees with anything)."""
    if not days or math.isnan(first):
        return True
    return any(first - window <= day <= last + window for day in days)


def _story_joins(
    days: tuple[float, ...],
    first: float,
    matched: int,
    matched_words: float,
    title: float,
    names: float,
    total_words: int,
) -> bool:
    """Whether the evidence for one story (dates already agreeing) is enough to join it."""
    if bool(days) and not math.isnan(first):  # both dated, and the dates agree
        supported = title >= TITLE_SUPPORT or names >= NAME_SUPPORT
        alone = title >= TITLE_ALONE and names >= NAME_SUPPORT
        joins = matched >= PASSAGES_ALONE or (matched and supported) or alone
    else:  # only shared text decides
        joins = matched >= PASSAGES_ALONE or matched_words >= UNDATED_MIN_SHARE * total_words
    return bool(joins) and matched_words + matched + title > 0


def _closest_passages(evidence: _Evidence) -> np.ndarray:
    """Per later paragraph with passages, its closest match (an index into the passage sets):
    the highest similarity, then the earliest carrier (the earliest article, then its earliest
    paragraph: paragraph numbers grow with article numbers)."""
    paragraph = evidence.passage_paragraph
    starts = _group_starts(paragraph)
    if len(starts) == 0:
        return starts
    counts = np.diff(np.r_[starts, len(paragraph)])
    similarity = evidence.passage_similarity
    at_top = similarity == np.repeat(np.maximum.reduceat(similarity, starts), counts)
    rank = np.where(at_top, evidence.passage_first, np.iinfo(np.int64).max)
    at_best = np.flatnonzero(rank == np.repeat(np.minimum.reduceat(rank, starts), counts))
    return at_best[_group_starts(paragraph[at_best])]


@dataclass(slots=True)
class _Decisions:
    """What was decided for the new articles: stories created, near duplicates, and per new
    article (local) the words of it its story had already printed."""

    created: int
    copies: int
    found_words: list[float]


def _decisive(
    evidence: _Evidence, best_copy: np.ndarray, total_words: np.ndarray, base: int
) -> np.ndarray:
    """Per pair: whether its earlier article can make its story one to join. A story with
    none of these (no shared passage, not the copy, no headline close enough to join alone)
    never joins, whatever else links it."""
    later = evidence.pair_later - base
    return (
        (evidence.pair_passages > 0)
        | (evidence.pair_earlier == best_copy[later])
        | (evidence.title >= TITLE_ALONE)
        | ((evidence.title > 0) & (total_words[later] == 0))
    )


# Story keys of new articles before they are decided: "the story article (REF + local) will
# be in"; below REF, a story number.
_REF = 1 << 31


def _predicted_stories(
    index: StoryIndex,
    evidence: _Evidence,
    decisive: np.ndarray,
    best_copy: np.ndarray,
    signed: SignedBatch,
    base: int,
    window: float,
) -> np.ndarray:
    """Per new article (local), the story it will likely join, as a story key: of its decisive
    candidates whose dates agree, its copy's story, else the one with the most passages (the
    earliest on a tie); else a new story of its own. Only a guess: `_decide` checks it."""
    articles = len(signed)
    days = np.full((articles, 2), np.nan)
    for local, readings in enumerate(signed.days):
        days[local, : len(readings)] = readings
    chosen = np.flatnonzero(decisive)
    later, earlier = evidence.pair_later[chosen] - base, evidence.pair_earlier[chosen]
    # The window of the earlier article's story (new articles: their own day).
    known = earlier < base
    first = days[np.maximum(earlier - base, 0), 0]
    last = first.copy()
    story = index.story_of[earlier[known]]
    first[known], last[known] = index.story_first[story], index.story_last[story]
    agree = np.isnan(days[later, 0]) | np.isnan(first)
    for reading in (0, 1):
        agree |= (days[later, reading] >= first - window) & (days[later, reading] <= last + window)
    chosen, later = chosen[agree], later[agree]
    copies = evidence.pair_earlier[chosen] == best_copy[later]
    order = np.lexsort(
        (evidence.pair_earlier[chosen], -evidence.pair_passages[chosen], ~copies, later)
    )
    first_pair = order[_group_starts(later[order])]
    candidate = np.full(articles, -1, dtype=np.int64)
    candidate[later[first_pair]] = evidence.pair_earlier[chosen][first_pair]
    in_index = candidate[(candidate >= 0) & (candidate < base)]
    story_of = dict(zip(in_index.tolist(), index.story_of[in_index].tolist(), strict=True))
    keys: list[int] = []
    for local, other in enumerate(candidate.tolist()):
        if other < 0:
            keys.append(_REF + local)
        else:
            keys.append(story_of[other] if other < base else keys[other - base])
    return np.array(keys, dtype=np.int64)


@dataclass(slots=True)
class _StoryGroups:
    """For some new articles: the stories (by key) of their decisive candidates, each with its
    evidence [story key, copies, words in common, passages in common, headline Dice, name
    overlap]; `start` says where each article's stories start (and end)."""

    start: list[int]
    stories: list[list]


def _story_groups(
    evidence: _Evidence,
    key_of: Callable[[np.ndarray], np.ndarray],
    decisive: np.ndarray,
    best_key: np.ndarray,
    words: np.ndarray,
    paragraph_base: int,
    articles: tuple[int, int],
    base: int,
    threshold: float,
) -> _StoryGroups:
    """Evidence per (new article, story key) for the new articles [first, end), given the key
    of articles (`key_of`: article numbers to keys) and of each new article's copy (-1 if
    none)."""
    first, end = articles
    pairs = slice(evidence.pair_start[first], evidence.pair_start[end])
    later = evidence.pair_later[pairs] - base - first
    code = (later << 32) | key_of(evidence.pair_earlier[pairs])
    order = np.argsort(code, kind="stable")
    code = code[order]
    starts = _group_starts(code)
    count = len(starts)
    if count:
        wanted = np.flatnonzero(np.maximum.reduceat(decisive[pairs][order], starts))
        title = np.maximum.reduceat(evidence.title[pairs][order], starts)[wanted]
        names = np.maximum.reduceat(evidence.names[pairs][order], starts)[wanted]
        group_code = code[starts][wanted]
    else:
        title = names = group_code = starts
    group_article, group_key = group_code >> 32, group_code & 0xFFFFFFFF
    copies = best_key[group_article + first] == group_key

    # Per (article, story): paragraphs covered (best cover per paragraph) and their words.
    matched = np.zeros(len(group_code), dtype=np.int64)
    matched_words = np.zeros(len(group_code))
    rows = slice(evidence.carrier_start[first], evidence.carrier_start[end])
    passage, key = evidence.carrier_passage[rows], key_of(evidence.carrier_article[rows])
    if len(passage):
        # Carriers of a set mostly share a story: keep one row per run of the same story.
        change = np.r_[True, (passage[1:] != passage[:-1]) | (key[1:] != key[:-1])]
        passage, key = passage[change], key[change]
        paragraph = evidence.passage_paragraph[passage]
        row_code = ((evidence.passage_article[passage] - base - first) << 32) | key
        order = np.lexsort((paragraph, row_code))
        row_code, paragraph = row_code[order], paragraph[order]
        cover = evidence.passage_cover[passage][order]
        paragraph_starts = np.flatnonzero(
            np.r_[True, (row_code[1:] != row_code[:-1]) | (paragraph[1:] != paragraph[:-1])]
        )
        cover = np.maximum.reduceat(cover, paragraph_starts)
        row_code, paragraph = row_code[paragraph_starts], paragraph[paragraph_starts]
        group = np.searchsorted(group_code, row_code)  # passages make their pairs decisive
        matched += np.bincount(group, weights=cover >= threshold, minlength=len(group_code)).astype(
            np.int64
        )
        matched_words += np.bincount(
            group, weights=words[paragraph - paragraph_base] * cover, minlength=len(group_code)
        )
    return _StoryGroups(
        start=np.searchsorted(group_article, np.arange(end - first + 1)).tolist(),
        stories=[
            list(values)
            for values in zip(
                group_key.tolist(),
                copies.tolist(),
                matched_words.tolist(),
                matched.tolist(),
                title.tolist(),
                names.tolist(),
                strict=True,
            )
        ],
    )


def _decide(
    index: StoryIndex,
    evidence: _Evidence,
    best_copy: np.ndarray,
    signed: SignedBatch,
    base: int,
    settings: Settings,
) -> _Decisions:
    """Decide each new article in order: its story (of the stories with enough evidence, the
    one it copies, else the most words in common, then the most passages, the closest
    headline and names, the oldest story; else a new one) and the original it copies.

    The evidence per story is gathered for the whole batch at once, with the stories of new
    articles guessed (`_predicted_stories`). An article whose links to new articles all went
    as guessed (each in the guessed story, and no two guessed stories the same) uses it; any
    other gathers its own from the stories decided so far.
    """
    articles = len(signed)
    signatures = signed.signatures
    words = signatures.article_words
    paragraph_words = signatures.paragraph_words
    paragraph_base = len(index.paragraph_article) - len(signatures.paragraph_article)
    threshold = settings.passage_similarity_threshold
    decisive = _decisive(evidence, best_copy, words, base)
    predicted = _predicted_stories(
        index, evidence, decisive, best_copy, signed, base, settings.story_window_days
    )
    story_of, root_of = index.story_of, index.root_of

    def guessed_key(article: np.ndarray) -> np.ndarray:
        new = article >= base
        return np.where(new, predicted[np.where(new, article - base, 0)], story_of[article])

    def exact_key(article: np.ndarray) -> np.ndarray:
        return story_of[article]

    def key_of_copies(key_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        return np.where(best_copy >= 0, key_of(np.maximum(best_copy, 0)), -1)

    groups = _story_groups(
        evidence, guessed_key, decisive, key_of_copies(guessed_key), paragraph_words,
        paragraph_base, (0, articles), base, threshold,
    )  # fmt: skip
    in_batch = evidence.pair_earlier >= base
    linked_start = np.searchsorted(evidence.pair_later[in_batch] - base, np.arange(articles + 1))
    linked = (evidence.pair_earlier[in_batch] - base).tolist()
    linked_start = linked_start.tolist()
    missed: set[int] = set()  # new articles not in the story guessed for them
    best_list = best_copy.tolist()
    total_words = words.tolist()
    keys = predicted.tolist()
    window = settings.story_window_days
    created = copies = 0
    found_words = [0.0] * articles
    for local in range(articles):
        article = base + local
        candidates = groups.stories[groups.start[local] : groups.start[local + 1]]
        stories = [
            key if key < _REF else int(story_of[base + key - _REF]) for key, *_rest in candidates
        ]
        if (
            missed and not missed.isdisjoint(linked[linked_start[local] : linked_start[local + 1]])
        ) or len(set(stories)) < len(stories):
            own = _story_groups(
                evidence, exact_key, decisive, key_of_copies(exact_key), paragraph_words,
                paragraph_base, (local, local + 1), base, threshold,
            )  # fmt: skip
            candidates = own.stories
            stories = [key for key, *_rest in candidates]
        days = index.days_of[article]
        ranked = []
        for story, (_key, copied, shared_words, shared, title, names) in zip(
            stories, candidates, strict=True
        ):
            first, last = index.story_first[story], index.story_last[story]
            if _dates_agree(days, first, last, window) and (
                copied
                or _story_joins(days, first, shared, shared_words, title, names, total_words[local])
            ):
                ranked.append(((copied, shared_words, shared, title, names, -story), story))
        if ranked:
            (_copied, found_words[local], *_rest), chosen = max(ranked)
        else:
            chosen = index._story_named(signed.article_ids[local])
            created += 1
        index._join(article, chosen)
        key = keys[local]
        if key < _REF:
            guessed = key
        else:  # in the story of an article of this batch (itself: any story)
            guessed = chosen if key == _REF + local else int(story_of[base + key - _REF])
        if chosen != guessed:
            missed.add(local)
        best = best_list[local]
        if best >= 0:
            root_of[article] = root_of[best]
            copies += 1
    return _Decisions(created, copies, found_words)


def _assignment_order(articles: pa.Table) -> list[int]:
    """Rows in publication order (undated last), ties by article_id: 'earlier' articles."""
    published = articles.column("published_at").to_pylist()
    ids = articles.column("article_id").to_pylist()
    return sorted(
        range(articles.num_rows),
        key=lambda row: (published[row] is None, published[row] or _EPOCH, ids[row]),
    )


def _with_column(table: pa.Table, name: str, values: list) -> pa.Table:
    field = arrow_schema("articles").field(name)
    index = table.schema.get_field_index(name)
    column = pa.array(values, type=field.type)
    if index < 0:
        return table.append_column(field, column)
    return table.set_column(index, field, column)


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


def assign(
    index: StoryIndex,
    articles: pa.Table,
    paragraphs: pa.Table,
    settings: Settings,
    signed: SignedBatch | None = None,
) -> StoryAssignment:
    """Assign a batch of new articles to stories, in publication order; updates `index`.

    `signed` is `sign_batch(articles, paragraphs)`, done beforehand (in the batch's worker);
    it may hold more articles than `articles` (those are left out). Without it, `assign`
    signs the batch itself. Articles already in the index (a retried batch) keep what they
    were given and add no rows. Then the index forgets its oldest articles if it holds too
    many (`settings.story_index_max_articles`, see StoryIndex.bound).
    """
    if signed is None:
        signed = sign_batch(articles, paragraphs)
    ids = articles.column("article_id").to_pylist()
    known = index.article_index
    wanted = set(ids)
    keep = [
        at
        for at, article_id in enumerate(signed.article_ids)
        if article_id in wanted and article_id not in known
    ]
    if len(keep) < len(signed):
        signed = signed.subset(keep)
    missing = wanted - known.keys() - set(signed.article_ids)
    if missing:
        raise ValueError(
            f"{len(missing)} articles of the batch are not signed (for example {min(missing)}): "
            "pass the sign_batch of the articles being assigned"
        )
    signatures = signed.signatures
    base, sets = index._append(signed.article_ids, signed.days, signatures)
    evidence = _gather_evidence(index, signatures, sets, base, settings)
    best_copy = _best_copies(evidence, len(signed), base, settings.near_duplicate_threshold)
    decisions = _decide(index, evidence, best_copy, signed, base, settings)

    # One row per paragraph: its closest match, the earliest article on a tie (the likely
    # source). Every match would be quadratic: wire copy carried by hundreds of outlets.
    best = _closest_passages(evidence)
    article_ids = index.article_ids
    other = evidence.passage_first[best]
    later = evidence.passage_article[best].tolist()
    earlier = index.paragraph_article[other].tolist()
    shared_passages = pa.Table.from_arrays(
        [
            pa.array([article_ids[article] for article in later], pa.string()),
            pa.array(index.paragraph_position[evidence.passage_paragraph[best]]),
            pa.array([article_ids[article] for article in earlier], pa.string()),
            pa.array(index.paragraph_position[other]),
            pa.array(np.round(evidence.passage_similarity[best], 4)),
        ],
        schema=arrow_schema("shared_passages"),
    )
    originality = {
        article_id: round(min(max(1 - shared / total, 0.0), 1.0), 4) if total else None
        for article_id, shared, total in zip(
            signed.article_ids,
            decisions.found_words,
            signatures.article_words.tolist(),
            strict=True,
        )
    }
    known_originality = (
        articles.column("originality").to_pylist()
        if "originality" in articles.column_names
        else [None] * len(ids)
    )
    numbers = np.array([known[article_id] for article_id in ids], dtype=np.int64)
    roots = index.root_of[numbers].tolist()
    story_ids = index.story_ids
    result = _with_column(
        articles, "story_id", [story_ids[story] for story in index.story_of[numbers].tolist()]
    )
    result = _with_column(
        result,
        "duplicate_of",
        [
            index.original_id(root) if root != number else None
            for root, number in zip(roots, numbers.tolist(), strict=True)
        ],
    )
    result = _with_column(
        result,
        "originality",
        [originality.get(article_id, known_originality[row]) for row, article_id in enumerate(ids)],
    )
    LOGGER.info(
        "%d articles: %d new stories, %d near duplicates, %d shared passages",
        len(signed), decisions.created, decisions.copies, shared_passages.num_rows,
    )  # fmt: skip
    index.bound(settings.story_index_max_articles)
    return StoryAssignment(
        articles=result,
        shared_passages=shared_passages,
        story_signatures=signed.rows(),
        index=index,
        stories_created=decisions.created,
        near_duplicates=decisions.copies,
    )
