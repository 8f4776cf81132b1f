"""The `news-etl` command line: parse arguments, then call a flow or a read-only query."""

import argparse
import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path

DEFAULT_SOURCE = "seeds"
DEFAULT_SERVE_INTERVAL_SECONDS = 300.0
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


def _add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runner",
        choices=("local", "dask"),
        default="local",
        help="where batches run: threads here, or Dask (a LocalCluster unless --dask-address)",
    )
    parser.add_argument(
        "--dask-address",
        default=None,
        metavar="tcp://HOST:PORT",
        help="scheduler of an existing Dask cluster (with --runner dask)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-etl", description="Scraped news text in, clean validated tables out."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="ingest files or folders into the warehouse")
    run.add_argument("sources", nargs="*", default=[DEFAULT_SOURCE], metavar="SOURCE")
    run.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    run.add_argument("--batch-size", type=int, default=None, help="files per Prefect task")
    run.add_argument(
        "--catalog",
        choices=("duckdb", "sqlite", "postgres"),
        default=None,
        help="catalog kind of a new warehouse (default duckdb, or NEWS_ETL_CATALOG); "
        "an existing warehouse keeps its own",
    )
    _add_runner_arguments(run)
    run.add_argument(
        "--read-unchanged",
        action="store_true",
        help="read every file, also those listed with the path, size and modification time "
        "an earlier run landed or quarantined them with (their content hash still skips them)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")
    run.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (there is none off a terminal)"
    )

    serve = commands.add_parser(
        "serve", help="run the ingest flow on a schedule (a Prefect deployment) until stopped"
    )
    serve.add_argument(
        "--source",
        dest="sources",
        action="append",
        required=True,
        metavar="DIR_OR_URL",
        help="folder, file or s3:// URL to ingest on every run (repeat for several)",
    )
    when = serve.add_mutually_exclusive_group()
    when.add_argument("--cron", metavar="EXPR", help="cron expression, in UTC")
    when.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help=f"seconds between runs (default {DEFAULT_SERVE_INTERVAL_SECONDS:g})",
    )
    serve.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    serve.add_argument("--batch-size", type=int, default=None, help="files per Prefect task")
    serve.add_argument(
        "--catalog",
        choices=("duckdb", "sqlite", "postgres"),
        default=None,
        help="catalog kind of a new warehouse (an existing warehouse keeps its own)",
    )
    _add_runner_arguments(serve)
    serve.add_argument(
        "--name", default=None, help="deployment name (default: warehouse folder and path hash)"
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="state of the embedded Prefect server (default WAREHOUSE/.prefect-server)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")

    query = commands.add_parser("query", help="run read-only SQL against the warehouse")
    query.add_argument("sql")
    query.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--max-width", type=int, default=60, help="table cell width (table format)")
    query.add_argument(
        "--as-of",
        metavar="RUN_ID_OR_SNAPSHOT",
        default=None,
        help="read the warehouse as it was after this run (run_id) or at this snapshot id",
    )

    search_index = commands.add_parser(
        "search-index", help="build the full-text index now (search builds it when stale)"
    )
    search_index.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    search = commands.add_parser("search", help="full-text search over articles (BM25)")
    search.add_argument("words")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    search.add_argument("--format", choices=("table", "csv", "json"), default="table")
    search.add_argument("--max-width", type=int, default=60, help="table cell width")

    changes = commands.add_parser(
        "changes", help="export the rows of a table inserted since a snapshot"
    )
    changes.add_argument(
        "--since",
        type=int,
        required=True,
        metavar="SNAPSHOT",
        help="snapshot id of your last pull (0 for everything)",
    )
    changes.add_argument("--table", default="articles")
    changes.add_argument("--format", choices=("parquet", "jsonl", "csv"), default="parquet")
    changes.add_argument("--out", type=Path, required=True, metavar="PATH")
    changes.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")

    quarantine = commands.add_parser(
        "quarantine", help="list quarantined inputs that have not landed since"
    )
    quarantine.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    quarantine.add_argument("--format", choices=("table", "csv", "json"), default="table")
    quarantine.add_argument("--max-width", type=int, default=60, help="table cell width")

    retry = commands.add_parser(
        "retry-quarantine", help="run the quarantined inputs again (after a fix)"
    )
    retry.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")
    retry.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")

    compact = commands.add_parser(
        "compact", help="merge small files, expire old snapshots, delete unused files"
    )
    compact.add_argument(
        "--retain-days",
        type=float,
        default=7.0,
        metavar="N",
        help="keep snapshots (and --as-of reads) of the last N days (default 7)",
    )
    compact.add_argument("--warehouse", default=_default_warehouse(), metavar="DIR")

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


