"""Turn a batch of source files into table rows: read, clean, extract. Pure, no Prefect."""

import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter

import pyarrow as pa
import pyarrow.compute as pc

from schemas.arrow import arrow_schema
from tasks.clean.engine import clean_text
from tasks.clean.learned import LearnedCounts, LineCounts, learned_keys, page_lines, source_key
from tasks.clean.rules import RuleSet
from tasks.documents import DecodedDocument, Rejection, SourceFile
from tasks.extract.engine import ExtractedArticle, extract_article
from tasks.read.engine import normalize_text, read_documents
from tasks.settings import Settings

LOGGER = logging.getLogger(__name__)
ARTICLE_TABLES = (
    "articles", "paragraphs", "removed_lines", "captions", "quotes", "field_sources",
    "article_sources",
)  # fmt: skip
BATCH_TABLES = (*ARTICLE_TABLES, "quarantine", "learned_lines", "source_files")
# Rows about a path, not about the article's content: a repeat of content that an earlier batch
# landed still adds its path here (see drop_repeated_articles).
SOURCE_TABLE = "article_sources"
ALREADY_QUARANTINED = "already in quarantine"


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every batch of one run shares."""

    run_id: str
    ingested_at: datetime
    cleaner_version: str
    # Sets of keys: a frozenset, or a tasks.keysets.KeySet (compact to send to every batch).
    landed_hashes: Container[str] = frozenset()
    # (article_id, source_uri) pairs already in article_sources or articles. None when not
    # loaded: then a path of content landed by an earlier run is not recorded (it could be a
    # repeat of one recorded before).
    landed_sources: Container[tuple[str, str]] | None = None
    quarantined_keys: Container[tuple[str, str]] = frozenset()
    # Only the sources of the batch at hand need to be here (see prior_counts_for).
    prior_line_counts: LineCounts = field(default_factory=dict)


@dataclass(slots=True)
class BatchResult:
    """Rows of one batch per table, plus how its files were accounted for."""

    tables: dict[str, pa.Table]
    files_seen: int = 0
    files_skipped: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source_uri, why)
    row_failures: int = 0  # rows that failed validation (their articles are quarantined)
    # source_uri -> content_sha256 of every file read, until with_settled_files records them.
    digests: dict[str, str] = field(default_factory=dict)


def drop_articles(rows: pa.Table, article_ids: set[str]) -> pa.Table:
    """Rows whose article_id is not in `article_ids`."""
    unwanted = pa.array(sorted(article_ids), type=pa.string())
    return rows.filter(pc.invert(pc.is_in(rows.column("article_id"), value_set=unwanted)))


def drop_repeated_articles(tables: dict[str, pa.Table], repeats: set[str]) -> dict[str, pa.Table]:
    """Tables without the rows of articles an earlier batch landed, except their new paths."""
    if not repeats:
        return tables
    return {
        table: drop_articles(rows, repeats)
        if table in ARTICLE_TABLES and table != SOURCE_TABLE
        else rows
        for table, rows in tables.items()
    }


def article_id_for(content_sha256: str) -> str:
    """Stable article id: the first 32 hex digits of the content hash."""
    return content_sha256[:32]


class _Rows:
    """Column-wise row buffers for the batch tables."""

    def __init__(self) -> None:
        self.columns = {
            table: {name: [] for name in arrow_schema(table).names} for table in BATCH_TABLES
        }

    def add(self, table: str, **values: object) -> None:
        for name, column in self.columns[table].items():
            column.append(values[name])

    def extend(self, table: str, items: Sequence[object], **constants: object) -> None:
        """One row per item: `constants` for their columns, the item's attribute of the same
        name for every other column."""
        for name, column in self.columns[table].items():
            if name in constants:
                column.extend(repeat(constants[name], len(items)))
            else:
                column.extend(map(attrgetter(name), items))

    def to_tables(self) -> dict[str, pa.Table]:
        return {
            table: pa.Table.from_pydict(columns, schema=arrow_schema(table))
            for table, columns in self.columns.items()
        }


def _quarantine(
    rows: _Rows, doc: DecodedDocument, rejection: Rejection, context: RunContext
) -> None:
    rows.add(
        "quarantine",
        source_uri=doc.source.source_uri,
        content_sha256=doc.content_sha256,
        file_size_bytes=doc.source.size_bytes,
        stage=rejection.stage,
        check_name=rejection.check_name,
        error=rejection.error,
        failure_case=rejection.failure_case,
        run_id=context.run_id,
        quarantined_at=context.ingested_at,
    )


def _add_article(
    rows: _Rows, doc: DecodedDocument, outcome: tuple[ExtractedArticle, str], context: RunContext
) -> None:
    article, confidence = outcome
    article_id = article_id_for(doc.content_sha256)
    rows.add(
        "articles",
        article_id=article_id,
        source_uri=doc.source.source_uri,
        content_sha256=doc.content_sha256,
        publisher=article.publisher,
        title=article.title,
        subtitle=article.subtitle,
        author=article.author,
        published_at=article.published_at,
        published_at_text=article.published_at_text,
        date_confidence=article.date_confidence,
        updated_at=article.updated_at,
        section=article.section,
        dateline=article.dateline,
        update_note=article.update_note,
        language=article.language,
        body_text=article.body_text,
        word_count=article.word_count,
        encoding=doc.encoding,
        cleaner_version=context.cleaner_version,
        cleaning_confidence=confidence,
        run_id=context.run_id,
        ingested_at=context.ingested_at,
        story_id=None,  # filled by story assignment (tasks/stories)
        duplicate_of=None,
        originality=None,
    )
    _add_source(rows, article_id, doc.source.source_uri, context)
    rows_of_article = (
        ("paragraphs", article.paragraphs),
        ("removed_lines", article.removals),
        ("captions", article.captions),
        ("quotes", article.quotes),
        ("field_sources", article.field_sources),
    )
    for table, items in rows_of_article:
        rows.extend(table, items, article_id=article_id)


def _add_source(rows: _Rows, article_id: str, source_uri: str, context: RunContext) -> None:
    rows.add(
        SOURCE_TABLE,
        article_id=article_id,
        source_uri=source_uri,
        run_id=context.run_id,
        seen_at=context.ingested_at,
    )


def clean_page_body(text: str, rules: RuleSet, settings: Settings) -> str:
    """The body_text ingest would land for a decoded page (used by the evaluation)."""
    cleaned = clean_text(normalize_text(text), rules, settings)
    return extract_article(cleaned, "", settings).body_text


def _article_or_rejection(
    doc: DecodedDocument, rules: RuleSet, settings: Settings, learned: frozenset[str]
) -> tuple[ExtractedArticle, str] | Rejection:
    try:
        cleaned = clean_text(doc.text, rules, settings, learned)
        article = extract_article(cleaned, doc.source.source_uri, settings)
    except Exception as error:  # one bad document must not stop the run
        LOGGER.exception("cleaner failed on %s", doc.source.source_uri)
        return Rejection(
            stage="clean",
            check_name="cleaner_error",
            error=f"the cleaner failed on this file ({type(error).__name__}: {error}); "
            "this is a bug in news-etl: please report it with the file",
        )
    if not article.paragraphs:
        return Rejection(
            stage="clean",
            check_name="no_article_text",
            error=f"no article text found: all {len(cleaned.lines)} non-blank lines were "
            "navigation, labels or boilerplate; check that the file is an article page",
        )
    return article, cleaned.confidence


def process_batch(
    sources: Sequence[SourceFile], rules: RuleSet, settings: Settings, context: RunContext
) -> BatchResult:
    """Read, clean and extract each file; rows for landed articles and quarantined files.

    Two passes: decode every file and count its short lines per source (learned boilerplate
    sees this batch as well as earlier runs), then clean each page with what was learned.
    """
    rows = _Rows()
    result = BatchResult(tables={}, files_seen=len(sources))
    seen_hashes: set[str] = set()
    decoded: list[DecodedDocument] = []
    other_paths: dict[str, list[str]] = {}  # content first seen in this batch -> later paths
    for source, doc in zip(sources, read_documents(sources, settings), strict=True):
        digest = doc.content_sha256
        if digest is not None:
            result.digests[source.source_uri] = digest
        if digest in context.landed_hashes or digest in seen_hashes:
            result.files_skipped += 1
            result.skipped.append((source.source_uri, "content already landed"))
            if digest in seen_hashes:
                other_paths[digest].append(source.source_uri)
            elif context.landed_sources is not None:
                key = (article_id_for(digest), source.source_uri)
                if key not in context.landed_sources:
                    _add_source(rows, key[0], key[1], context)
            continue
        if (source.source_uri, digest) in context.quarantined_keys:
            result.files_skipped += 1
            result.skipped.append((source.source_uri, ALREADY_QUARANTINED))
            continue
        if doc.rejection is not None:
            _quarantine(rows, doc, doc.rejection, context)
            continue
        seen_hashes.add(digest)
        other_paths[digest] = []
        decoded.append(doc)
    pages = [(source_key(doc.source.source_uri), page_lines(doc.text, settings)) for doc in decoded]
    counts = LearnedCounts.from_pages(pages)
    for doc, (source, page) in zip(decoded, pages, strict=True):
        learned = learned_keys(source, page, context.prior_line_counts, counts, settings)
        outcome = _article_or_rejection(doc, rules, settings, learned)
        if isinstance(outcome, Rejection):
            _quarantine(rows, doc, outcome, context)
            continue
        _add_article(rows, doc, outcome, context)
        for uri in other_paths[doc.content_sha256]:
            _add_source(rows, article_id_for(doc.content_sha256), uri, context)
    for (source, key), doc_count in counts.counts.items():
        rows.add(
            "learned_lines",
            source_key=source,
            line_key=key,
            text=counts.texts[(source, key)],
            doc_count=doc_count,
            run_id=context.run_id,
        )
    result.tables = rows.to_tables()
    return result


def with_settled_files(
    result: BatchResult, sources: Sequence[SourceFile], context: RunContext
) -> BatchResult:
    """The result with its `source_files` rows: each file read whose modification time was
    listed and whose content lands (or landed before) or which is in quarantine. Call it after
    validation, which may quarantine articles: a repeat of their content is not recorded, so
    the next run reads it again."""
    quarantined = set(result.tables["quarantine"].column("source_uri").to_pylist())
    quarantined.update(uri for uri, why in result.skipped if why == ALREADY_QUARANTINED)
    landing = set(result.tables["articles"].column("content_sha256").to_pylist())
    rows: dict[str, list] = {name: [] for name in arrow_schema("source_files").names}
    for source in sources:
        digest = result.digests.get(source.source_uri)
        if digest is None or source.modified_ns is None:
            continue
        if source.source_uri in quarantined:
            settled_as = "quarantined"
        elif digest in landing or digest in context.landed_hashes:
            settled_as = "landed"
        else:
            continue
        rows["source_uri"].append(source.source_uri)
        rows["size_bytes"].append(source.size_bytes)
        rows["modified_ns"].append(source.modified_ns)
        rows["content_sha256"].append(digest)
        rows["settled_as"].append(settled_as)
        rows["run_id"].append(context.run_id)
    result.tables["source_files"] = pa.Table.from_pydict(rows, schema=arrow_schema("source_files"))
    result.digests = {}
    return result


def merge_batches(results: Sequence[BatchResult]) -> BatchResult:
    """Concatenate batch results; content landed by an earlier batch counts as skipped."""
    merged = BatchResult(tables={})
    kept_ids: set[str] = set()
    pieces: dict[str, list[pa.Table]] = {table: [] for table in BATCH_TABLES}
    for result in results:
        merged.files_seen += result.files_seen
        merged.files_skipped += result.files_skipped
        merged.skipped.extend(result.skipped)
        merged.row_failures += result.row_failures
        articles = result.tables["articles"]
        ids = articles.column("article_id").to_pylist()
        repeats = {article_id for article_id in ids if article_id in kept_ids}
        kept_ids.update(ids)
        for uri, article_id in zip(articles.column("source_uri").to_pylist(), ids, strict=True):
            if article_id in repeats:
                merged.files_skipped += 1
                merged.skipped.append((uri, "content already landed"))
        tables = drop_repeated_articles(result.tables, repeats)
        for table in BATCH_TABLES:
            pieces[table].append(tables[table])
    merged.tables = {
        table: pa.concat_tables(parts) if parts else arrow_schema(table).empty_table()
        for table, parts in pieces.items()
    }
    return merged
