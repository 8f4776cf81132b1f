"""Stories in the warehouse: the analyst views, and reading what story assignment persisted.

Views (columns documented by `schemas.tables.VIEW_MODELS` and docs/stories.md):
- `stories`: one row per story, computed from articles, so always current;
- `story_timeline`: the articles of each story in publication order, with outlet;
- `syndicated_passages`: passages carried by later articles, most copied first.

`ensure_story_views` creates or updates them after `ensure_tables`; each view carries a comment
with a fingerprint of its SQL, so an unchanged view is left alone (no new snapshot per run).
"""

import hashlib
import logging
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from warehouse.lake import CATALOG_NAME, connect, existing_catalog, quote

LOGGER = logging.getLogger(__name__)

# Assignment order: the order a later run treats landed articles as 'earlier' in.
_ASSIGNMENT_ORDER = "ingested_at, published_at NULLS LAST, article_id"

STORY_VIEWS: dict[str, str] = {
    "stories": """
        SELECT
            story_id,
            arg_min(title, (published_at IS NULL, published_at, ingested_at, article_id))
                FILTER (WHERE title IS NOT NULL) AS title,
            min(published_at) AS first_published_at,
            max(published_at) AS last_published_at,
            count(*) AS article_count,
            count(*) FILTER (WHERE duplicate_of IS NULL) AS original_count,
            string_agg(DISTINCT publisher, ', ' ORDER BY publisher) AS publishers
        FROM articles
        WHERE story_id IS NOT NULL
        GROUP BY story_id
    """,
    "story_timeline": """
        SELECT
            a.story_id,
            s.title AS story_title,
            row_number() OVER (
                PARTITION BY a.story_id
                ORDER BY a.published_at NULLS LAST, a.ingested_at, a.article_id
            ) AS story_position,
            a.published_at,
            a.publisher,
            a.title,
            a.article_id,
            a.duplicate_of,
            a.originality,
            a.source_uri
        FROM articles AS a
        JOIN stories AS s USING (story_id)
        ORDER BY a.story_id, story_position
    """,
    "syndicated_passages": """
        SELECT
            sp.other_article_id AS article_id,
            sp.other_position AS position,
            p.text,
            origin.publisher,
            origin.story_id,
            count(DISTINCT sp.article_id) AS copies,
            count(DISTINCT copy.publisher) AS copying_publishers,
            min(copy.published_at) AS first_copied_at,
            max(copy.published_at) AS last_copied_at
        FROM shared_passages AS sp
        JOIN paragraphs AS p
            ON p.article_id = sp.other_article_id AND p.position = sp.other_position
        JOIN articles AS origin ON origin.article_id = sp.other_article_id
        JOIN articles AS copy ON copy.article_id = sp.article_id
        WHERE NOT EXISTS (
            SELECT 1 FROM shared_passages AS earlier
            WHERE earlier.article_id = sp.other_article_id
              AND earlier.position = sp.other_position
        )
        GROUP BY ALL
        ORDER BY copies DESC, copying_publishers DESC, article_id, position
    """,
}


def _fingerprint(sql: str) -> str:
    return "news-etl view " + hashlib.sha256(" ".join(sql.split()).encode()).hexdigest()[:16]