def _is_url(source: str) -> bool:
    from warehouse.object_store import object_url_protocol

    return object_url_protocol(source) is not None


def _run_target_problem(args: argparse.Namespace, catalog: str | None) -> str | None:
    """Why a run on these arguments cannot happen (missing source, bad warehouse), or None."""
    missing = [
        source for source in args.sources if not _is_url(source) and not Path(source).exists()
    ]
    if missing:
        return f"source not found: {', '.join(missing)}"
    if args.dask_address and args.runner != "dask":
        return "--dask-address needs --runner dask"
    from warehouse.lake import WarehouseError, catalog_kind, check_writable

    try:
        check_writable(Path(args.warehouse))
        catalog_kind(Path(args.warehouse), catalog)
    except WarehouseError as error:
        return str(error)
    return None


def _requested_catalog(args: argparse.Namespace) -> str | None:
    from tasks.settings import load_settings

    return load_settings(catalog=args.catalog).catalog or None


def command_run(args: argparse.Namespace) -> int:
    catalog = _requested_catalog(args)
    problem = _run_target_problem(args, catalog)
    if problem:
        return _fail(problem)
    if args.verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    from flows import progress
    from flows.ingest import ingest
    from flows.summary import render_text
    from tasks.read.engine import SourceNotFoundError

    sink = None if args.quiet else progress.terminal_progress(sys.stderr)
    with progress.reporting(sink) if sink else contextlib.nullcontext():
        try:
            summary = ingest(
                sources=[str(source) for source in args.sources],
                warehouse=args.warehouse,
                batch_size=args.batch_size,
                catalog=catalog,
                runner=args.runner,
                dask_address=args.dask_address,
                read_unchanged=args.read_unchanged,
            )
        except SourceNotFoundError as error:  # an object-storage prefix with nothing under it
            return _fail(str(error))
        finally:
            if sink:
                sink.finish()  # give the terminal back even when the run failed
    print(render_text(summary))
    return EXIT_OK


def command_serve(args: argparse.Namespace) -> int:
    from flows.serve import (
        Schedule,
        ServerStartError,
        default_deployment_name,
        deployment_parameters,
        serve_ingest,
    )

    if args.interval is not None and args.interval <= 0:
        return _fail("--interval must be a positive number of seconds")
    if args.cron is not None:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=args.cron)
        except ValueError:
            return _fail(f"not a valid cron expression: {args.cron!r}")
        schedule = Schedule(cron=args.cron)
    else:
        schedule = Schedule(interval_seconds=args.interval or DEFAULT_SERVE_INTERVAL_SECONDS)
    catalog = _requested_catalog(args)
    problem = _run_target_problem(args, catalog)
    if problem:
        return _fail(problem)
    if args.verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    warehouse = Path(args.warehouse)
    parameters = deployment_parameters(
        args.sources, warehouse, catalog, args.batch_size, args.runner, args.dask_address
    )
    try:
        serve_ingest(
            parameters,
            schedule,
            name=args.name or default_deployment_name(warehouse),
            state_dir=args.state_dir or warehouse / ".prefect-server",
            announce=partial(print, flush=True),
        )
    except ServerStartError as error:
        return _fail(str(error))
    return EXIT_OK


