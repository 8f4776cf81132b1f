"""Pandera models for every warehouse table.

The Arrow schemas (`schemas.arrow`) and the data dictionary (`docs/tables.md`) are derived from
these models; nothing else restates a column list.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

ACCEPTED_PARAGRAPH_KINDS = ("paragraph", "heading")
ACCEPTED_QUARANTINE_STAGES = ("discover", "read", "decode", "clean", "extract", "validate")
ACCEPTED_RUN_STATUSES = ("succeeded", "failed")
ACCEPTED_CLEANING_CONFIDENCE = ("high", "low", "fallback")
ACCEPTED_DATE_CONFIDENCE = ("high", "ambiguous_day_month", "update_stamp_only")
ACCEPTED_SIGNATURE_KINDS = ("passage", "band", "name", "title")
ACCEPTED_FILE_OUTCOMES = ("landed", "quarantined")
ACCEPTED_SOURCED_FIELDS = (
    "title", "subtitle", "author", "published_at", "publisher", "section", "dateline",
)  # fmt: skip

SHA256_HEX = r"^[0-9a-f]{64}$"
RULE_ID = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$"


class ContractModel(pa.DataFrameModel):
    """Shared configuration: exact column set, values coerced to the declared types."""

    class Config:
        strict = True
        coerce = True


class ArticleKey(ContractModel):
    """Columns shared by every per-article table."""

    article_id: Series[str] = pa.Field(
        str_length={"min_value": 32, "max_value": 32},
        description="Stable article id: the first 32 hex digits of content_sha256.",
    )


class Articles(ArticleKey):
    """One row per landed article: cleaned body plus the metadata the text states."""

    article_id: Series[str] = pa.Field(
        unique=True,
        str_length={"min_value": 32, "max_value": 32},
        description="Stable article id: the first 32 hex digits of content_sha256.",
    )
    source_uri: Series[str] = pa.Field(
        description="Where the file was read from (file:// or s3:// URI)."
    )
    content_sha256: Series[str] = pa.Field(
        unique=True, str_matches=SHA256_HEX, description="SHA-256 of the raw file bytes."
    )
    publisher: Series[str] = pa.Field(
        nullable=True,
        description="Site or publication name, from a masthead, copyright or footer line.",
    )
    title: Series[str] = pa.Field(nullable=True, description="Headline; null when none was found.")
    subtitle: Series[str] = pa.Field(
        nullable=True, description="Dek or standfirst under the headline."
    )
    author: Series[str] = pa.Field(
        nullable=True, description="Byline as printed (names joined by ', ' when several)."
    )
    published_at: Series[pd.Timestamp] = pa.Field(
        nullable=True,
        description="Publication time as printed (wall-clock time, time zone not converted); "
        "null when the text does not say.",
    )
    published_at_text: Series[str] = pa.Field(
        nullable=True, description="The text published_at was parsed from."
    )
    date_confidence: Series[str] = pa.Field(
        nullable=True,
        isin=list(ACCEPTED_DATE_CONFIDENCE),
        description="How sure published_at is: 'high'; 'ambiguous_day_month' when the text "
        "allows both orders (01/07/2022, read month first); 'update_stamp_only' when only an "
        "update time is printed. Null when there is no date.",
    )
    updated_at: Series[pd.Timestamp] = pa.Field(
        nullable=True,
        description="Update time printed beside the publication time (wall clock, as printed).",
    )
    section: Series[str] = pa.Field(nullable=True, description="Section or category label.")
    dateline: Series[str] = pa.Field(
        nullable=True,
        description="Place (and agency) opening the first paragraph, e.g. 'TOKYO'; "
        "removed from the body.",
    )
    update_note: Series[str] = pa.Field(
        nullable=True, description="Revision marker such as '2nd UPDATE' or '(Updates with ...)'."
    )
    language: Series[str] = pa.Field(
        nullable=True,
        str_matches=r"^[a-z]{2}$",
        description="ISO 639-1 code of the body, from py3langid; null when the body is too short.",
    )
    body_text: Series[str] = pa.Field(
        str_length={"min_value": 1},
        description="Cleaned article body: paragraphs and subheadings joined by a blank line; "
        "no headline, byline, captions or credits.",
    )
    word_count: Series[int] = pa.Field(ge=1, description="Words in body_text.")
    encoding: Series[str] = pa.Field(description="Encoding the raw bytes were decoded from.")
    cleaner_version: Series[str] = pa.Field(
        description="Fingerprint of the rule table and cleaner code that produced this row."
    )
    cleaning_confidence: Series[str] = pa.Field(
        isin=list(ACCEPTED_CLEANING_CONFIDENCE),
        description="'high': the body is a clear block of prose; 'low': little prose evidence; "
        "'fallback': the classifier kept nothing, so the longest block was kept.",
    )
    run_id: Series[str] = pa.Field(description="The run that landed this row (see runs).")
    ingested_at: Series[pd.Timestamp] = pa.Field(description="When the row was landed (UTC).")
    story_id: Series[str] = pa.Field(
        nullable=True,
        str_length={"min_value": 32, "max_value": 32},
        description="The story (news event) the article belongs to: the article_id of the "
        "first article assigned to it (landing order; within a batch, publication order); "
        "never changes once landed. Null for articles landed before stories were assigned. "
        "See docs/stories.md.",
    )
    duplicate_of: Series[str] = pa.Field(
        nullable=True,
        str_length={"min_value": 32, "max_value": 32},
        description="The earlier article this one republishes with small edits (a near "
        "duplicate: edits, reordering, truncation, other boilerplate); always the original, "
        "never another copy. Null when the article is not a copy.",
    )
    originality: Series[float] = pa.Field(
        nullable=True,
        ge=0.0,
        le=1.0,
        description="Share of the body's words in paragraphs not found in earlier articles of "
        "its story (1.0: all its own; 0.0: all shared). Null when not assigned, or when the "
        "body has subheadings only.",
    )


class Paragraphs(ArticleKey):
    """The body of each article, one row per paragraph or subheading, in reading order."""

    position: Series[int] = pa.Field(ge=0, description="0-based order within the article body.")
    kind: Series[str] = pa.Field(
        isin=list(ACCEPTED_PARAGRAPH_KINDS), description="'paragraph' or 'heading' (a subheading)."
    )
    text: Series[str] = pa.Field(str_length={"min_value": 1}, description="Paragraph text.")
    line_number: Series[int] = pa.Field(ge=1, description="1-based line in the input file.")


class RemovedLines(ArticleKey):
    """Every non-blank input line that is not body text, with the rule that took it out."""

    line_number: Series[int] = pa.Field(ge=1, description="1-based line in the input file.")
    text: Series[str] = pa.Field(description="The line as read (after whitespace normalization).")
    rule_id: Series[str] = pa.Field(
        str_matches=RULE_ID,
        description="Id of the rule that removed the line (see tasks/clean/rules.toml); "
        "'metadata.*' ids mark lines that became a metadata field.",
    )
    reason: Series[str] = pa.Field(description="Why the rule removes such lines.")


class Captions(ArticleKey):
    """Photo captions and credits found in the article."""

    line_number: Series[int] = pa.Field(ge=1, description="Line of the caption (or credit).")
    text: Series[str] = pa.Field(
        nullable=True, description="Caption text; null when the page prints only a credit."
    )
    credit: Series[str] = pa.Field(
        nullable=True, description="Photographer or agency credited, e.g. 'AFP'."
    )


class Quotes(ArticleKey):
    """Quotations in the article body, with the speaker when the text attributes one."""

    position: Series[int] = pa.Field(
        ge=0, description="Body paragraph holding the quote (paragraphs.position)."
    )
    text: Series[str] = pa.Field(
        str_length={"min_value": 1}, description="The quoted words, without the quote marks."
    )
    speaker: Series[str] = pa.Field(
        nullable=True,
        description="Who said it, as the text names them ('Daniel Russel', 'their statement'); "
        "null when the text does not attribute the quote or names only a pronoun.",
    )


class FieldSources(ArticleKey):
    """Evidence for the article's metadata: the input line each field value was read from."""

    field: Series[str] = pa.Field(
        isin=list(ACCEPTED_SOURCED_FIELDS),
        description="The articles column the evidence is for, e.g. 'title' or 'author'.",
    )
    line_number: Series[int] = pa.Field(
        ge=1,
        nullable=True,
        description="1-based input line the value came from; null when it came from the source "
        "URL (publisher read from the host).",
    )
    evidence: Series[str] = pa.Field(
        description="That line as read, or the source URL when line_number is null."
    )


