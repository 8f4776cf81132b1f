"""The run summary: what a run did, for the CLI and the Prefect artifact."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class QuarantinedFile:
    source_uri: str
    check_name: str
    error: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    status: str
    warehouse: str
    snapshot_id: int | None
    files_seen: int
    articles_landed: int
    files_quarantined: int
    files_skipped: int
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    quarantined: tuple[QuarantinedFile, ...] = ()
    rule_counts: tuple[tuple[str, int], ...] = ()


def render_text(summary: RunSummary, max_listed: int = 20) -> str:
    """Plain-words summary for the terminal."""
    docs_per_second = summary.files_seen / summary.seconds if summary.seconds else 0.0
    lines = [
        f"run {summary.run_id} {summary.status} in {summary.seconds:.1f} s "
        f"({docs_per_second:,.0f} files/s)",
        f"  files seen: {summary.files_seen}",
        f"  articles landed: {summary.articles_landed}",
        f"  files quarantined: {summary.files_quarantined}",
        f"  files skipped (already landed or repeated): {summary.files_skipped}",
        f"  warehouse: {summary.warehouse} (snapshot {summary.snapshot_id})",
    ]
    if summary.quarantined:
        lines.append(
            f"{summary.files_quarantined} file(s) could not be landed and are in the quarantine "
            'table (news-etl query "select * from quarantine"):'
        )
        lines += [
            f"  - {item.source_uri}: {item.error}" for item in summary.quarantined[:max_listed]
        ]
        if len(summary.quarantined) > max_listed:
            lines.append(f"  ... and {len(summary.quarantined) - max_listed} more")
    return "\n".join(lines)


def render_markdown(summary: RunSummary) -> str:
    """Markdown for the Prefect run artifact."""
    stages = "\n".join(
        f"| {stage} | {seconds:.3f} |" for stage, seconds in summary.stage_seconds.items()
    )
    rules = "\n".join(f"| `{rule_id}` | {count} |" for rule_id, count in summary.rule_counts)
    quarantined = "\n".join(
        f"| {item.source_uri} | `{item.check_name}` | {item.error} |"
        for item in summary.quarantined
    )
    return (
        f"# news-etl run {summary.run_id}\n\n"
        f"Status **{summary.status}**, warehouse `{summary.warehouse}`, "
        f"snapshot {summary.snapshot_id}, {summary.seconds:.2f} s.\n\n"
        "| files seen | articles landed | quarantined | skipped |\n|---:|---:|---:|---:|\n"
        f"| {summary.files_seen} | {summary.articles_landed} | {summary.files_quarantined} "
        f"| {summary.files_skipped} |\n\n"
        f"## Time per stage\n\n| stage | seconds |\n|---|---:|\n{stages}\n\n"
        f"## Lines removed per rule\n\n| rule | lines |\n|---|---:|\n{rules}\n\n"
        f"## Quarantined files\n\n| source | check | reason |\n|---|---|---|\n{quarantined}\n"
    )
