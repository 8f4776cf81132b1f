"""Fuzzed inputs through the whole flow: no crash, every file accounted for."""

import codecs

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.lake import connect

ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig")
texts = st.text(alphabet=st.characters(codec="utf-16", exclude_categories=("Cs",)), max_size=400)
encoded = st.builds(
    lambda text, encoding: text.encode(encoding, errors="replace"),
    st.one_of(texts, st.just("Headline\n\n" + "A sentence that reads like prose. " * 12)),
    st.sampled_from(ENCODINGS),
)
inputs = st.lists(
    st.one_of(st.binary(max_size=400), encoded, st.just(codecs.BOM_UTF8)), min_size=1, max_size=4
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(contents=inputs)
def test_arbitrary_bytes_never_crash_a_run_and_every_file_is_accounted_for(
    contents, tmp_path_factory, prefect_harness
):
    from flows.ingest import ingest

    root = tmp_path_factory.mktemp("fuzz")
    inbox = root / "inbox"
    inbox.mkdir()
    for index, content in enumerate(contents):
        (inbox / f"{index:02d}.txt").write_bytes(content)
    summary = ingest(sources=[str(inbox)], warehouse=str(root / "wh"))
    assert summary.status == "succeeded"
    assert summary.files_seen == len(contents)
    assert summary.files_seen == (
        summary.articles_landed + summary.files_quarantined + summary.files_skipped
    )
    connection = connect(root / "wh", read_only=True)
    try:
        landed = connection.execute("select count(*) from articles").fetchone()[0]
        quarantined = connection.execute("select count(*) from quarantine").fetchone()[0]
        runs = connection.execute("select files_seen, files_skipped from runs").fetchall()
    finally:
        connection.close()
    assert (landed, quarantined) == (summary.articles_landed, summary.files_quarantined)
    assert runs == [(len(contents), summary.files_skipped)]
