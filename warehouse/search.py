"""Full-text search over articles: a BM25 index (DuckDB `fts`) in `<root>/search.duckdb`.

DuckLake tables cannot carry an FTS index, so the index lives in a separate DuckDB file, built
from the current articles and swapped in with a rename: a reader sees the old index or the new
one, never half of one. Building it reads every article (about 1.3 ms each measured here), so
runs do not: a search rebuilds it when the articles changed since it was built (their count and
a hash of their ids, recorded in the index), and `news-etl search-index` builds it on demand.
Analysts can attach it and call the macro `search_articles('words')` themselves.
"""

import logging
import os
from pathlib import Path

import duckdb

from warehouse.lake import CATALOG_NAME, WarehouseError, attach, existing_catalog, load_extension

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


def _articles_fingerprint(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    count, digest = connection.execute(
        f"SELECT count(*), coalesce(bit_xor(hash(article_id)), 0) FROM {table}"
    ).fetchone()
    return f"{count}:{digest}"


def _indexed_fingerprint(path: Path) -> str | None:
    if not path.exists():
        return None
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute("SELECT fingerprint FROM index_info").fetchone()[0]
    except duckdb.Error:  # an index from before fingerprints: rebuild it
        return None
    finally:
        connection.close()


def search_index_is_current(root: Path) -> bool:
    """Whether the index holds exactly the warehouse's current articles."""
    indexed = _indexed_fingerprint(search_path(root))
    if indexed is None:
        return False
    connection = duckdb.connect()
    try:
        attach(connection, Path(root), read_only=True)
        return indexed == _articles_fingerprint(connection, f"{CATALOG_NAME}.articles")
    finally:
        connection.close()


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
        fingerprint = _articles_fingerprint(connection, "articles")
        connection.execute("CREATE TABLE index_info AS SELECT ? AS fingerprint", [fingerprint])
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
    """Articles matching `words`, best BM25 score first: (column names, rows).

    Rebuilds the index first when the articles changed since it was built.
    """
    path = search_path(root)
    if existing_catalog(Path(root)) is None:
        raise WarehouseError(f"no warehouse at {root}: run `news-etl run` first")
    if not search_index_is_current(root):
        build_search_index(root)
    connection = duckdb.connect(str(path), read_only=True)
    try:
        load_extension(connection, "fts")
        result = connection.execute(
            "SELECT * FROM search_articles(?, max_rows := ?)", [words, int(limit)]
        )
        return [description[0] for description in result.description], result.fetchall()
    finally:
        connection.close()
