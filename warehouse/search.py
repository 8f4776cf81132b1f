"""Full-text search over articles: a BM25 index (DuckDB `fts`) in `<root>/search.duckdb`.

DuckLake tables cannot carry an FTS index, so the index lives in a separate DuckDB file,
rebuilt from the current articles after each run that landed any, then swapped in with a
rename: a reader sees the old index or the new one, never half of one. Analysts can attach it
and call the macro `search_articles('words')` themselves.
"""

import logging
import os
from pathlib import Path

import duckdb

from warehouse.lake import CATALOG_NAME, WarehouseError, attach, load_extension

LOGGER = logging.getLogger(__name__)
SEARCH_FILE = "search.duckdb"
SEARCH_COLUMNS = "article_id, title, source_uri, published_at, body_text"
SEARCH_MACRO = """
CREATE MACRO search_articles(words, max_rows := 10) AS TABLE
SELECT score, article_id, title, source_uri, published_at
FROM (
    SELECT *, fts_main_articles.match_bm25(article_id, words) AS score FROM articles
)
WHERE score IS NOT NULL
ORDER BY score DESC, article_id
LIMIT max_rows
"""


def search_path(root: Path) -> Path:
    return Path(root) / SEARCH_FILE


def build_search_index(root: Path) -> int:
    """Rebuild the index from the warehouse's current articles; return how many it holds."""
    root = Path(root)
    final = search_path(root)
    staging = final.with_name(f".{SEARCH_FILE}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    connection = duckdb.connect(str(staging))
    try:
        load_extension(connection, "fts")
        attach(connection, root, read_only=True)
        connection.execute(
            f"CREATE TABLE articles AS SELECT {SEARCH_COLUMNS} FROM {CATALOG_NAME}.articles"
        )
        connection.execute(f"DETACH {CATALOG_NAME}")
        connection.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'body_text', "
            "stemmer = 'porter', stopwords = 'english', overwrite = 1)"
        )
        connection.execute(SEARCH_MACRO)
        count = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    except BaseException:
        connection.close()
        staging.unlink(missing_ok=True)
        raise
    connection.close()
    os.replace(staging, final)
    LOGGER.info("search index rebuilt: %d articles", count)
    return count


def search_articles(root: Path, words: str, limit: int = 10) -> tuple[list[str], list[tuple]]:
    """Articles matching `words`, best BM25 score first: (column names, rows)."""
    path = search_path(root)
    if not path.exists():
        raise WarehouseError(f"no search index at {path}: run `news-etl run` first")
    connection = duckdb.connect(str(path), read_only=True)
    try:
        load_extension(connection, "fts")
        result = connection.execute(
            "SELECT * FROM search_articles(?, max_rows := ?)", [words, int(limit)]
        )
        return [description[0] for description in result.description], result.fetchall()
    finally:
        connection.close()
