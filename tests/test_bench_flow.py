"""bench/bench_flow.py's flow process RSS curve (a script, loaded by path)."""

import importlib.util

from conftest import REPO

_SPEC = importlib.util.spec_from_file_location("bench_flow", REPO / "bench" / "bench_flow.py")
bench_flow = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_flow)

MIB = 2**20


def test_rss_curve_gives_min_and_max_per_slice_of_the_run():
    # 10 s of samples, 1 s apart: RSS 100 MiB for the first half, then 300 with one 500 peak.
    samples = [(float(second), 100 * MIB) for second in range(5)]
    samples += [(float(second), (500 if second == 7 else 300) * MIB) for second in range(5, 11)]
    curve = bench_flow.rss_curve(samples, parts=2)
    assert curve == [(5.0, 100.0, 100.0), (10.0, 300.0, 500.0)]


def test_rss_curve_skips_empty_slices_and_empty_runs():
    assert bench_flow.rss_curve([]) == []
    curve = bench_flow.rss_curve([(0.0, MIB), (10.0, 2 * MIB)], parts=4)
    assert [(end, low, high) for end, low, high in curve] == [(2.5, 1.0, 1.0), (10.0, 2.0, 2.0)]
