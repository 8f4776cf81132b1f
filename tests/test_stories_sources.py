"""Exact duplicates: the same content at a second path is one article with two sources."""

import hashlib
import shutil
from datetime import datetime

import pyarrow as pa
import pytest
from conftest import SEEDS

from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.process.engine import (
    RunContext,
    article_id_for,
    drop_repeated_articles,
    merge_batches,
    process_batch,
)
from tasks.read.engine import discover_files
from tasks.settings import Settings
from tasks.validate.engine import validate_tables

SEED_FILES = sorted(SEEDS.glob("*.txt"))
RULES = load_rules(known_detectors=KNOWN_DETECTORS)
CONTEXT = RunContext(run_id="run-1", ingested_at=datetime(2026, 1, 1), cleaner_version="t")


@pytest.fixture
def inbox(tmp_path):
    """Two seeds, the first also copied to a second folder under another name."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(SEED_FILES[0], tmp_path / "a" / "story.txt")
    shutil.copy(SEED_FILES[0], tmp_path / "b" / "same-story.txt")
    shutil.copy(SEED_FILES[1], tmp_path / "a" / "other.txt")
    return tmp_path


def _sources(rows: pa.Table) -> set[tuple[str, str]]:
    """(article_id, folder/file) of each source row."""
    return {
        (row["article_id"], "/".join(row["source_uri"].rsplit("/", 2)[-2:]))
        for row in rows.to_pylist()
    }


def _accounted(result) -> bool:
    tables = result.tables
    landed, quarantined = tables["articles"].num_rows, tables["quarantine"].num_rows
    return result.files_seen == landed + quarantined + result.files_skipped


def test_a_second_path_of_the_same_content_is_a_source_not_an_article(inbox):
    result = process_batch(discover_files([inbox]), RULES, Settings(), CONTEXT)
    first = article_id_for(hashlib.sha256(SEED_FILES[0].read_bytes()).hexdigest())
    assert result.tables["articles"].num_rows == 2
    assert result.files_skipped == 1
    assert _accounted(result)
    sources = _sources(result.tables["article_sources"])
    assert (first, "a/story.txt") in sources
    assert (first, "b/same-story.txt") in sources
    assert len(sources) == 3, "one row per path: two for the repeated article, one for the other"
    assert set(result.tables["article_sources"].column("run_id").to_pylist()) == {"run-1"}


def test_a_later_run_records_new_paths_only(inbox):
    first_run = process_batch(discover_files([inbox / "a"]), RULES, Settings(), CONTEXT)
    landed = first_run.tables["articles"]
    hashes = frozenset(landed.column("content_sha256").to_pylist())
    recorded = frozenset(
        zip(landed.column("article_id").to_pylist(), landed.column("source_uri").to_pylist(),
            strict=True)
    )  # fmt: skip
    later = RunContext(
        run_id="run-2",
        ingested_at=datetime(2026, 1, 2),
        cleaner_version="t",
        landed_hashes=hashes,
        landed_sources=recorded,
    )
    second_run = process_batch(discover_files([inbox]), RULES, Settings(), later)
    assert second_run.tables["articles"].num_rows == 0
    assert second_run.files_skipped == 3
    assert _accounted(second_run)
    rows = second_run.tables["article_sources"].to_pylist()
    assert [(row["source_uri"].rsplit("/", 1)[-1], row["run_id"]) for row in rows] == [
        ("same-story.txt", "run-2")
    ]
    # Re-ingesting the same paths again adds nothing.
    recorded |= {(row["article_id"], row["source_uri"]) for row in rows}
    third = process_batch(
        discover_files([inbox]), RULES, Settings(),
        RunContext(run_id="run-3", ingested_at=datetime(2026, 1, 3), cleaner_version="t",
                   landed_hashes=hashes, landed_sources=recorded),
    )  # fmt: skip
    assert third.tables["article_sources"].num_rows == 0
    assert _accounted(third)


def test_without_loaded_sources_no_path_of_earlier_content_is_recorded(inbox):
    landed = process_batch(discover_files([inbox / "a"]), RULES, Settings(), CONTEXT)
    context = RunContext(
        run_id="run-2",
        ingested_at=datetime(2026, 1, 2),
        cleaner_version="t",
        landed_hashes=frozenset(landed.tables["articles"].column("content_sha256").to_pylist()),
    )
    result = process_batch(discover_files([inbox]), RULES, Settings(), context)
    assert result.tables["article_sources"].num_rows == 0
    assert _accounted(result)


def test_content_repeated_in_a_later_batch_keeps_its_new_path(inbox):
    files = discover_files([inbox])
    batches = [process_batch([path], RULES, Settings(), CONTEXT) for path in files]
    merged = merge_batches(batches)
    assert merged.tables["articles"].num_rows == 2
    assert merged.files_seen == 3
    assert merged.files_seen == 2 + merged.tables["quarantine"].num_rows + merged.files_skipped
    assert len(_sources(merged.tables["article_sources"])) == 3
    repeated = {merged.tables["articles"].column("article_id")[0].as_py()}
    kept = drop_repeated_articles(batches[0].tables, repeated)
    assert kept["articles"].num_rows == 0 or repeated.isdisjoint(
        kept["articles"].column("article_id").to_pylist()
    )
    assert kept["article_sources"].num_rows == batches[0].tables["article_sources"].num_rows


def test_an_article_that_fails_validation_takes_its_sources_with_it(inbox):
    tables = process_batch(discover_files([inbox]), RULES, Settings(), CONTEXT).tables
    articles = tables["articles"]
    words = articles.column("word_count").to_pylist()
    words[0] = 0  # breaks ge=1
    index = articles.schema.get_field_index("word_count")
    tables["articles"] = articles.set_column(index, "word_count", pa.array(words))
    failed = articles.column("article_id")[0].as_py()
    valid, failures = validate_tables(tables, CONTEXT)
    assert [failure.article_id for failure in failures] == [failed]
    assert failed not in valid["article_sources"].column("article_id").to_pylist()
    assert valid["article_sources"].num_rows == len(_sources(tables["article_sources"])) - (
        sum(row["article_id"] == failed for row in tables["article_sources"].to_pylist())
    )