def _view_comments(connection: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = connection.execute(
        "SELECT view_name, comment FROM duckdb_views() WHERE database_name = ?", [CATALOG_NAME]
    ).fetchall()
    return dict(rows)


def ensure_story_views(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the story views, or replace those whose SQL changed; return the names changed.

    Call after `ensure_tables` on a writable warehouse connection (the lake in use).
    """
    existing = _view_comments(connection)
    changed = []
    for name, sql in STORY_VIEWS.items():
        marker = _fingerprint(sql)
        if existing.get(name) == marker:
            continue
        connection.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {sql}")
        connection.execute(f"COMMENT ON VIEW {quote(name)} IS '{marker}'")
        changed.append(name)
    if changed:
        LOGGER.info("story views created or updated: %s", ", ".join(changed))
    return changed


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = connection.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_name = ?",
        [table],
    ).fetchall()
    return {row[0] for row in rows}


# Articles the index holds: assigned ones, landed at most `days` before the latest landing.
_INDEXED = """
    story_id IS NOT NULL
    AND (? <= 0 OR ingested_at >= (SELECT max(ingested_at) FROM articles) - to_seconds(?::DOUBLE))
"""
_INDEX_ARTICLES = f"""
    SELECT article_id, story_id, duplicate_of, published_at, date_confidence
    FROM articles WHERE {_INDEXED} ORDER BY {_ASSIGNMENT_ORDER}
"""
_INDEX_KINDS = ("passage", "band", "name", "title")
_INDEX_SIGNATURES = f"""
    WITH ordered AS (
        SELECT article_id,
               (row_number() OVER (ORDER BY {_ASSIGNMENT_ORDER}) - 1)::INTEGER AS article_index
        FROM articles WHERE {_INDEXED}
    )
    SELECT o.article_index,
           (list_position({list(_INDEX_KINDS)}, s.kind) - 1)::TINYINT AS kind_number,
           s.position::INTEGER AS position,
           s.key
    FROM story_signatures AS s JOIN ordered AS o USING (article_id)
    WHERE o.article_index >= ?
"""


def _no_index_rows() -> tuple[pa.Table, dict[str, pa.Table]]:
    articles = pa.table(
        {
            "article_id": pa.array([], pa.string()),
            "story_id": pa.array([], pa.string()),
            "duplicate_of": pa.array([], pa.string()),
            "published_at": pa.array([], pa.timestamp("us")),
            "date_confidence": pa.array([], pa.string()),
        }
    )
    return articles, {}


def read_story_index_rows(
    connection: duckdb.DuckDBPyConnection, days: float = 0, max_articles: int = 0
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """Assigned articles in assignment order, and per signature kind the rows
    (article_index, position, key), article_index numbering those articles from 0.

    `days` > 0 keeps the articles landed at most that many days before the
    latest landing. With `max_articles`, the signatures of the articles that
    `StoryIndex.bound(max_articles)` forgets are not read: their article rows still give the
    stories' dates and the originals copies name, but the signatures are what grows with the
    warehouse (2.3 GB for 100,000 articles read whole). Empty for a warehouse from before
    stories (no story_signatures table or story_id column).
    """
    window = [days, days * 86_400]
    if "story_id" not in _columns(connection, "articles") or not _columns(
        connection, "story_signatures"
    ):
        return _no_index_rows()
    from tasks.stories.engine import articles_forgotten  # not at the top: tasks.stories imports us

    articles = connection.execute(_INDEX_ARTICLES, window).to_arrow_table()
    first_kept = articles_forgotten(articles.num_rows, max_articles)
    signatures = connection.execute(_INDEX_SIGNATURES, [*window, first_kept]).to_arrow_table()
    kinds = signatures.column("kind_number").to_numpy()
    signatures = signatures.take(np.argsort(kinds, kind="stable")).drop_columns(["kind_number"])
    ends = np.cumsum(np.bincount(kinds, minlength=len(_INDEX_KINDS)))
    starts = ends - np.bincount(kinds, minlength=len(_INDEX_KINDS))
    rows = {
        kind: signatures.slice(int(start), int(end - start))
        for kind, start, end in zip(_INDEX_KINDS, starts, ends, strict=True)
    }
    return articles, rows


def read_story_index_rows_at(
    root: Path, days: float = 0, max_articles: int = 0
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """`read_story_index_rows` of the warehouse at `root` (read-only; empty if none yet)."""
    if existing_catalog(root) is None:
        return _no_index_rows()
    connection = connect(root, read_only=True)
    try:
        return read_story_index_rows(connection, days, max_articles)
    finally:
        connection.close()


def landed_sources(root: Path) -> frozenset[tuple[str, str]]:
    """(article_id, source_uri) of every path already recorded for a landed article: the rows
    of article_sources, and each article's own source_uri (articles landed before
    article_sources existed have only that)."""
    if existing_catalog(root) is None:
        return frozenset()
    connection = connect(root, read_only=True)
    try:
        if not _columns(connection, "articles"):
            return frozenset()
        sql = "SELECT article_id, source_uri FROM articles"
        if _columns(connection, "article_sources"):
            sql += " UNION SELECT article_id, source_uri FROM article_sources"
        rows = connection.execute(sql).fetchall()
    finally:
        connection.close()
    return frozenset((article_id, uri) for article_id, uri in rows)
