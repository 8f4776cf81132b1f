"""Table contracts: pandera models are the single source of truth for every table."""

from schemas.tables import (
    ACCEPTED_PARAGRAPH_KINDS,
    ACCEPTED_QUARANTINE_STAGES,
    ACCEPTED_RUN_STATUSES,
    TABLE_MODELS,
    Articles,
    Captions,
    FieldSources,
    Paragraphs,
    Quarantine,
    Quotes,
    RemovedLines,
    Runs,
)

__all__ = [
    "ACCEPTED_PARAGRAPH_KINDS",
    "ACCEPTED_QUARANTINE_STAGES",
    "ACCEPTED_RUN_STATUSES",
    "TABLE_MODELS",
    "Articles",
    "Captions",
    "FieldSources",
    "Paragraphs",
    "Quarantine",
    "Quotes",
    "RemovedLines",
    "Runs",
]