def command_query(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.lake import WarehouseError, connect, resolve_snapshot

    warehouse = Path(args.warehouse)
    try:
        snapshot = resolve_snapshot(warehouse, args.as_of) if args.as_of else None
        connection = connect(warehouse, read_only=True, snapshot=snapshot)
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


def command_search(args: argparse.Namespace) -> int:
    from warehouse.lake import WarehouseError
    from warehouse.search import search_articles

    try:
        columns, rows = search_articles(Path(args.warehouse), args.words, args.limit)
    except WarehouseError as error:
        return _fail(str(error))
    print(format_rows(columns, rows, args.format, args.max_width))
    return EXIT_OK


def command_search_index(args: argparse.Namespace) -> int:
    from warehouse.lake import WarehouseError, existing_catalog
    from warehouse.search import build_search_index, search_path

    root = Path(args.warehouse)
    if existing_catalog(root) is None:
        return _fail(f"no warehouse at {root}: run `news-etl run` first")
    try:
        count = build_search_index(root)
    except WarehouseError as error:
        return _fail(str(error))
    print(f"search index built: {count} articles in {search_path(root)}")
    return EXIT_OK


def command_changes(args: argparse.Namespace) -> int:
    from warehouse.changes import export_changes
    from warehouse.lake import WarehouseError

    try:
        export = export_changes(Path(args.warehouse), args.table, args.since, args.out, args.format)
    except WarehouseError as error:
        return _fail(str(error))
    print(
        f"{export.rows} {export.table} row(s) inserted after snapshot {export.since} "
        f"written to {export.path}; next pull: --since {export.until}"
    )
    return EXIT_OK


def _outstanding_quarantine(args: argparse.Namespace) -> tuple[list[str], list[tuple]] | int:
    """The quarantine rows no later run landed, or the exit code of a warehouse error."""
    from warehouse.lake import WarehouseError
    from warehouse.quarantine import outstanding_quarantine

    try:
        return outstanding_quarantine(Path(args.warehouse))
    except WarehouseError as error:
        return _fail(str(error))


def command_quarantine(args: argparse.Namespace) -> int:
    outstanding = _outstanding_quarantine(args)
    if isinstance(outstanding, int):
        return outstanding
    columns, rows = outstanding
    print(format_rows(columns, rows, args.format, args.max_width))
    return EXIT_OK


def command_retry_quarantine(args: argparse.Namespace) -> int:
    from warehouse.quarantine import path_of

    outstanding = _outstanding_quarantine(args)
    if isinstance(outstanding, int):
        return outstanding
    _, rows = outstanding
    paths = sorted({path_of(row[0]) for row in rows}, key=str)
    # Object URLs are passed on as they are: a missing object is quarantined again, with why.
    missing = [path for path in paths if isinstance(path, Path) and not path.exists()]
    for path in missing:
        print(f"not found any more, left in quarantine: {path}")
    present = [str(path) for path in paths if path not in missing]
    if not present:
        print("nothing to retry")
        return EXIT_OK
    if args.verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    from flows.ingest import ingest
    from flows.summary import render_text

    summary = ingest(sources=present, warehouse=args.warehouse, retry_quarantined=True)
    print(render_text(summary))
    return EXIT_OK


def command_compact(args: argparse.Namespace) -> int:
    from warehouse.lake import WarehouseError, existing_catalog
    from warehouse.maintenance import compact

    if existing_catalog(Path(args.warehouse)) is None:
        return _fail(f"no warehouse at {args.warehouse}: run `news-etl run` first")
    try:
        report = compact(Path(args.warehouse), retain_days=args.retain_days)
    except WarehouseError as error:
        return _fail(str(error))
    print(
        f"data files: {report.files_before} -> {report.files_after}; "
        f"snapshots: {report.snapshots_before} -> {report.snapshots_after} "
        f"(oldest readable: {report.oldest_snapshot})"
    )
    return EXIT_OK


def command_eval(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        return _fail(f"evaluation directory not found: {args.directory}")
    from tasks.clean.engine import KNOWN_DETECTORS
    from tasks.clean.evaluation import evaluate_directory, format_report, report_to_dict
    from tasks.clean.rules import load_rules
    from tasks.process.engine import clean_page_body
    from tasks.settings import load_settings

    settings = load_settings()
    rules = load_rules(known_detectors=KNOWN_DETECTORS)

    report = evaluate_directory(
        args.directory, partial(clean_page_body, rules=rules, settings=settings), out_dir=args.out
    )
    if args.json:
        print(json.dumps(report_to_dict(report), indent=2))
    else:
        print(format_report(report, per_page=not args.summary_only))
    return EXIT_OK


COMMANDS = {
    "run": command_run,
    "serve": command_serve,
    "query": command_query,
    "search": command_search,
    "search-index": command_search_index,
    "changes": command_changes,
    "compact": command_compact,
    "quarantine": command_quarantine,
    "retry-quarantine": command_retry_quarantine,
    "eval": command_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