class Quarantine(ContractModel):
    """Inputs that could not be landed, with a reason a person can act on."""

    source_uri: Series[str] = pa.Field(description="Where the file was read from.")
    content_sha256: Series[str] = pa.Field(
        nullable=True,
        str_matches=SHA256_HEX,
        description="SHA-256 of the raw bytes; null if unreadable.",
    )
    file_size_bytes: Series[int] = pa.Field(ge=0, nullable=True, description="Size on disk.")
    stage: Series[str] = pa.Field(
        isin=list(ACCEPTED_QUARANTINE_STAGES), description="Pipeline stage that rejected the input."
    )
    check_name: Series[str] = pa.Field(
        description="Short machine-readable name of the failed check, e.g. 'empty_file'."
    )
    error: Series[str] = pa.Field(description="Plain-words reason and what to do about it.")
    failure_case: Series[str] = pa.Field(
        nullable=True, description="The offending value, for schema failures."
    )
    run_id: Series[str] = pa.Field(description="The run that quarantined the input.")
    quarantined_at: Series[pd.Timestamp] = pa.Field(description="When (UTC).")


class Runs(ContractModel):
    """One row per ingest run, written in the same transaction as its data."""

    run_id: Series[str] = pa.Field(
        unique=True, description="Run id (also the Prefect flow run id)."
    )
    started_at: Series[pd.Timestamp] = pa.Field(description="Start time (UTC).")
    finished_at: Series[pd.Timestamp] = pa.Field(description="End time (UTC).")
    status: Series[str] = pa.Field(
        isin=list(ACCEPTED_RUN_STATUSES), description="'succeeded' or 'failed'."
    )
    sources: Series[str] = pa.Field(description="Source paths given to the run, joined by ';'.")
    files_seen: Series[int] = pa.Field(ge=0, description="Files discovered.")
    articles_landed: Series[int] = pa.Field(ge=0, description="New articles landed.")
    files_quarantined: Series[int] = pa.Field(ge=0, description="Files sent to quarantine.")
    files_skipped: Series[int] = pa.Field(
        ge=0, description="Files already landed or quarantined before, or repeats within the run."
    )
    cleaner_version: Series[str] = pa.Field(description="Cleaner fingerprint used by the run.")
    stage_seconds: Series[str] = pa.Field(description="JSON object: seconds spent per stage.")
    snapshot_id: Series[int] = pa.Field(
        nullable=True,
        ge=1,
        description="DuckLake snapshot created by this run's commit: read the warehouse as of "
        "this run with `news-etl query --as-of RUN_ID`. Null for runs landed before it was "
        "recorded.",
    )


