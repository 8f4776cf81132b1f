"""The quarantine as a to-do list: inputs not landed yet, and where to find them again."""

from pathlib import Path
from urllib.parse import unquote, urlparse

from warehouse.lake import connect
from warehouse.object_store import object_url_protocol

# The latest quarantine row per input whose content has not landed since.
OUTSTANDING_SQL = """
SELECT source_uri, stage, check_name, error, content_sha256, run_id, quarantined_at
FROM quarantine
WHERE content_sha256 IS NULL
   OR content_sha256 NOT IN (SELECT content_sha256 FROM articles)
QUALIFY row_number() OVER (
    PARTITION BY source_uri, coalesce(content_sha256, '') ORDER BY quarantined_at DESC
) = 1
ORDER BY source_uri, quarantined_at
"""


def outstanding_quarantine(root: Path) -> tuple[list[str], list[tuple]]:
    """Column names and rows of the quarantined inputs that have not landed since."""
    connection = connect(root, read_only=True)
    try:
        result = connection.execute(OUTSTANDING_SQL)
        columns = [description[0] for description in result.description]
        return columns, result.fetchall()
    finally:
        connection.close()


def path_of(source_uri: str) -> Path | str:
    """The local path a file:// source URI names; an object-storage URL stays as it is."""
    if object_url_protocol(source_uri):
        return source_uri
    return Path(unquote(urlparse(source_uri).path))
