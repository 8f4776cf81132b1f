"""Validation: a row that breaks its contract quarantines its whole article, with the reason."""

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from conftest import SEEDS

from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.process.engine import RunContext, process_batch
from tasks.read.engine import discover_files
from tasks.settings import Settings
from tasks.validate.engine import validate_tables

CONTEXT = RunContext(run_id="test-run", ingested_at=datetime(2026, 1, 1), cleaner_version="t")


def _seed_tables() -> dict[str, pa.Table]:
    rules = load_rules(known_detectors=KNOWN_DETECTORS)
    return process_batch(discover_files([SEEDS]), rules, Settings(), CONTEXT).tables


def test_valid_tables_pass_unchanged():
    tables = _seed_tables()
    valid, failures = validate_tables(tables, CONTEXT)
    assert failures == []
    assert valid["articles"].num_rows == 5
    assert valid["quarantine"].num_rows == 0


def test_failing_row_quarantines_its_whole_article():
    tables = _seed_tables()
    articles = tables["articles"]
    bad_id = articles.column("article_id")[1].as_py()
    languages = articles.column("language").to_pylist()
    languages[1] = "english"  # breaks the ISO 639-1 check
    index = articles.schema.get_field_index("language")
    tables["articles"] = articles.set_column(index, "language", pa.array(languages))
    valid, failures = validate_tables(tables, CONTEXT)
    assert [failure.article_id for failure in failures] == [bad_id]
    for table in ("articles", "paragraphs", "removed_lines", "captions"):
        remaining = valid[table].column("article_id")
        assert not pc.any(pc.equal(remaining, bad_id)).as_py(), table
    assert valid["articles"].num_rows == 4
    quarantine = valid["quarantine"].to_pylist()
    assert len(quarantine) == 1
    assert quarantine[0]["stage"] == "validate"
    assert quarantine[0]["check_name"].startswith("articles.language:")
    assert quarantine[0]["failure_case"] == "english"
    assert quarantine[0]["content_sha256"].startswith(bad_id)


def test_validate_batch_counts_failures_and_keeps_the_rest():
    from tasks.process.engine import BatchResult
    from tasks.validate.engine import validate_batch

    tables = _seed_tables()
    articles = tables["articles"]
    words = articles.column("word_count").to_pylist()
    words[0] = 0  # breaks ge=1
    index = articles.schema.get_field_index("word_count")
    tables["articles"] = articles.set_column(index, "word_count", pa.array(words))
    result = validate_batch(BatchResult(tables=tables, files_seen=5), CONTEXT)
    assert result.row_failures == 1
    assert result.tables["articles"].num_rows == 4
    assert result.tables["quarantine"].num_rows == 1
