"""KeySet: the compact set of landed keys every batch gets, and the per-batch contexts."""

import hashlib
import pickle
from datetime import datetime
from pathlib import Path

from flows.ingest import _batch_contexts
from tasks.documents import SourceFile
from tasks.keysets import KeySet
from tasks.process.engine import RunContext

HASHES = [hashlib.sha256(str(number).encode()).hexdigest() for number in range(2000)]


def test_a_key_set_holds_exactly_its_keys_after_pickling():
    keys = KeySet(HASHES[:1000])
    copy = pickle.loads(pickle.dumps(keys))
    assert len(copy) == 1000
    assert all(digest in copy for digest in HASHES[:1000])
    assert not any(digest in copy for digest in HASHES[1000:])
    assert 42 not in copy


def test_tuple_keys_match_whole_tuples_only():
    keys = KeySet([("file:///a.txt", "abc"), ("file:///b.txt", "def")])
    assert ("file:///a.txt", "abc") in keys
    assert ("file:///a.txt", "def") not in keys
    assert "file:///a.txt" not in keys
    assert len(KeySet()) == 0
    assert ("x", "y") not in KeySet()


def test_a_key_set_pickles_smaller_than_the_strings():
    assert len(pickle.dumps(KeySet(HASHES))) < len(pickle.dumps(frozenset(HASHES))) / 3


def _source(path: str) -> SourceFile:
    return SourceFile(path=Path(path), source_uri=f"file://{path}", size_bytes=1)


def test_each_batch_gets_the_learned_counts_of_its_own_sources_only():
    context = RunContext(run_id="r", ingested_at=datetime(2026, 1, 1), cleaner_version="t")
    prior = {("/site-a", "k1"): 3, ("/site-a", "k2"): 1, ("/site-b", "k1"): 5}
    context_for = _batch_contexts(context, prior)
    batch_a = context_for([_source("/site-a/1.txt"), _source("/site-a/2.txt")])
    assert batch_a.prior_line_counts == {("/site-a", "k1"): 3, ("/site-a", "k2"): 1}
    both = context_for([_source("/site-a/1.txt"), _source("/site-b/9.txt")])
    assert both.prior_line_counts == prior
    assert context_for([_source("/site-c/1.txt")]).prior_line_counts == {}
    assert batch_a.run_id == "r"
