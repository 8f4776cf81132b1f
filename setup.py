"""Build news-etl, compiling the cleaner's hot modules with mypyc where a C compiler is found.

The list of modules and the meaning of the build record live in tasks/clean/native.py. Without
mypyc or a compiler, or with NEWS_ETL_PURE_PYTHON=1, the package installs as pure Python.
"""

import json
import os
import sys
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _native():
    """tasks/clean/native.py, loaded by path: building must not import the package."""
    spec = spec_from_file_location("news_etl_native", ROOT / "tasks" / "clean" / "native.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NATIVE = _native()


class BuildAndRecord(build_ext):
    """build_ext, then the build record beside the extension modules when all of them built."""

    def run(self) -> None:
        super().run()
        built = [Path(self.get_ext_fullpath(extension.name)) for extension in self.extensions]
        if not built or not all(path.exists() for path in built):
            print("news-etl: the cleaner was not compiled; it runs as Python", file=sys.stderr)
            return
        record = {
            module: NATIVE.source_digest(NATIVE.source_path(module))
            for module in NATIVE.COMPILED_MODULES
        }
        engine = Path(self.get_ext_fullpath(NATIVE.COMPILED_MODULES[0]))
        target = engine.parent / NATIVE.BUILD_RECORD.name
        target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _extensions() -> list:
    if os.environ.get(NATIVE.PURE_PYTHON_ENV, "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("news-etl: mypyc not found; the cleaner runs as Python", file=sys.stderr)
        return []
    sources = [
        str(NATIVE.source_path(module).relative_to(ROOT)) for module in NATIVE.COMPILED_MODULES
    ]
    # Type errors stop the build: the compiled modules must pass mypy as mypyc reads them.
    extensions = mypycify(
        ["--ignore-missing-imports", "--follow-imports=silent", *sources],
        opt_level="3",
        group_name="news_etl_cleaner",
    )
    for extension in extensions:
        extension.optional = True  # no compiler: install as Python rather than fail
    return extensions


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildAndRecord})
