"""The pandera models, the Arrow schemas derived from them, and the generated data dictionary."""

import pandas as pd
import pandera.errors
import pytest

from schemas.arrow import arrow_schema
from schemas.docs import DOCS_PATH, describe_check, render_data_dictionary
from schemas.tables import TABLE_MODELS

SHA = "ab" * 32
ARTICLE_ID = SHA[:32]
NOW = pd.Timestamp("2024-05-01 12:00:00")

VALID_ROWS: dict[str, dict[str, object]] = {
    "articles": {
        "article_id": ARTICLE_ID,
        "source_uri": "file:///data/000.txt",
        "content_sha256": SHA,
        "publisher": "Reuters",
        "title": "Markets rally after the central bank holds rates",
        "subtitle": None,
        "author": "Jane Roe",
        "published_at": pd.Timestamp("2022-01-07 21:00:00"),
        "published_at_text": "Fri, 01/07/2022 – 21:00",
        "date_confidence": "ambiguous_day_month",
        "updated_at": None,
        "section": None,
        "dateline": "TOKYO",
        "update_note": None,
        "language": "en",
        "body_text": "The ministry said on Tuesday that the rules take effect next month.",
        "word_count": 12,
        "encoding": "utf-8",
        "cleaner_version": "85e5d1a357cd",
        "cleaning_confidence": "high",
        "run_id": "run-1",
        "ingested_at": NOW,
        "story_id": ARTICLE_ID,
        "duplicate_of": None,
        "originality": 0.4,
    },
    "paragraphs": {
        "article_id": ARTICLE_ID,
        "position": 0,
        "kind": "paragraph",
        "text": "The ministry said on Tuesday that the rules take effect next month.",
        "line_number": 4,
    },
    "removed_lines": {
        "article_id": ARTICLE_ID,
        "line_number": 2,
        "text": "Advertisement",
        "rule_id": "ads.advertisement",
        "reason": "advertisement slot label",
    },
    "captions": {
        "article_id": ARTICLE_ID,
        "line_number": 7,
        "text": None,
        "credit": "AFP",
    },
    "quotes": {
        "article_id": ARTICLE_ID,
        "position": 3,
        "text": "There is no coded messaging here",
        "speaker": "Hornung",
    },
    "field_sources": {
        "article_id": ARTICLE_ID,
        "field": "title",
        "line_number": 3,
        "evidence": "Markets rally after the central bank holds rates",
    },
    "quarantine": {
        "source_uri": "file:///data/empty.txt",
        "content_sha256": None,
        "file_size_bytes": 0,
        "stage": "read",
        "check_name": "empty_file",
        "error": "The file is empty; re-export it from the scraper.",
        "failure_case": None,
        "run_id": "run-1",
        "quarantined_at": NOW,
    },
    "runs": {
        "run_id": "run-1",
        "started_at": NOW,
        "finished_at": NOW + pd.Timedelta(seconds=3),
        "status": "succeeded",
        "sources": "seeds",
        "files_seen": 5,
        "articles_landed": 4,
        "files_quarantined": 1,
        "files_skipped": 0,
        "cleaner_version": "85e5d1a357cd",
        "stage_seconds": '{"read": 0.1}',
        "snapshot_id": 7,
    },
    "learned_lines": {
        "source_key": "example.com",
        "line_key": "0123456789abcdef",
        "text": "Home",
        "doc_count": 3,
        "run_id": "run-1",
    },
    "article_sources": {
        "article_id": ARTICLE_ID,
        "source_uri": "file:///data/copy/000.txt",
        "run_id": "run-1",
        "seen_at": NOW,
    },
    "source_files": {
        "source_uri": "file:///data/inbox/000.txt",
        "size_bytes": 4982,
        "modified_ns": 1_795_529_974_167_326_304,
        "content_sha256": "ab" * 32,
        "settled_as": "landed",
        "run_id": "run-1",
    },
    "shared_passages": {
        "article_id": ARTICLE_ID,
        "position": 2,
        "other_article_id": "cd" * 16,
        "other_position": 0,
        "similarity": 0.8,
    },
    "story_signatures": {"article_id": ARTICLE_ID, "kind": "passage", "position": 2, "key": -4242},
}

