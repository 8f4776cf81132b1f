"""Run settings: one frozen object, loaded when a flow starts (never at import)."""

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_WAREHOUSE = Path("warehouse_data")


@dataclass(frozen=True, slots=True)
class Settings:
    """Knobs of a run. Override any field with the environment variable NEWS_ETL_<FIELD>."""

    warehouse: Path = DEFAULT_WAREHOUSE
    # Catalog kind of a new warehouse: "duckdb" (one process at a time) or "sqlite" (several
    # local processes attach at once); empty means duckdb. A warehouse keeps the kind it was
    # created with, and asking an existing one for another kind is an error.
    catalog: str = ""
    batch_size: int = 1000
    max_file_bytes: int = 5_000_000
    # Objects (s3:// and other fsspec URLs) of one batch are fetched by this many threads.
    object_read_threads: int = 16
    # A file whose decoded text has more than this share of control characters is binary.
    max_control_char_ratio: float = 0.01
    # Lines with at least this many words and a sentence ending count as prose.
    prose_min_words: int = 10
    # Fragments outside the body with at most this many words are removed as layout debris.
    fragment_max_words: int = 4
    # Weight of a non-sentence line against the article block around it (see main_block).
    block_gap_penalty: float = 4.0
    # A list announced by a sentence ending in ':' keeps at most this many items.
    list_max_items: int = 60
    # Learned boilerplate: a short line (at most this many words) seen on at least
    # learned_min_docs pages of one source is removed from that source's pages.
    learned_max_words: int = 12
    learned_min_docs: int = 3
    # A body with fewer prose words than this is flagged cleaning_confidence='low'.
    confident_prose_words: int = 60
    # When nothing is kept, the longest shape-removed line comes back if it has this many words.
    fallback_min_words: int = 8
    # Headline-like lines (title, dek, subheading) have at most this many words.
    headline_max_words: int = 30
    # Bodies with fewer words than this are not identified for language.
    language_min_words: int = 5
    language_sample_chars: int = 600
    # Processes that run batches (runner local or a Dask LocalCluster); 0 means one per core.
    workers: int = 0
    # The local runner starts worker processes only for runs of at least this many files
    # (each process takes seconds to start); smaller runs use one thread in the flow process.
    parallel_min_files: int = 2000
    # Stories (docs/stories.md). A body is a near duplicate of an earlier one when their
    # sampled word 4-grams have at least this Jaccard similarity, or the shorter (at least half
    # the longer's length) is contained in the other at least this much.
    near_duplicate_threshold: float = 0.75
    # Two paragraphs share a passage when this share of the shorter one's sample is in both.
    passage_similarity_threshold: float = 0.5
    # Dated articles more than this many days from every dated article of a story stay apart.
    story_window_days: float = 3.0
    # The story index (memory) holds articles landed in this many days before the latest
    # landing; older stories take no new articles. 0 keeps every article.
    story_index_days: float = 60.0
    # Within a run the index holds at most 1.25 times this many articles (1-2 KB each): past
    # that, it forgets the oldest-inserted down to this many, so a run's memory does not grow
    # with its size. An article whose story is only in forgotten articles starts a new one:
    # keep it above what a feed lands in a few days (50,000: 15,000 a day for 3 days and
    # more). 0: no bound. See docs/stories.md.
    story_index_max_articles: int = 50_000


def load_settings(**overrides: object) -> Settings:
    """Defaults, then NEWS_ETL_* environment variables, then explicit overrides."""
    defaults = Settings()
    values: dict[str, object] = {}
    for spec in fields(Settings):
        raw = os.environ.get(f"NEWS_ETL_{spec.name.upper()}")
        if raw is None:
            continue
        default = getattr(defaults, spec.name)
        values[spec.name] = Path(raw) if spec.name == "warehouse" else type(default)(raw)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return replace(Settings(), **values)
