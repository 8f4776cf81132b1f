"""The cleaner's compiled modules: whether they are in use, and source when they are stale.

Building the package (setup.py, run by `make setup`) compiles COMPILED_MODULES with mypyc into
extension modules beside their sources and records each source's SHA-256 in BUILD_RECORD. An
extension module shadows its .py, so one built before the .py was last edited would run old
code: on import of `tasks.clean`, `use_fresh_modules` loads all of them from source unless every
source matches the record (or when NEWS_ETL_PURE_PYTHON=1 asks for source). All or none: the
compiled modules call each other's classes directly and cannot mix with interpreted ones.

Stdlib only, and never compiled itself: setup.py reads COMPILED_MODULES from this file.
"""

import hashlib
import json
import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path

COMPILED_MODULES = (
    "tasks.clean.engine",
    "tasks.clean.stopwords",
    "tasks.clean.words",
)
PURE_PYTHON_ENV = "NEWS_ETL_PURE_PYTHON"
BUILD_RECORD = Path(__file__).with_name("native_build.json")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def source_path(module: str) -> Path:
    return _PROJECT_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_state(record_path: Path = BUILD_RECORD) -> str:
    """'compiled': every module was built from the source it has now; 'stale': a source was
    edited since the build; 'not built': no build record (no compiler, or a source install);
    'disabled': NEWS_ETL_PURE_PYTHON=1."""
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return "disabled"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "not built"
    for module in COMPILED_MODULES:
        if record.get(module) != source_digest(source_path(module)):
            return "stale"
    return "compiled"


def running_compiled() -> bool:
    """Whether the imported cleaner engine is the compiled one."""
    engine = sys.modules.get("tasks.clean.engine")
    origin = getattr(engine, "__file__", None) or ""
    return any(origin.endswith(suffix) for suffix in EXTENSION_SUFFIXES)


class _SourceFirst(MetaPathFinder):
    """Finds COMPILED_MODULES as their .py sources, ahead of any extension module."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name not in COMPILED_MODULES:
            return None
        return spec_from_file_location(name, source_path(name))


def use_fresh_modules() -> str:
    """Load the compiled modules from source unless they are all fresh; returns build_state()."""
    state = build_state()
    if state != "compiled" and not any(isinstance(f, _SourceFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst())
    return state
