"""The compiled cleaner: used only when built from the current sources, and cleans as the
source does (tasks/clean/native.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EVAL_DEV, REPO, SEEDS

import tasks.clean
from tasks.clean import native
from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.read.engine import normalize_text
from tasks.settings import Settings

# Cleans every page given on the command line; prints one JSON list of decisions per page.
_CLEAN_PAGES = """
import json, sys
from dataclasses import astuple
from tasks.clean import native
from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.rules import load_rules
from tasks.read.engine import normalize_text
from tasks.settings import Settings
rules, settings = load_rules(known_detectors=KNOWN_DETECTORS), Settings()
pages = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as page:
        cleaned = clean_text(normalize_text(page.read()), rules, settings)
    pages.append([cleaned.confidence, [list(astuple(line)) for line in cleaned.lines]])
print(json.dumps({"compiled": native.running_compiled(), "pages": pages}))
"""


def _record(tmp_path: Path, **changes: str) -> Path:
    record = {
        module: native.source_digest(native.source_path(module))
        for module in native.COMPILED_MODULES
    }
    record.update(changes)
    path = tmp_path / "native_build.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_a_record_of_the_current_sources_is_compiled(tmp_path, monkeypatch):
    monkeypatch.delenv(native.PURE_PYTHON_ENV, raising=False)
    assert native.build_state(_record(tmp_path)) == "compiled"


def test_an_edited_source_makes_the_build_stale(tmp_path, monkeypatch):
    monkeypatch.delenv(native.PURE_PYTHON_ENV, raising=False)
    edited = {native.COMPILED_MODULES[1]: "0" * 64}
    assert native.build_state(_record(tmp_path, **edited)) == "stale"


def test_no_record_means_not_built(tmp_path, monkeypatch):
    monkeypatch.delenv(native.PURE_PYTHON_ENV, raising=False)
    assert native.build_state(tmp_path / "missing.json") == "not built"
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert native.build_state(tmp_path / "broken.json") == "not built"


def test_pure_python_can_be_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv(native.PURE_PYTHON_ENV, "1")
    assert native.build_state(_record(tmp_path)) == "disabled"


def test_source_first_finder_finds_only_the_compiled_modules_sources():
    finder = native._SourceFirst()
    spec = finder.find_spec("tasks.clean.engine")
    assert spec is not None
    assert spec.origin == str(REPO / "tasks" / "clean" / "engine.py")
    assert finder.find_spec("tasks.clean.learned") is None
    assert finder.find_spec("json") is None


def test_the_engine_in_use_matches_the_build_state():
    """Compiled modules run exactly when the build is fresh; otherwise every one is source."""
    compiled = tasks.clean.BUILD_STATE == "compiled"
    assert native.running_compiled() is compiled
    for module in native.COMPILED_MODULES:
        origin = sys.modules[module].__file__ if module in sys.modules else None
        if origin is not None:
            assert origin.endswith(".py") is not compiled, module


def _pages() -> list[Path]:
    pages = sorted(SEEDS.glob("*.txt"))
    if EVAL_DEV.is_dir():
        pages += sorted(p for p in EVAL_DEV.glob("*.txt") if not p.name.endswith(".gold.txt"))
    return pages


def _clean_in_subprocess(pages: list[Path], pure: bool) -> dict:
    env = {**os.environ, native.PURE_PYTHON_ENV: "1" if pure else ""}
    done = subprocess.run(
        [sys.executable, "-c", _CLEAN_PAGES, *map(str, pages)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(
    tasks.clean.BUILD_STATE != "compiled",
    reason=f"the cleaner is not compiled here ({tasks.clean.BUILD_STATE}): `make setup` builds it",
)
def test_compiled_cleaner_decides_every_line_as_the_source_does():
    pages = _pages()
    compiled = _clean_in_subprocess(pages, pure=False)
    source = _clean_in_subprocess(pages, pure=True)
    assert compiled["compiled"] is True
    assert source["compiled"] is False
    assert len(compiled["pages"]) == len(pages)
    for path, ours, theirs in zip(pages, compiled["pages"], source["pages"], strict=True):
        assert ours == theirs, path.name


def test_cleaning_in_this_process_matches_a_fresh_process():
    """The in-process cleaner (compiled or not) agrees with a new process of the same build."""
    pages = sorted(SEEDS.glob("*.txt"))
    rules, settings = load_rules(known_detectors=KNOWN_DETECTORS), Settings()
    here = [
        [line.role for line in clean_text(normalize_text(p.read_text()), rules, settings).lines]
        for p in pages
    ]
    there = _clean_in_subprocess(pages, pure=tasks.clean.BUILD_STATE != "compiled")
    assert [[line[3] for line in lines] for _conf, lines in there["pages"]] == here
