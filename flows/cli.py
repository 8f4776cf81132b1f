"""The `news-etl` command line: parse arguments, then call a flow or a read-only query."""

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

DEFAULT_SOURCE = "seeds"
EXIT_OK = 0
EXIT_CANNOT_RUN = 2
# Offline by default: no analytics, nothing fetched from a hub, quiet Prefect console.
OFFLINE_ENVIRONMENT = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def _default_warehouse() -> str:
    return os.environ.get("NEWS_ETL_WAREHOUSE", "warehouse_data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-etl", description="Scraped news text in, clean validated tables out."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="ingest files or folders into the warehouse")
    run.add_argument("sources", nargs="*", default=[DEFAULT_SOURCE], metavar="SOURCE")
    run.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    run.add_argument("--batch-size", type=int, default=None, help="files per Prefect task")
    run.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")

    query = commands.add_parser("query", help="run read-only SQL against the warehouse")
    query.add_argument("sql")
    query.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--max-width", type=int, default=60, help="table cell width (table format)")

    evaluate = commands.add_parser(
        "eval", help="score the cleaner on <id>.txt / <id>.gold.txt pages"
    )
    evaluate.add_argument("directory", type=Path)
    evaluate.add_argument("--out", type=Path, default=None, help="write cleaned bodies here")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--summary-only", action="store_true", help="omit per-page lines")
    return parser


def _fail(message: str) -> int:
    print(f"news-etl: error: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def format_rows(
    columns: Sequence[str], rows: Sequence[tuple], output: str, max_width: int = 60
) -> str:
    """Render query results as an aligned table, CSV, or a JSON array of objects."""
    if output == "json":
        records = [
            {name: _json_value(value) for name, value in zip(columns, row, strict=True)}
            for row in rows
        ]
        return json.dumps(records, ensure_ascii=False, indent=2, default=str)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_json_value(value) for value in row] for row in rows])
        return buffer.getvalue().rstrip("\n")

    def cell(value: object) -> str:
        text = "NULL" if value is None else str(_json_value(value)).replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    line = "+".join("-" * (width + 2) for width in widths)
    render = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))  # noqa: E731
    body = [render(list(columns)), line, *(render(row) for row in cells)]
    body.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(body)


def command_run(args: argparse.Namespace) -> int:
    missing = [source for source in args.sources if not Path(source).exists()]
    if missing:
        return _fail(f"source not found: {', '.join(missing)}")
    from warehouse.lake import WarehouseError, check_writable

    try:
        check_writable(Path(args.warehouse))
    except WarehouseError as error:
        return _fail(str(error))
    if args.verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    from flows.ingest import ingest
    from flows.summary import render_text

    summary = ingest(
        sources=[str(source) for source in args.sources],
        warehouse=args.warehouse,
        batch_size=args.batch_size,
    )
    print(render_text(summary))
    return EXIT_OK


def command_query(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.lake import WarehouseError, connect

    try:
        connection = connect(Path(args.warehouse), read_only=True)
    except WarehouseError as error:
        return _fail(str(error))
    try:
        result = connection.execute(args.sql)
        columns = [description[0] for description in result.description or []]
        rows = result.fetchall() if columns else []
    except duckdb.Error as error:
        return _fail(f"query failed: {str(error).splitlines()[0]}")
    finally:
        connection.close()
    print(format_rows(columns, rows, args.format, args.max_width))
    return EXIT_OK


def command_eval(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        return _fail(f"evaluation directory not found: {args.directory}")
    from tasks.clean.engine import KNOWN_DETECTORS, clean_text
    from tasks.clean.evaluation import evaluate_directory, format_report, report_to_dict
    from tasks.clean.rules import load_rules
    from tasks.extract.engine import extract_article
    from tasks.settings import load_settings

    settings = load_settings()
    rules = load_rules(known_detectors=KNOWN_DETECTORS)

    def clean(text: str) -> str:
        return extract_article(clean_text(text, rules, settings), "", settings).body_text

    report = evaluate_directory(args.directory, clean, out_dir=args.out)
    if args.json:
        print(json.dumps(report_to_dict(report), indent=2))
    else:
        print(format_report(report, per_page=not args.summary_only))
    return EXIT_OK


COMMANDS = {"run": command_run, "query": command_query, "eval": command_eval}


def main(argv: Sequence[str] | None = None) -> int:
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
