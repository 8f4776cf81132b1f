"""Plain data passed between pipeline stages."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file found under a source, before it is read."""

    path: Path
    source_uri: str
    size_bytes: int
    modified_ns: int | None = None  # modification time as listed; None when not known


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input cannot be landed, in words a person can act on."""

    stage: str  # one of schemas.ACCEPTED_QUARANTINE_STAGES
    check_name: str  # short machine-readable name, e.g. "empty_file"
    error: str  # plain-words reason and what to do about it
    failure_case: str | None = None


@dataclass(frozen=True, slots=True)
class DecodedDocument:
    """A file read and decoded: either text or a rejection."""

    source: SourceFile
    content_sha256: str | None
    text: str | None
    encoding: str | None
    rejection: Rejection | None = None
