"""Warehouse maintenance: merge small files, expire old snapshots, delete unused files."""

import logging
from dataclasses import dataclass
from pathlib import Path

from warehouse import object_store
from warehouse.lake import CATALOG_NAME, DATA_DIR, connect, write_lock

LOGGER = logging.getLogger(__name__)
DEFAULT_RETAIN_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """Data files and snapshots before and after a compaction."""

    files_before: int
    files_after: int
    snapshots_before: int
    snapshots_after: int
    oldest_snapshot: int


def _data_files(root: Path) -> int:
    """Parquet files under the warehouse's data path, local or on object storage."""
    marker = root / object_store.DATA_PATH_FILE
    if marker.exists():
        fs, path = object_store.filesystem(marker.read_text(encoding="utf-8").strip())
        fs.invalidate_cache()
        return len(fs.glob(f"{path.rstrip('/')}/**/*.parquet"))
    return sum(1 for _ in (root / DATA_DIR).rglob("*.parquet"))


def compact(root: Path, retain_days: float = DEFAULT_RETAIN_DAYS) -> CompactionReport:
    """Merge adjacent small files, expire snapshots older than `retain_days`, delete files no
    retained snapshot uses (and files left behind by killed runs).

    It holds the writer lock, so no run lands meanwhile. Readers never lose data: every
    snapshot younger than the retention stays readable (`--as-of`), and a file is deleted only
    when no retained snapshot refers to it.
    """
    lake = f"'{CATALOG_NAME}'"
    with write_lock(root):
        files_before = _data_files(root)
        connection = connect(root)
        try:

            def snapshots() -> int:
                return connection.execute(
                    f"SELECT count(*) FROM ducklake_snapshots({lake})"
                ).fetchone()[0]

            snapshots_before = snapshots()
            connection.execute(f"CALL ducklake_flush_inlined_data({lake})")
            connection.execute(f"CALL ducklake_merge_adjacent_files({lake})")
            connection.execute(
                f"CALL ducklake_expire_snapshots({lake}, "
                "older_than => now() - to_microseconds(CAST(? * 86400e6 AS BIGINT)))",
                [float(retain_days)],
            )
            connection.execute(f"CALL ducklake_cleanup_old_files({lake}, cleanup_all => true)")
            connection.execute(f"CALL ducklake_delete_orphaned_files({lake}, cleanup_all => true)")
            snapshots_after = snapshots()
            oldest = connection.execute(
                f"SELECT min(snapshot_id) FROM ducklake_snapshots({lake})"
            ).fetchone()[0]
        finally:
            connection.close()
        files_after = _data_files(root)
    LOGGER.info("compacted %s: %d -> %d files", root, files_before, files_after)
    return CompactionReport(
        files_before=files_before,
        files_after=files_after,
        snapshots_before=snapshots_before,
        snapshots_after=snapshots_after,
        oldest_snapshot=int(oldest),
    )
