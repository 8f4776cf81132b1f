"""The run summary: what a run did, for the CLI and the Prefect artifact."""

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tasks.process.engine import BatchResult, drop_repeated_articles


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


@dataclass(slots=True)
class RunTally:
    """What a run keeps of its finished batches: counts, reasons and timings, never the rows.

    `add` each batch as it finishes, in file order; it returns the rows to land, without
    articles whose content an earlier batch of the run already landed (counted as skipped).
    """

    files_seen: int = 0
    articles_landed: int = 0
    files_quarantined: int = 0
    files_skipped: int = 0
    row_failures: int = 0
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    rule_counts: Counter[str] = field(default_factory=Counter)
    batch_seconds: Counter[str] = field(default_factory=Counter)  # per stage, summed
    _article_ids: set[str] = field(default_factory=set)

    def add(
        self, result: BatchResult, seconds: dict[str, float] | None = None
    ) -> dict[str, pa.Table]:
        """Count one finished batch; return its tables without repeats of earlier batches."""
        ids = result.tables["articles"].column("article_id").to_pylist()
        repeats = {article_id for article_id in ids if article_id in self._article_ids}
        self._article_ids.update(ids)
        tables = drop_repeated_articles(result.tables, repeats)
        quarantine = tables["quarantine"]
        self.files_seen += result.files_seen
        self.files_skipped += result.files_skipped + len(repeats)
        self.row_failures += result.row_failures
        self.articles_landed += tables["articles"].num_rows
        self.files_quarantined += quarantine.num_rows
        self.quarantined += [
            QuarantinedFile(**row)
            for row in quarantine.select(["source_uri", "check_name", "error"]).to_pylist()
        ]
        for item in pc.value_counts(tables["removed_lines"].column("rule_id")).to_pylist():
            self.rule_counts[item["values"]] += item["counts"]
        self.batch_seconds.update(seconds or {})
        return tables

    @property
    def balanced(self) -> bool:
        """Every file seen is landed, quarantined or skipped: nothing was lost."""
        return self.files_seen == self.articles_landed + self.files_quarantined + self.files_skipped

    def ranked_rule_counts(self) -> tuple[tuple[str, int], ...]:
        """(rule_id, lines removed), most lines first."""
        return tuple(sorted(self.rule_counts.items(), key=lambda item: -item[1]))


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
    if summary.stage_seconds:
        stages = ", ".join(f"{name} {sec:.1f}" for name, sec in summary.stage_seconds.items())
        lines.append(f"  seconds per stage: {stages}")
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