class LearnedLines(ContractModel):
    """Short lines counted per source and run: the evidence for learned boilerplate.

    Append-only; the pages seen for a line are the sum of doc_count over runs.
    """

    source_key: Series[str] = pa.Field(
        description="The site: URL host, else the folder the file was read from."
    )
    line_key: Series[str] = pa.Field(
        str_matches=r"^[0-9a-f]{16}$",
        description="Hash of the line, insensitive to case, spacing and punctuation.",
    )
    text: Series[str] = pa.Field(description="The line as first seen.")
    doc_count: Series[int] = pa.Field(ge=1, description="Pages of this run that printed the line.")
    run_id: Series[str] = pa.Field(description="The run that counted them.")


class ArticleSources(ArticleKey):
    """Every path an article was read from: the same content at a second path is one article
    with two sources. Append-only; a path is recorded once per article."""

    source_uri: Series[str] = pa.Field(description="Where a file with this content was read.")
    run_id: Series[str] = pa.Field(description="The run that first saw the content at this path.")
    seen_at: Series[pd.Timestamp] = pa.Field(description="When that run started (UTC).")


class SourceFiles(ContractModel):
    """Every state of a file a run settled: its path, size and modification time as listed, and
    what became of its content. A later run skips a file listed with the same path, size and
    modification time without reading it. Append-only; files that could not be read, or whose
    modification time was not listed, are not recorded (they are read again)."""

    source_uri: Series[str] = pa.Field(description="Where the file was listed.")
    size_bytes: Series[int] = pa.Field(ge=0, description="Size as listed, in bytes.")
    modified_ns: Series[int] = pa.Field(
        description="Modification time as listed, in nanoseconds since the Unix epoch (object "
        "storage: the object's LastModified)."
    )
    content_sha256: Series[str] = pa.Field(
        str_matches=SHA256_HEX, description="SHA-256 of the bytes read."
    )
    settled_as: Series[str] = pa.Field(
        isin=list(ACCEPTED_FILE_OUTCOMES),
        description="'landed': the content is in articles (this file's article, or an earlier "
        "one with the same content); 'quarantined': the file is in quarantine.",
    )
    run_id: Series[str] = pa.Field(description="The run that read the file in this state.")


class SharedPassages(ArticleKey):
    """Paragraphs an article shares with an earlier article: syndicated or copied text. One
    row per paragraph found earlier: its closest match, the earliest article on a tie."""

    position: Series[int] = pa.Field(ge=0, description="The paragraph (paragraphs.position).")
    other_article_id: Series[str] = pa.Field(
        str_length={"min_value": 32, "max_value": 32},
        description="The earlier article holding the same passage.",
    )
    other_position: Series[int] = pa.Field(
        ge=0, description="The paragraph of the earlier article (paragraphs.position)."
    )
    similarity: Series[float] = pa.Field(
        ge=0.0,
        le=1.0,
        description="Share of the shorter paragraph's sampled word 4-grams found in the other.",
    )


