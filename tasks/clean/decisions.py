"""What the cleaner returns: a decision for every non-blank line (plain, never compiled).

Kept out of `tasks.clean.engine` so that these records are the same Python classes whether the
engine runs compiled (see `tasks.clean.native`) or as source.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

KEPT_ROLES = ("paragraph", "heading")


@dataclass(frozen=True, slots=True)
class LineDecision:
    """What the cleaner decided for one non-blank input line."""

    line_number: int
    text: str  # the line as read (whitespace collapsed)
    content: str  # the text the line contributes: markers stripped (body, dek)
    role: str  # "paragraph" / "heading" when kept, else the removal role
    rule_id: str | None
    reason: str | None
    value: str | None = None  # captured field value: credit, byline, timestamp, publisher...
    caption: str | None = None  # caption text, for caption lines
    attached: bool = False  # a credit already joined to the caption above it
    marker: str | None = None  # wire update marker such as '2nd UPDATE'

    @property
    def kept(self) -> bool:
        return self.role in KEPT_ROLES


@dataclass(frozen=True, slots=True)
class CleanedDocument:
    """Every non-blank line of the input with its decision, in input order."""

    lines: tuple[LineDecision, ...]
    confidence: str = "high"  # one of schemas.ACCEPTED_CLEANING_CONFIDENCE

    @property
    def body(self) -> tuple[LineDecision, ...]:
        return tuple(line for line in self.lines if line.kept)

    @property
    def removed(self) -> tuple[LineDecision, ...]:
        return tuple(line for line in self.lines if not line.kept)

    @property
    def body_text(self) -> str:
        return "\n\n".join(line.content for line in self.body)


class ClassifiedLine(Protocol):
    """The engine's working record of a line, as far as a decision reads it."""

    number: int
    text: str
    kept_text: str | None
    role: str
    rule: Any  # tasks.clean.rules.Rule or None: its id and reason are cited
    value: str | None
    caption: str | None
    attached: bool
    marker: str | None


class _MutableDecision:
    """LineDecision's slots without its frozen __setattr__: built, then retyped in place."""

    __slots__ = LineDecision.__slots__


def decisions_of(lines: Iterable[ClassifiedLine]) -> tuple[LineDecision, ...]:
    """The lines as LineDecisions, built without the frozen dataclass's __init__.

    That __init__ sets each field through object.__setattr__, which costs more than classifying
    the line did. Each decision is filled as a _MutableDecision (same slots, same layout) and
    then given the LineDecision class: the objects are the same as the constructor's.
    """
    new = object.__new__
    decisions = []
    for line in lines:
        decision: Any = new(_MutableDecision)
        decision.line_number = line.number
        decision.text = line.text
        decision.content = line.kept_text or line.text
        decision.role = line.role
        rule = line.rule if line.role not in KEPT_ROLES else None
        decision.rule_id = rule.id if rule else None
        decision.reason = rule.reason if rule else None
        decision.value = line.value
        decision.caption = line.caption
        decision.attached = line.attached
        decision.marker = line.marker
        decision.__class__ = LineDecision
        decisions.append(decision)
    return tuple(decisions)
