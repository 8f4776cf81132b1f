"""Story assignment at scale: an index of 100,000 articles, a new batch of 1,000.

Usage: .venv/bin/python bench/bench_stories.py [--articles 100000] [--batch 1000]
       [--bound 50000] [--compare-datasketch]

Synthetic bodies (a Zipf vocabulary of made-up words, capitalized names, 8-20 paragraphs of
25-70 words) grouped into stories: each story's articles carry two or three of its wire
paragraphs, lightly edited, and about 5% are near duplicates. Steps, each timed:
1. sign the index articles (bulk, in chunks) and write their articles and story_signatures
   rows into a DuckDB file: what earlier runs would have landed;
2. load the index from that file (`StoryIndex.load`, the same SQL as on the warehouse);
3. assign a new batch: half join existing stories (recent ones), half are new stories. Timed
   in two parts as the ingest flow runs them: signing (`sign_batch`, in the batch's worker)
   and assigning the signed batch (`assign(..., signed=)`, in the main process), unbounded;
4. bound the index as a run does (`StoryIndex.bound`, Settings.story_index_max_articles):
   forget the oldest articles down to the bound, timed apart from assigning;
and reports peak memory (process max RSS, and Python/numpy allocations during each step) and
how many of the new batch landed in the right story. With --compare-datasketch it also times
datasketch MinHash + MinHashLSH for the same near-duplicate step (signing and inserting the
index, querying the batch) to compare with the vectorized numpy MinHash used here.
"""

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.arrow import arrow_schema  # noqa: E402
from tasks.settings import Settings  # noqa: E402
from tasks.stories import signatures as sig  # noqa: E402
from tasks.stories.engine import (  # noqa: E402
    EVICTION_SLACK,
    Postings,
    StoryIndex,
    assign,
    sign_articles,
    sign_batch,
)

START = datetime(2024, 1, 1)
CHUNK = 5000


@dataclass
class Synthetic:
    """Articles as plain columns, with the story each belongs to."""

    ids: list[str]
    titles: list[str]
    published: list[datetime]
    bodies: list[list[tuple[int, str]]]
    stories: list[int]
    copies: list[int]  # index of the article copied, -1 if none


def _vocabulary(rng: random.Random, size: int, capitalized: bool) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ra", "to", "su", "ve", "an", "el", "is", "or", "un",
                 "ba", "de", "fi", "go", "hu", "ji", "pe", "qu", "sa"]  # fmt: skip
    words = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size)}
    return sorted(word.capitalize() if capitalized else word for word in words)


