"""The flow process keeps nothing per file or per article that grows with the corpus (issue 7):
no Prefect link per listed file, in-run article ids as 16-byte digests."""

import gc
import tracemalloc

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext

from flows import progress
from flows.ingest import _results_unlinked
from flows.summary import SeenKeys


def test_seen_keys_report_repeats_of_earlier_adds():
    seen = SeenKeys()
    assert seen.add(["a", "b", "b"]) == set()
    assert seen.add(["b", "c", "a"]) == {"a", "b"}
    assert seen.add(["d", "c"]) == {"c"}
    assert seen.add([]) == set()
    assert len(seen) == 4


def test_seen_keys_keep_16_bytes_a_key_not_the_strings():
    seen = SeenKeys()
    gc.collect()
    tracemalloc.start()
    try:
        for batch in range(20):
            # New strings each batch, as a batch's article ids are: a set would keep them all
            # (about 120 bytes a key, 2.3 MB here).
            seen.add([f"{batch:08d}{row:024x}" for row in range(1000)])
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == 20_000
    assert kept < 20_000 * 16 + 200_000


@task(cache_policy=NONE, cache_result_in_memory=False)
def _listing(count: int) -> list[int]:
    return list(range(1000, 1000 + count))


def test_results_unlinked_drops_prefect_links_to_the_items_of_a_result(prefect_harness):
    @flow
    def three_listings() -> tuple[int, int, int]:
        links = FlowRunContext.get().run_results
        before = len(links)
        kept = _listing(500)
        linked = len(links) - before
        with _results_unlinked():
            unlinked = _listing(500)
        after_unlinked = len(links) - before - linked
        relinked = _listing(500)
        after_block = len(links) - before - linked - after_unlinked
        assert len({id(kept), id(unlinked), id(relinked)}) == 3  # all alive: no id was reused
        return linked, after_unlinked, after_block

    linked, after_unlinked, after_block = three_listings()
    assert linked > 500, "Prefect links each item of a task's list result to the task run"
    assert after_unlinked == 0
    assert after_block == linked, "links are made again after the block"


class _LinksAtStart:
    """A progress sink that records how many task-result links the flow holds after listing."""

    def __init__(self) -> None:
        self.links: int | None = None

    def start(self, total_files: int) -> None:
        self.links = len(FlowRunContext.get().run_results)

    def advance(self, files: int) -> None:
        pass

    def finish(self) -> None:
        pass


def test_an_ingest_run_keeps_no_link_per_listed_file(tmp_path, prefect_harness):
    from flows.ingest import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = 60
    for number in range(files):  # empty files: listed, then quarantined without cleaning
        (corpus / f"{number:03d}.txt").write_bytes(b"")
    sink = _LinksAtStart()
    with progress.reporting(sink):
        summary = ingest(sources=[str(corpus)], warehouse=str(tmp_path / "warehouse"))
    assert summary.files_seen == files
    assert sink.links is not None
    assert sink.links < 10, f"{sink.links} links to task results after listing {files} files"
