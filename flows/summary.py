"""The run summary: what a run did, for the CLI and the Prefect artifact."""

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
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
    files_unread: int = 0  # of files_skipped: unchanged since an earlier run, not read
    stage_seconds: dict[str, float] = field(default_factory=dict)
    quarantined: tuple[QuarantinedFile, ...] = ()
    rule_counts: tuple[tuple[str, int], ...] = ()


class SeenKeys:
    """The strings added so far, held as sorted 128-bit BLAKE2b digests: 16 bytes each, where a
    set of 32-character ids takes about 120. A false repeat needs a 128-bit collision."""

    DIGEST_BYTES = 16

    def __init__(self) -> None:
        self._digests = np.empty(0, dtype=f"S{self.DIGEST_BYTES}")

    def __len__(self) -> int:
        return len(self._digests)

    def _digest(self, key: str) -> bytes:
        data = key.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, digest_size=self.DIGEST_BYTES).digest()

    def add(self, keys: Sequence[str]) -> set[str]:
        """Add `keys`; return those an earlier `add` already added."""
        digests = np.array([self._digest(key) for key in keys], dtype=self._digests.dtype)
        positions = np.searchsorted(self._digests, digests)
        seen = positions < len(self._digests)
        seen[seen] = self._digests[positions[seen]] == digests[seen]
        new = np.unique(digests[~seen])
        self._digests = np.insert(self._digests, np.searchsorted(self._digests, new), new)
        return {key for key, repeat in zip(keys, seen.tolist(), strict=True) if repeat}


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
    files_unread: int = 0
    row_failures: int = 0
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    rule_counts: Counter[str] = field(default_factory=Counter)
    batch_seconds: Counter[str] = field(default_factory=Counter)  # per stage, summed
    # Ids of the articles of earlier batches, compact: a run of 300,000 articles kept ~35 MB
    # as a set of strings, ~5 MB as digests.
    _article_ids: SeenKeys = field(default_factory=SeenKeys)

    def add(
        self, result: BatchResult, seconds: dict[str, float] | None = None
    ) -> dict[str, pa.Table]:
        """Count one finished batch; return its tables without repeats of earlier batches."""
        repeats = self._article_ids.add(result.tables["articles"].column("article_id").to_pylist())
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

    def add_unread(self, count: int) -> None:
        """Count files skipped unread: unchanged since an earlier run landed or quarantined
        them."""
        self.files_seen += count
        self.files_skipped += count
        self.files_unread += count

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
        f"  files skipped (already landed or repeated): {summary.files_skipped}"
        + (
            f", {summary.files_unread} of them unchanged since an earlier run (not read)"
            if summary.files_unread
            else ""
        ),
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