def generate(count: int, seed: int = 7) -> Synthetic:
    """`count` synthetic articles in publication order (see module docstring)."""
    rng = random.Random(seed)
    numbers = np.random.default_rng(seed)
    words = _vocabulary(rng, 40_000, capitalized=False)
    names = _vocabulary(rng, 6_000, capitalized=True)
    word_ranks = (np.minimum(numbers.zipf(1.15, 8_000_000), len(words)) - 1).tolist()
    name_ranks = (np.minimum(numbers.zipf(1.3, 1_000_000), len(names)) - 1).tolist()
    cursor = {"word": 0, "name": 0}

    def draw(kind: str, n: int) -> list[str]:
        ranks, pool = (word_ranks, words) if kind == "word" else (name_ranks, names)
        start = cursor[kind] if cursor[kind] + n < len(ranks) else 0
        cursor[kind] = start + n
        return [pool[rank] for rank in ranks[start : start + n]]

    def paragraph(story_names: list[str]) -> str:
        tokens = draw("word", rng.randint(25, 69))
        for _ in range(rng.randint(1, 3)):
            tokens.insert(rng.randint(1, len(tokens) - 1), rng.choice(story_names))
        return " ".join(tokens).capitalize() + "."

    synthetic = Synthetic([], [], [], [], [], [])
    # Stories stay open for two days of articles (a year of `count` articles).
    open_for = max(50, count * 2 // 365)
    open_stories: deque[tuple[int, list[str], list[str], str, int]] = deque()
    members: dict[int, list[int]] = {}
    story_count = 0
    for number in range(count):
        published = START + timedelta(minutes=int(number * 525_600 / max(count, 1)))
        while open_stories and number - open_stories[0][4] >= open_for:
            members.pop(open_stories.popleft()[0], None)
        if open_stories and rng.random() < 0.55:
            story, wire, story_names, title, _first = rng.choice(open_stories)
            if rng.random() < 0.08:  # near duplicate of a story member
                source = rng.choice(members[story])
                body = [(p, text.replace(" ", "  ", 1)) for p, text in synthetic.bodies[source]]
                body = body[: max(2, int(len(body) * 0.9))]
                copy = source
            else:
                own = [paragraph(story_names) for _ in range(rng.randint(4, 13))]
                shared = rng.sample(wire, rng.randint(2, 3))
                body, copy = list(enumerate(own[:1] + shared + own[1:])), -1
        else:
            story, story_count = story_count, story_count + 1
            story_names = draw("name", 6)
            wire = [paragraph(story_names) for _ in range(4)]
            title = " ".join(draw("word", 7))
            texts = wire + [paragraph(story_names) for _ in range(rng.randint(4, 13))]
            body, copy = list(enumerate(texts)), -1
            open_stories.append((story, wire, story_names, title, number))
            members[story] = []
        members[story].append(number)
        synthetic.ids.append(f"{number:032x}")
        synthetic.titles.append(title)
        synthetic.published.append(published)
        synthetic.bodies.append(body)
        synthetic.stories.append(story)
        synthetic.copies.append(copy)
    return synthetic


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Resident memory now (Linux), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_index(data: Synthetic, count: int, path: Path) -> tuple[float, int]:
    """Sign the first `count` articles and write the rows a warehouse would hold."""
    connection = duckdb.connect(str(path))
    connection.execute(
        "CREATE TABLE articles (article_id VARCHAR, story_id VARCHAR, duplicate_of VARCHAR, "
        "published_at TIMESTAMP, date_confidence VARCHAR, ingested_at TIMESTAMP)"
    )
    connection.execute(
        "CREATE TABLE story_signatures (article_id VARCHAR, kind VARCHAR, position BIGINT, "
        "key BIGINT)"
    )
    story_first: dict[int, str] = {}
    started = time.perf_counter()
    rows = 0
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        signatures = sign_articles(data.titles[start:stop], data.bodies[start:stop])
        table = signatures.rows(data.ids[start:stop])
        rows += table.num_rows
        story_ids = []
        for number in range(start, stop):
            story_ids.append(story_first.setdefault(data.stories[number], data.ids[number]))
        articles = pa.table(
            {
                "article_id": data.ids[start:stop],
                "story_id": story_ids,
                "duplicate_of": [
                    data.ids[data.copies[n]] if data.copies[n] >= 0 else None
                    for n in range(start, stop)
                ],
                "published_at": pa.array(data.published[start:stop], pa.timestamp("us")),
                "date_confidence": pa.array([None] * (stop - start), pa.string()),
                "ingested_at": pa.array([START] * (stop - start), pa.timestamp("us")),
            }
        )
        connection.register("staged", articles)
        connection.execute("INSERT INTO articles SELECT * FROM staged")
        connection.unregister("staged")
        connection.register("staged", table)
        connection.execute("INSERT INTO story_signatures SELECT * FROM staged")
        connection.unregister("staged")
    connection.close()
    return time.perf_counter() - started, rows


def _timed(step, trace: bool):
    """(result, wall seconds, CPU seconds, peak MB allocated during the step or None)."""
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result, seconds, cpu, peak


def _peak(peak: float | None) -> str:
    return "" if peak is None else f", peak allocations {peak:.0f} MB"


def _anchor_sets(data: Synthetic, stop: int) -> list[np.ndarray]:
    """Each article's anchors (the sampled 4-grams both MinHash implementations read)."""
    sets = []
    for start in range(0, stop, CHUNK):
        bodies = data.bodies[start : min(start + CHUNK, stop)]
        texts = [text for body in bodies for _position, text in body]
        owner = np.repeat(np.arange(len(bodies)), [len(body) for body in bodies])
        paragraph, keys = sig.paragraph_anchors(sig.shingle_paragraphs(texts))
        article = owner[paragraph]
        bounds = np.searchsorted(article, np.arange(len(bodies) + 1))
        sets += [np.unique(keys[bounds[i] : bounds[i + 1]]) for i in range(len(bodies))]
    return sets


def compare_datasketch(data: Synthetic, count: int, batch: int, trace: bool) -> None:
    """MinHash + LSH for the near-duplicate step: datasketch against the numpy code here,
    both on the same anchor sets, 64 permutations, 16 bands of 4: index `count` articles,
    then add a batch and find each batch article's candidates (unordered pairs)."""
    from datasketch import MinHash, MinHashLSH

    anchors = _anchor_sets(data, count + batch)
    low32 = [(keys & np.uint64(0xFFFFFFFF)).tolist() for keys in anchors]

    def datasketch_minhash(number: int) -> MinHash:
        minhash = MinHash(num_perm=sig.MINHASH_PERMUTATIONS, hashfunc=lambda value: value)
        minhash.update_batch(low32[number])
        return minhash

    def build_datasketch():
        lsh = MinHashLSH(num_perm=sig.MINHASH_PERMUTATIONS, params=(sig.BANDS, sig.BAND_ROWS))
        for number in range(count):
            lsh.insert(number, datasketch_minhash(number))
        return lsh

    def query_datasketch(lsh) -> int:
        minhashes = [datasketch_minhash(n) for n in range(count, count + batch)]
        for number, minhash in enumerate(minhashes, start=count):
            lsh.insert(number, minhash)
        return len(
            {
                (min(number, other), max(number, other))
                for number, minhash in enumerate(minhashes, start=count)
                for other in lsh.query(minhash)
                if other != number
            }
        )

    def signed(first: int, stop: int) -> np.ndarray:
        owner = np.repeat(np.arange(stop - first), [len(keys) for keys in anchors[first:stop]])
        keys = np.concatenate(anchors[first:stop])
        return sig.band_keys(sig.minhash_signatures(keys, owner, stop - first))

    def build_numpy():
        postings = Postings(keep=None, carriers=None)  # no caps: every candidate, as LSH
        postings.add(signed(0, count).reshape(-1), np.repeat(np.arange(count), sig.BANDS), count)
        return postings

    def query_numpy(postings) -> int:
        new = signed(count, count + batch).reshape(-1)
        owners = np.repeat(np.arange(batch), sig.BANDS)
        postings.add(new, owners, batch)
        query, sets = postings.sets_of(new)  # the band sets holding each band key
        found, matched = postings.carriers_before(sets, np.full(len(sets), count + batch))
        own = owners[query][found] + count
        pairs = np.minimum(own, matched) * (count + batch) + np.maximum(own, matched)
        return len(np.unique(pairs[own != matched]))

    for name, build, query in (
        ("datasketch MinHash + MinHashLSH", build_datasketch, query_datasketch),
        ("numpy MinHash + sorted band postings", build_numpy, query_numpy),
    ):
        index, built, _cpu, peak = _timed(build, trace)
        found, queried, _cpu, _unused = _timed(lambda index=index, query=query: query(index), False)
        print(f"{name}: index {count} articles {built:.1f} s{_peak(peak)}; "
              f"add and query {batch}: {queried:.2f} s, {found} candidate pairs")  # fmt: skip
        del index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--bound", type=int, default=Settings().story_index_max_articles,
        help="articles the index is bounded to in step 4 (story_index_max_articles)",
    )  # fmt: skip
    parser.add_argument("--compare-datasketch", action="store_true")
    parser.add_argument(
        "--index-db", type=Path, help="keep the signed index in this DuckDB file (reused if there)"
    )
    parser.add_argument(
        "--trace-memory", action="store_true",
        help="measure peak allocations per step with tracemalloc (slows the steps down)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.articles + args.batch)
    words = sum(len(text.split()) for body in data.bodies for _p, text in body)
    print(f"generated {len(data.ids)} articles, {words / len(data.ids):.0f} words each, "
          f"{len(set(data.stories))} stories in {time.perf_counter() - started:.1f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = args.index_db or Path(folder) / "index.duckdb"
        if not path.exists():
            seconds, rows = write_index(data, args.articles, path)
            size = path.stat().st_size / 2**20
            print(f"1. signed and wrote {args.articles} articles: {seconds:.1f} s, "
                  f"{rows} story_signatures rows ({rows / args.articles:.0f} per article), "
                  f"{size:.0f} MB in DuckDB")  # fmt: skip
        for table in ("articles", "shared_passages", "story_signatures"):
            arrow_schema(table)  # warm up: the first call imports pandera's engines
        connection = duckdb.connect(str(path), read_only=True)
        print(f"   resident memory before loading: {_rss_mb():.0f} MB (mostly the synthetic "
              f"corpus), peak so far {_peak_rss_mb():.0f} MB")  # fmt: skip
        index, seconds, cpu, peak = _timed(lambda: StoryIndex.load(connection), args.trace_memory)
        connection.close()
        print(f"2. loaded the index: {seconds:.2f} s ({cpu:.2f} s CPU), {len(index)} articles, "
              f"{index.nbytes() / 2**20:.0f} MB of arrays{_peak(peak)}")  # fmt: skip
        stop = args.articles + args.batch
        articles = pa.table(
            {
                "article_id": data.ids[args.articles : stop],
                "title": data.titles[args.articles : stop],
                "published_at": pa.array(data.published[args.articles : stop], pa.timestamp("us")),
                "date_confidence": pa.array([None] * args.batch, pa.string()),
            }
        )
        ids, positions, texts = [], [], []
        for number in range(args.articles, stop):
            for position, text in data.bodies[number]:
                ids.append(data.ids[number])
                positions.append(position)
                texts.append(text)
        paragraphs = pa.table(
            {"article_id": ids, "position": pa.array(positions, pa.int64()),
             "kind": ["paragraph"] * len(ids), "text": texts}
        )  # fmt: skip
        unbounded = Settings(story_index_max_articles=0)  # step 4 bounds it
        signed, seconds, cpu, _peak_signing = _timed(
            lambda: sign_batch(articles, paragraphs), False
        )
        print(f"3. signed {args.batch} new articles (in a worker): {seconds:.2f} s "
              f"({cpu:.2f} s CPU)")  # fmt: skip
        result, seconds, cpu, peak = _timed(
            lambda: assign(index, articles, paragraphs, unbounded, signed=signed),
            args.trace_memory,
        )
        print(f"   assigned them (main process): {seconds:.2f} s ({cpu:.2f} s CPU, "
              f"{args.batch / seconds:.0f} articles/s){_peak(peak)}; "
              f"{result.stories_created} new stories, {result.near_duplicates} near duplicates, "
              f"{result.shared_passages.num_rows} shared passages")  # fmt: skip
        _report_quality(data, args.articles, result)
        _bound(index, args.bound, args.batch)
    print(f"resident memory after assigning: {_rss_mb():.0f} MB; "
          f"process peak RSS: {_peak_rss_mb():.0f} MB")  # fmt: skip
    if args.compare_datasketch:
        compare_datasketch(data, args.articles, args.batch, args.trace_memory)
    return 0


def _bound(index: StoryIndex, bound: int, batch: int) -> None:
    """Step 4: forget the oldest articles down to `bound`, as a run does past 1.25 times it."""
    held, articles = index.nbytes(), len(index)
    forgotten, seconds, cpu, _peak = _timed(lambda: index.bound(bound), False)
    if not forgotten:
        print(f"4. the index ({articles} articles) is within {EVICTION_SLACK} times the bound "
              f"{bound}: nothing to forget")  # fmt: skip
        return
    # In a run the index forgets (EVICTION_SLACK - 1) * bound articles at a time, from
    # EVICTION_SLACK * bound held: the cost scales with the articles held.
    every = (EVICTION_SLACK - 1) * bound / batch
    steady = seconds * EVICTION_SLACK * bound / articles / every
    print(f"4. bounded the index to {bound} articles: forgot {forgotten} of {articles} in "
          f"{seconds:.2f} s ({cpu:.2f} s CPU); arrays {held / 2**20:.0f} MB -> "
          f"{index.nbytes() / 2**20:.0f} MB. A run forgets once every {every:.1f} batches of "
          f"{batch}: about {steady * 1000:.0f} ms per batch")  # fmt: skip


def _report_quality(data: Synthetic, count: int, result) -> None:
    """Did the batch's articles land in their true story (as named by its first article)?"""
    first: dict[int, str] = {}
    for number, story in enumerate(data.stories):
        first.setdefault(story, data.ids[number])
    assigned = dict(
        zip(
            result.articles.column("article_id").to_pylist(),
            result.articles.column("story_id").to_pylist(),
            strict=True,
        )
    )
    right = sum(
        assigned[data.ids[number]] == first[data.stories[number]]
        for number in range(count, len(data.ids))
    )
    print(f"   story right for {right} of {len(data.ids) - count} new articles")


if __name__ == "__main__":
    raise SystemExit(main())