# (table, column, bad value): each breaks exactly one check.
BROKEN_VALUES = [
    ("articles", "content_sha256", "not-a-sha256"),
    ("articles", "word_count", 0),
    ("paragraphs", "kind", "sidebar"),
    ("removed_lines", "rule_id", "Not A Rule Id"),
    ("source_files", "settled_as", "skipped"),
]


def _frame(table: str, rows: int = 1) -> pd.DataFrame:
    """`rows` valid rows of `table`; ids differ per row so unique checks pass."""
    records = []
    for i in range(rows):
        record = dict(VALID_ROWS[table])
        sha = f"{i:02x}" * 32
        if table == "articles":
            record.update(article_id=sha[:32], content_sha256=sha)
        if table == "runs":
            record.update(run_id=f"run-{i}")
        records.append(record)
    return pd.DataFrame(records)


def test_data_dictionary_is_up_to_date():
    committed = DOCS_PATH.read_text(encoding="utf-8") if DOCS_PATH.exists() else ""
    assert committed == render_data_dictionary(), (
        "docs/tables.md is stale: run `python -m schemas.docs` and commit the result"
    )


def test_data_dictionary_lists_every_column_of_every_table():
    rendered = render_data_dictionary()
    assert "python -m schemas.docs" in rendered
    for table, model in TABLE_MODELS.items():
        assert f"\n## {table}\n" in rendered
        for name in model.to_schema().columns:
            assert f"| `{name}` |" in rendered, f"{table}.{name} missing from the dictionary"


def test_data_dictionary_renders_checks():
    rendered = render_data_dictionary()
    for expected in (
        "| `kind` | VARCHAR | no | isin: paragraph, heading |",
        "| `position` | BIGINT | no | ge 0 |",
        "| `body_text` | VARCHAR | no | str_length min 1 |",
        "| `content_sha256` | VARCHAR | no | unique; str_matches `^[0-9a-f]{64}$` |",
    ):
        assert expected in rendered


def test_describe_check_names_every_check_of_every_column():
    for model in TABLE_MODELS.values():
        for column in model.to_schema().columns.values():
            for check in column.checks:
                assert describe_check(check).startswith(("ge ", "gt ", "le ", "lt ", check.name)), (
                    check
                )


@pytest.mark.parametrize("table", list(TABLE_MODELS))
def test_arrow_schema_matches_model(table):
    columns = TABLE_MODELS[table].to_schema().columns
    schema = arrow_schema(table)
    assert schema.names == list(columns)
    assert {field.name: field.nullable for field in schema} == {
        name: column.nullable for name, column in columns.items()
    }


@pytest.mark.parametrize("table", list(TABLE_MODELS))
def test_every_column_has_a_description(table):
    columns = TABLE_MODELS[table].to_schema().columns
    missing = [name for name, column in columns.items() if not (column.description or "").strip()]
    assert missing == []


@pytest.mark.parametrize("table", list(TABLE_MODELS))
def test_valid_row_passes(table):
    frame = _frame(table)
    validated = TABLE_MODELS[table].validate(frame, lazy=True)
    assert list(validated.columns) == list(TABLE_MODELS[table].to_schema().columns)
    assert len(validated) == 1


@pytest.mark.parametrize(
    ("table", "column", "bad_value"),
    BROKEN_VALUES,
    ids=[f"{table}.{column}" for table, column, _ in BROKEN_VALUES],
)
def test_broken_row_fails_naming_column_and_row(table, column, bad_value):
    frame = _frame(table, rows=3)
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = bad_value
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        TABLE_MODELS[table].validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases["column"]) == {column}
    assert cases["index"].tolist() == [1]
    assert str(bad_value) in cases["failure_case"].astype(str).tolist()


def test_unique_columns_report_every_repeated_row():
    frame = pd.DataFrame([VALID_ROWS["articles"]] * 2)
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        TABLE_MODELS["articles"].validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases["column"]) == {"article_id", "content_sha256"}
    assert set(cases["index"]) == {0, 1}


def test_unknown_column_is_rejected():
    frame = _frame("paragraphs").assign(extra="x")
    with pytest.raises(pandera.errors.SchemaErrors, match="extra"):
        TABLE_MODELS["paragraphs"].validate(frame, lazy=True)