class StorySignatures(ArticleKey):
    """What story assignment keeps of each article, so later runs assign without re-reading
    bodies: sampled paragraph shingles, MinHash LSH bands, names and headline words."""

    kind: Series[str] = pa.Field(
        isin=list(ACCEPTED_SIGNATURE_KINDS),
        description="'passage' (a sampled word 4-gram of a paragraph), 'band' (a MinHash LSH "
        "band of the body), 'name' (a capitalized name), 'title' (a headline word).",
    )
    position: Series[int] = pa.Field(
        ge=0, description="Paragraph position for 'passage', band number for 'band', else 0."
    )
    key: Series[int] = pa.Field(description="64-bit hash (see tasks/stories/signatures.py).")


TABLE_MODELS: dict[str, type[ContractModel]] = {
    "articles": Articles,
    "paragraphs": Paragraphs,
    "removed_lines": RemovedLines,
    "captions": Captions,
    "quotes": Quotes,
    "field_sources": FieldSources,
    "quarantine": Quarantine,
    "runs": Runs,
    "learned_lines": LearnedLines,
    "article_sources": ArticleSources,
    "source_files": SourceFiles,
    "shared_passages": SharedPassages,
    "story_signatures": StorySignatures,
}


class Stories(ContractModel):
    """View `stories`: one row per story, computed from articles (always current)."""

    story_id: Series[str] = pa.Field(description="articles.story_id.")
    title: Series[str] = pa.Field(
        nullable=True,
        description="Headline of the story's earliest published article that has one "
        "(undated articles after dated ones, then by landing time).",
    )
    first_published_at: Series[pd.Timestamp] = pa.Field(
        nullable=True, description="Earliest published_at of its articles."
    )
    last_published_at: Series[pd.Timestamp] = pa.Field(
        nullable=True, description="Latest published_at of its articles."
    )
    article_count: Series[int] = pa.Field(ge=1, description="Articles in the story.")
    original_count: Series[int] = pa.Field(
        ge=0, description="Articles that are not near duplicates of another."
    )
    publishers: Series[str] = pa.Field(
        nullable=True, description="Distinct publishers, sorted, joined by ', '."
    )


class StoryTimeline(ContractModel):
    """View `story_timeline`: the articles of each story in publication order."""

    story_id: Series[str] = pa.Field(description="articles.story_id.")
    story_title: Series[str] = pa.Field(nullable=True, description="stories.title.")
    story_position: Series[int] = pa.Field(
        ge=1, description="1 for the story's earliest article (undated last), 2 next..."
    )
    published_at: Series[pd.Timestamp] = pa.Field(nullable=True, description="As printed.")
    publisher: Series[str] = pa.Field(nullable=True, description="The outlet.")
    title: Series[str] = pa.Field(nullable=True, description="The article's headline.")
    article_id: Series[str] = pa.Field(description="The article.")
    duplicate_of: Series[str] = pa.Field(nullable=True, description="articles.duplicate_of.")
    originality: Series[float] = pa.Field(nullable=True, description="articles.originality.")
    source_uri: Series[str] = pa.Field(description="Where it was read from.")


class SyndicatedPassages(ContractModel):
    """View `syndicated_passages`: passages carried by other articles, most copied first.

    A passage is named by its first carrier: an article paragraph that copies no earlier one.
    """

    article_id: Series[str] = pa.Field(description="The first article carrying the passage.")
    position: Series[int] = pa.Field(ge=0, description="Its paragraph position there.")
    text: Series[str] = pa.Field(description="The paragraph as that article prints it.")
    publisher: Series[str] = pa.Field(nullable=True, description="That article's publisher.")
    story_id: Series[str] = pa.Field(nullable=True, description="That article's story.")
    copies: Series[int] = pa.Field(ge=1, description="Later articles carrying the passage.")
    copying_publishers: Series[int] = pa.Field(ge=0, description="Distinct publishers among them.")
    first_copied_at: Series[pd.Timestamp] = pa.Field(
        nullable=True, description="Earliest published_at among the copies."
    )
    last_copied_at: Series[pd.Timestamp] = pa.Field(
        nullable=True, description="Latest published_at among the copies."
    )


# Views over the tables (warehouse/stories.py creates them); not tables, so not in the contract.
VIEW_MODELS: dict[str, type[ContractModel]] = {
    "stories": Stories,
    "story_timeline": StoryTimeline,
    "syndicated_passages": SyndicatedPassages,
}
