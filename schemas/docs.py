"""Generate the data dictionary (`docs/tables.md`) from the pandera models.

Run `python -m schemas.docs` to rewrite it, `python -m schemas.docs --check` to fail when the
committed copy is stale.
"""

import argparse
import inspect
import sys
from pathlib import Path

from pandera.api.checks import Check

from schemas.arrow import duckdb_columns
from schemas.tables import TABLE_MODELS

DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
_HEADER = ("column", "type", "nullable", "checks", "description")
# Short names for pandera's built-in comparison checks.
_SHORT_NAMES = {
    "greater_than": "gt",
    "greater_than_or_equal_to": "ge",
    "less_than": "lt",
    "less_than_or_equal_to": "le",
    "equal_to": "eq",
    "not_equal_to": "ne",
}


def _cell(text: str) -> str:
    """Make text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`"


def describe_check(check: Check) -> str:
    """One check in words, e.g. 'ge 0', 'isin: paragraph, heading', 'str_length min 1'."""
    name = check.name or "custom"
    stats = {key: value for key, value in (check.statistics or {}).items() if value is not None}
    if name in _SHORT_NAMES and len(stats) == 1:
        return f"{_SHORT_NAMES[name]} {next(iter(stats.values()))}"
    if name in ("isin", "notin"):
        values = stats.get("allowed_values", stats.get("forbidden_values", ()))
        return f"{name}: " + ", ".join(str(value) for value in values)
    if name == "str_matches":
        return f"str_matches {_code(stats['pattern'])}"
    if name == "str_length":
        low, high = stats.get("min_value"), stats.get("max_value")
        if "exact_value" in stats or (low is not None and low == high):
            return f"str_length {stats.get('exact_value', low)}"
        bounds = [f"min {low}"] if low is not None else []
        bounds += [f"max {high}"] if high is not None else []
        return " ".join(["str_length", *bounds])
    if name == "in_range":
        return f"in_range {stats.get('min_value')}..{stats.get('max_value')}"
    details = " ".join(f"{key}={value}" for key, value in stats.items())
    return f"{name} {details}".strip()


def _table_section(table: str) -> list[str]:
    model = TABLE_MODELS[table]
    columns = model.to_schema().columns
    lines = [f"## {table}", "", inspect.cleandoc(model.__doc__ or ""), ""]
    lines.append("| " + " | ".join(_HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in _HEADER) + "|")
    for name, duckdb_type in duckdb_columns(table):
        column = columns[name]
        checks = (["unique"] if column.unique else []) + [
            describe_check(check) for check in column.checks
        ]
        row = (
            _code(name),
            duckdb_type,
            "yes" if column.nullable else "no",
            "; ".join(checks),
            column.description or "",
        )
        lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
    return lines


def render_data_dictionary() -> str:
    """The data dictionary as Markdown: one section per table, one row per column."""
    lines = [
        "# Data dictionary",
        "",
        "Generated from the pandera models in `schemas/tables.py` by `python -m schemas.docs`; "
        "do not edit by hand.",
        "",
    ]
    for table in TABLE_MODELS:
        lines += [*_table_section(table), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/tables.md, or with --check exit 1 when the committed copy is stale."""
    parser = argparse.ArgumentParser(prog="python -m schemas.docs", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/tables.md is not up to date"
    )
    args = parser.parse_args(argv)
    rendered = render_data_dictionary()
    if args.check:
        current = DOCS_PATH.read_text(encoding="utf-8") if DOCS_PATH.exists() else None
        if current != rendered:
            sys.stderr.write(f"{DOCS_PATH} is stale: run `python -m schemas.docs`\n")
            return 1
        return 0
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(rendered, encoding="utf-8")
    sys.stdout.write(f"wrote {DOCS_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
