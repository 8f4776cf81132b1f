"""Incremental runs skip files unchanged since an earlier run without reading them."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SEEDS
from conftest import query_warehouse as _query

from schemas.tables import SourceFiles
from tasks.clean.engine import KNOWN_DETECTORS
from tasks.clean.rules import load_rules
from tasks.documents import SourceFile
from tasks.keysets import KeySet
from tasks.process.engine import RunContext, process_batch, with_settled_files
from tasks.read.engine import SourceListing, _object_modified_ns, file_state, list_sources
from tasks.settings import Settings
from tasks.validate.engine import validate_batch

RULES = load_rules(known_detectors=KNOWN_DETECTORS)
CONTEXT = RunContext(run_id="run-1", ingested_at=datetime(2026, 1, 1), cleaner_version="test")


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    shutil.copytree(SEEDS, inbox)
    return inbox


def _state(path: Path) -> tuple[str, str, str]:
    status = path.stat()
    return file_state(path.as_uri(), status.st_size, status.st_mtime_ns)


def test_listing_carries_each_files_size_and_modification_time(tmp_path):
    inbox = _inbox(tmp_path)
    files = list_sources([inbox]).batch(0, 10)
    assert len(files) == 5
    for source in files:
        status = source.path.stat()
        assert (source.size_bytes, source.modified_ns) == (status.st_size, status.st_mtime_ns)


def test_without_settled_leaves_out_landed_and_quarantined_states_only(tmp_path):
    inbox = _inbox(tmp_path)
    paths = sorted(inbox.iterdir())
    landed = KeySet([_state(paths[0]), _state(paths[1])])
    quarantined = KeySet([_state(paths[2])])
    # Same path and size, another modification time: changed, so read again.
    stale = KeySet([file_state(paths[3].as_uri(), paths[3].stat().st_size, 1)])
    listing = list_sources([inbox])

    kept, landed_count, quarantined_count = listing.without_settled(landed, quarantined)
    assert (landed_count, quarantined_count) == (2, 1)
    assert [source.path for source in kept.batch(0, 10)] == paths[3:]

    kept, landed_count, quarantined_count = listing.without_settled(stale, KeySet())
    assert (len(kept), landed_count, quarantined_count) == (5, 0, 0)


def test_a_file_without_a_listed_modification_time_is_always_read(tmp_path):
    inbox = _inbox(tmp_path)
    path = sorted(inbox.iterdir())[0]
    listing = SourceListing([SourceFile(path, path.as_uri(), path.stat().st_size)])
    kept, landed_count, _ = listing.without_settled(KeySet([_state(path)]), KeySet())
    assert (len(kept), landed_count) == (1, 0)


def test_object_listings_give_modification_times_in_nanoseconds():
    moment = datetime(2026, 11, 25, 6, 0, 1, 250_000, tzinfo=UTC)
    expected = int(moment.timestamp()) * 10**9 + 250_000_000
    assert _object_modified_ns({"LastModified": moment}) == expected
    assert _object_modified_ns({"mtime": moment.timestamp()}) == expected
    assert _object_modified_ns({"size": 3}) is None


def test_settled_rows_say_landed_or_quarantined_for_each_file_read(tmp_path):
    inbox = _inbox(tmp_path)
    (inbox / "empty.txt").write_bytes(b"")
    sources = list_sources([inbox]).batch(0, 10)
    unlisted_time = SourceFile(sources[0].path, sources[0].source_uri + "#copy", 1)
    batch = [*sources, unlisted_time]
    result = process_batch(batch, RULES, Settings(), CONTEXT)
    result = with_settled_files(validate_batch(result, CONTEXT), batch, CONTEXT)
    rows = result.tables["source_files"]
    SourceFiles.validate(rows.to_pandas())
    uris, outcomes = (rows.column(name).to_pylist() for name in ("source_uri", "settled_as"))
    settled = dict(zip(uris, outcomes, strict=True))
    assert settled.pop((inbox / "empty.txt").as_uri()) == "quarantined"
    assert sorted(settled) == sorted(
        source.source_uri for source in sources if source.path.name != "empty.txt"
    )
    assert set(settled.values()) == {"landed"}
    assert unlisted_time.source_uri not in settled
    assert result.digests == {}, "the digests are not shipped back to the flow"


@pytest.fixture
def ingest(prefect_harness):
    from flows.ingest import ingest

    return ingest


def test_a_rerun_reads_only_new_and_changed_files(tmp_path, ingest):
    inbox = _inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert (first.articles_landed, first.files_unread) == (5, 0)

    paths = sorted(inbox.iterdir())
    touched = paths[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    changed = paths[1]
    changed.write_text(changed.read_text() + "\nOne more paragraph of the story, added later.\n")
    (inbox / "new.txt").write_text((SEEDS / paths[2].name).read_text() + "\nA new ending.\n")

    second = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert second.files_seen == 6
    assert second.files_unread == 3, "three files kept their path, size and time"
    assert second.articles_landed == 2, "the changed and the new file land"
    assert second.files_skipped == 4, "the touched file is read, and its content is landed"
    assert second.files_seen == second.articles_landed + second.files_skipped

    third = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert (third.files_seen, third.files_unread, third.articles_landed) == (6, 6, 0)
    assert "read_clean_extract" not in third.stage_seconds, "no batch ran"

    states = _query(warehouse, "select count(*), count(distinct source_uri) from source_files")
    assert states == [(8, 6)], "one row per state: 5 first, then touched, changed and new"
    articles = _query(warehouse, "select count(*) from articles")
    assert articles == [(7,)]


def test_read_unchanged_and_retry_quarantined_read_files_again(tmp_path, ingest):
    inbox = _inbox(tmp_path)
    (inbox / "empty.txt").write_bytes(b"")
    warehouse = tmp_path / "warehouse"
    first = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert (first.articles_landed, first.files_quarantined) == (5, 1)

    again = ingest(sources=[str(inbox)], warehouse=str(warehouse))
    assert again.files_unread == 6

    read_all = ingest(sources=[str(inbox)], warehouse=str(warehouse), read_unchanged=True)
    assert (read_all.files_unread, read_all.files_skipped, read_all.articles_landed) == (0, 6, 0)

    retry = ingest(sources=[str(inbox)], warehouse=str(warehouse), retry_quarantined=True)
    assert retry.files_unread == 5, "the landed files stay unread"
    assert retry.files_quarantined == 1, "the quarantined file is read and checked again"


def test_a_repeat_of_content_that_validation_quarantined_is_not_recorded(tmp_path):
    """Both paths share content; validation quarantines the article of the first. The second
    path was skipped as a repeat, so neither landed nor quarantined: read it next run."""
    import pyarrow as pa

    from schemas.arrow import arrow_schema

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    seed = sorted(SEEDS.iterdir())[0]
    for name in ("a.txt", "b.txt"):
        shutil.copy(seed, inbox / name)
    first, second = list_sources([inbox]).batch(0, 2)
    result = process_batch([first, second], RULES, Settings(), CONTEXT)
    assert result.tables["articles"].num_rows == 1
    assert result.skipped == [(second.source_uri, "content already landed")]
    digest = result.tables["articles"].column("content_sha256")[0].as_py()
    row = dict.fromkeys(arrow_schema("quarantine").names)
    row |= {
        "source_uri": first.source_uri,
        "content_sha256": digest,
        "stage": "validate",
        "check_name": "articles.title:str_length",
        "error": "made to fail",
        "run_id": CONTEXT.run_id,
        "quarantined_at": CONTEXT.ingested_at,
    }
    result.tables["articles"] = result.tables["articles"].slice(0, 0)
    result.tables["quarantine"] = pa.Table.from_pylist([row], schema=arrow_schema("quarantine"))

    rows = with_settled_files(result, [first, second], CONTEXT).tables["source_files"].to_pylist()
    assert [(row["source_uri"], row["settled_as"]) for row in rows] == [
        (first.source_uri, "quarantined")
    ]
