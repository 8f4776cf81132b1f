"""Line classifier: decide for every line of a scraped page whether it is article body.

`clean_text` never names a phrase: phrases live in the rule table (`rules.toml`), and the
structural detectors below look only at the shape of lines and their neighbours. Every line that
is not body gets a role and the id of the rule that took it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from tasks.clean.learned import is_learnable, line_key
from tasks.clean.rules import Rule, RuleSet
from tasks.extract.bylines import dated_byline_value
from tasks.extract.dates import parse_timestamp_line
from tasks.settings import Settings

KEPT_ROLES = ("paragraph", "heading")
# Roles that sit between two printings of a line without breaking the repeat.
_TRANSPARENT_ROLES = frozenset(
    {"boilerplate", "layout", "credit", "print_footer", "timestamp_unparsed", "duplicate"}
)
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W+")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]»]*(?:\s*[-–—])?$")
_BULLET = re.compile(r"^[-•·*]\s+")
_NAME_WORD = re.compile(r"^(?:[A-Z][\w.'’-]*|and|&|de|van|von|der|da|di|la|le|bin|al|staff)$")
# Domains, handles and counters mark teaser cards and widgets rather than article text.
_LABEL_LIKE = re.compile(
    r"\b[\w-]+\.(?:com|org|net|co|io|uk|de|fr|it|kr|in)\b|(?:^|\s)@\w|^\d+\s+\w+$"
)
_YEAR_OR_ISO = re.compile(r"(?:19|20)\d\d")
_DIGIT = re.compile(r"\d")
# A byline may stand on the first or second line under the headline ("Jo Lee @jolee").
_BYLINE_BELOW_HEADLINE_REACH = 2
_BYLINE_MAX_WORDS = 4
_HANDLE_TAIL = re.compile(r"(?:\s+@\w+)+$")
# Headline evidence: a byline or timestamp within this many lines below (or above) the line,
# and prose within this many lines after it.
_ANCHOR_ROLES = frozenset({"byline", "timestamp", "timestamp_unparsed"})
_HEADLINE_ANCHOR_REACH = 3
_HEADLINE_USUAL_MAX_WORDS = 20
_HEADLINE_MIN_WORDS = 4
_TITLE_CASE_SHARE = 0.7
# A sentence break inside a line ("... in Austria. Leonhard Foeger / Reuters"): a caption or prose.
# Addresses and quote attributions ("— David McKinley on Sunday ...") are never the headline.
_NOT_A_HEADLINE = re.compile(r"://|^www\.|^[—–]")
_INNER_SENTENCE = re.compile(r"[a-z]{3,}[.!?] [A-Z]")
_HEADLINE_ANCHOR_ABOVE = 3
_HEADLINE_PROSE_REACH = 10
_HEADLINE_MIN_SCORE = 3
# Lines longer than this are never tested against line rules (captions are shorter).
_RULE_MAX_WORDS = 90


@dataclass(slots=True)
class _Line:
    """Working record for one non-blank line (private to the engine)."""

    number: int
    text: str
    words: int
    sentence: bool
    prose: bool
    role: str = "paragraph"
    rule: Rule | None = None
    value: str | None = None
    caption: str | None = None
    kept_text: str | None = None
    marker: str | None = None
    attached: bool = False
    duplicate_of: int | None = None
    learned: bool = False


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


def _is_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text))


def _split_lines(text: str, settings: Settings) -> list[_Line]:
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        tokens = raw.split()
        if not tokens:
            continue
        collapsed = " ".join(tokens)
        words = len(_WORD.findall(collapsed)) if len(tokens) < 4 else len(tokens)
        sentence = _is_sentence(collapsed)
        lines.append(
            _Line(
                number=number,
                text=collapsed,
                words=words,
                sentence=sentence,
                prose=sentence and words >= settings.prose_min_words,
            )
        )
    return lines


def _claim(line: _Line, rule: Rule, role: str | None = None, value: str | None = None) -> None:
    line.role = role or rule.role
    line.rule = rule
    if value is not None:
        line.value = value


def _body_span(lines: list[_Line]) -> tuple[int, int]:
    """Indexes of the first and last kept prose line; (len, -1) when there is none."""
    prose = [i for i, line in enumerate(lines) if line.role == "paragraph" and line.prose]
    return (prose[0], prose[-1]) if prose else (len(lines), -1)


def _match_line_rule(line: _Line, rule: Rule) -> bool:
    if rule.kind == "line_detector":
        parsed = LINE_DETECTORS[rule.pattern](line.text)
        if parsed is None:
            return False
        _claim(line, rule, value=parsed)
        return True
    match = rule.regex.match(line.text)
    if match is None:
        return False
    groups = match.groupdict()
    _claim(line, rule, value=(groups.get("value") or groups.get("credit") or None))
    if rule.role == "caption":
        line.caption = (groups.get("caption") or "").strip() or None
    if rule.role == "update_marker":
        line.marker = line.value
        line.kept_text = (groups.get("rest") or "").strip() or None
    return True


def _apply_line_rules(lines: list[_Line], rule_set: RuleSet, scope: str) -> None:
    scoped = [rule for rule in rule_set.line_rules if rule.scope == scope]
    detectors = [rule for rule in scoped if rule.kind == "line_detector"]
    prefilter = rule_set.prefilter(scope)
    if scope == "outside_body":
        first, last = _body_span(lines)
        candidates = lines[:first] + lines[last + 1 :]
    else:
        candidates = lines
    for line in candidates:
        if line.role != "paragraph" or line.words > _RULE_MAX_WORDS:
            continue
        # Most lines match no regex rule: one combined search tells, then only detectors run.
        may_match = prefilter is not None and prefilter.match(line.text) is not None
        for rule in scoped if may_match else detectors:
            if _match_line_rule(line, rule):
                break


def _timestamp_value(text: str) -> str | None:
    if len(text) > 80 or not _YEAR_OR_ISO.search(text):  # cheap test before the parser
        return None
    parsed = parse_timestamp_line(text)
    return parsed.text if parsed else None


def _dated_byline_value(text: str) -> str | None:
    if len(text) > 200 or not _DIGIT.search(text):  # cheap test before the parser
        return None
    return dated_byline_value(text)


LINE_DETECTORS: dict[str, Callable[[str], str | None]] = {
    "timestamp": _timestamp_value,
    "dated_byline": _dated_byline_value,
}


# ---------------------------------------------------------------------- structural detectors
def _previous_index(lines: list[_Line], index: int, skip: frozenset[str]) -> int | None:
    for j in range(index - 1, -1, -1):
        if lines[j].role not in skip:
            return j
    return None


def _next_index(lines: list[_Line], index: int, skip: frozenset[str]) -> int | None:
    for j in range(index + 1, len(lines)):
        if lines[j].role not in skip:
            return j
    return None


def _learned_boilerplate(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    for line in lines:
        if line.learned and line.role == "paragraph" and is_learnable(line.text, settings):
            _claim(line, rule)


def _caption_before_credit(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    for i, line in enumerate(lines):
        if line.role != "credit" or line.rule is None or line.rule.attach != "previous" or i == 0:
            continue
        above = lines[i - 1]
        if above.role == "paragraph" and above.words <= settings.headline_max_words * 3:
            _claim(above, rule, value=line.value)
            above.caption = above.text
            line.attached = True


def _repeat_keys(line: _Line) -> set[str]:
    keys = {_NON_WORD.sub("", line.text.casefold())}
    if line.caption:
        keys.add(_NON_WORD.sub("", line.caption.casefold()))
        if line.value:
            keys.add(_NON_WORD.sub("", f"{line.value} {line.caption}".casefold()))
    return keys


def _printed_twice(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    previous_keys: set[str] = set()
    previous_index: int | None = None
    for i, line in enumerate(lines):
        if line.role in _TRANSPARENT_ROLES:
            continue
        if line.role not in ("paragraph", "caption"):
            previous_keys, previous_index = set(), None
            continue
        if previous_index is not None and _NON_WORD.sub("", line.text.casefold()) in previous_keys:
            _claim(line, rule)
            line.duplicate_of = previous_index
            continue
        previous_keys, previous_index = _repeat_keys(line), i


def _is_name_line(text: str) -> bool:
    words = _BULLET.sub("", text).split()
    return (
        1 <= len(words) <= 6
        and not any(char.isdigit() for char in text)
        and not _is_sentence(text)
        and all(_NAME_WORD.match(word.strip(",")) for word in words)
        and any(word[0].isupper() for word in words)
    )


def _byline_beside_timestamp(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    skip = frozenset({"layout"})
    for i, line in enumerate(lines):
        if line.role != "timestamp":
            continue
        for j in (_previous_index(lines, i, skip), _next_index(lines, i, skip)):
            # One word beside a date is more often a section or category label than a name.
            name = lines[j] if j is not None else None
            if (
                name is not None
                and name.role == "paragraph"
                and len(_BULLET.sub("", name.text).split()) >= 2
                and _is_name_line(name.text)
            ):
                _claim(name, rule, value=_BULLET.sub("", name.text))
                break


def _print_edition_masthead(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    if not any(line.role == "print_footer" for line in lines) or not lines:
        return
    first = lines[0]
    if first.role == "paragraph" and first.words <= 6 and not first.sentence:
        _claim(first, rule, value=first.text)


def _is_headline_like(line: _Line, settings: Settings) -> bool:
    return (
        line.role == "paragraph"
        and 2 <= line.words <= settings.headline_max_words
        and not line.text.endswith(".")
    )


def _headline_score(lines: list[_Line], index: int, printed_twice: set[int]) -> int:
    """Evidence that line `index` is the headline: a byline or timestamp right below it (or just
    above), a second printing, article prose following it; minus length beyond a headline's."""
    skip = _TRANSPARENT_ROLES | {"caption", "boilerplate"}
    below = [line for line in lines[index + 1 : index + 12] if line.role not in skip]
    below = below[:_HEADLINE_ANCHOR_REACH]
    above = lines[max(0, index - _HEADLINE_ANCHOR_ABOVE) : index]
    following = lines[index + 1 : index + 1 + _HEADLINE_PROSE_REACH]
    score = 0
    anchors = [n for n, line in enumerate(below) if line.role in _ANCHOR_ROLES]
    if anchors:  # right below, or below a dek or a one-line byline
        score += 4 if anchors[0] <= 1 else 3
    elif any(line.role in _ANCHOR_ROLES for line in above):
        score += 1
    if index in printed_twice:
        score += 2
    if sum(line.role == "paragraph" and line.prose for line in following) >= 2:
        score += 2
    if lines[index].words > _HEADLINE_USUAL_MAX_WORDS or _INNER_SENTENCE.search(lines[index].text):
        score -= 2
    return score


def _is_title_cased(line: _Line) -> bool:
    words = line.text.split()
    return sum(word[:1].isupper() for word in words) >= _TITLE_CASE_SHARE * len(words)


def _is_headline_candidate(line: _Line, settings: Settings) -> bool:
    """Headline-like, or a Title Cased line ending in a stop ('... Why You Shouldn't Worry.')."""
    if (
        line.role != "paragraph"
        or line.words < _HEADLINE_MIN_WORDS
        or _NOT_A_HEADLINE.search(line.text)
    ):
        return False
    return _is_headline_like(line, settings) or (
        line.words <= _HEADLINE_USUAL_MAX_WORDS and _is_title_cased(line)
    )


def _headline(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    first_prose, last_prose = _body_span(lines)
    printed_twice = {
        line.duplicate_of
        for line in lines
        if line.role == "duplicate" and line.duplicate_of is not None
    }
    candidates = [
        i
        for i, line in enumerate(lines[: last_prose + 1])
        if _is_headline_candidate(line, settings)
    ]
    scored = [(_headline_score(lines, i, printed_twice), -i) for i in candidates]
    best = max(scored, default=(0, 0))
    if best[0] >= _HEADLINE_MIN_SCORE:
        line = lines[-best[1]]
        _claim(line, rule, value=line.text)
        return
    for line in lines[:first_prose]:
        if _is_headline_like(line, settings) and line.words >= 3:
            _claim(line, rule, value=line.text)
            return


def _title_index(lines: list[_Line]) -> int | None:
    return next((i for i, line in enumerate(lines) if line.role == "title"), None)


def _label_above_headline(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    title = _title_index(lines)
    if title is None:
        return
    above = _previous_index(lines, title, _TRANSPARENT_ROLES)
    if above is None:
        return
    line = lines[above]
    if line.role == "paragraph" and line.words <= settings.fragment_max_words and not line.sentence:
        _claim(line, rule, value=_BULLET.sub("", line.text))


def _byline_below_headline(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """A short name line right under the headline (or under its dek) is the byline."""
    title = _title_index(lines)
    if title is None:
        return
    index = title
    for _step in range(_BYLINE_BELOW_HEADLINE_REACH):
        found = _next_index(lines, index, _TRANSPARENT_ROLES)
        if found is None or lines[found].role != "paragraph" or lines[found].prose:
            return  # a byline never sits below body text
        index = found
        text = _HANDLE_TAIL.sub("", lines[index].text)
        if 2 <= len(text.split()) <= _BYLINE_MAX_WORDS and _is_name_line(text):
            _claim(lines[index], rule, value=_BULLET.sub("", text))
            return


def _dek(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    title = _title_index(lines)
    if title is None:
        return
    first_prose, _ = _body_span(lines)
    for i in range(title + 1, len(lines)):
        line = lines[i]
        if line.role == "update_marker":
            rest = line.kept_text or ""
            if rest and not (_is_sentence(rest) and len(_WORD.findall(rest)) >= 10):
                _claim(line, rule, value=rest)
            return
        if line.role != "paragraph":
            continue
        later = {other.text for other in lines[i + 1 :] if other.role == "paragraph"}
        if (i < first_prose and _is_headline_like(line, settings)) or line.text in later:
            _claim(line, rule, value=line.text)
        return


def _colon_list(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Short lines right under a sentence ending in ':' are the list it announces: keep them."""
    skip = frozenset(_TRANSPARENT_ROLES)
    for i, line in enumerate(lines):
        if line.role != "paragraph" or line.words < 4 or not line.text.endswith(":"):
            continue
        j = _next_index(lines, i, skip)
        members = []
        while j is not None and lines[j].role == "paragraph" and not lines[j].prose:
            members.append(lines[j])
            j = _next_index(lines, j, skip)
        if len(members) >= 2:
            for member in members[: settings.list_max_items]:
                member.role = "list_item"


def _related_list(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Remove the non-prose lines that follow a related-links header, up to the next prose."""
    skip = frozenset(_TRANSPARENT_ROLES)
    for i, line in enumerate(lines):
        if line.role != "related_header":
            continue
        j = _next_index(lines, i, skip)
        while j is not None and lines[j].role == "paragraph" and not lines[j].prose:
            _claim(lines[j], rule)
            j = _next_index(lines, j, skip)


def _fragment_outside_body(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    first, last = _body_span(lines)
    for i, line in enumerate(lines):
        if line.role == "paragraph" and (i < first or i > last) and not line.sentence:
            _claim(line, rule)


def _repeated_in_page(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Lines printed more than once apart from each other are page furniture (teasers, alt text)."""
    counts: dict[str, int] = {}
    for line in lines:
        if line.role in KEPT_ROLES and line.words >= 3:
            counts[line.text] = counts.get(line.text, 0) + 1
    for line in lines:
        if line.role in KEPT_ROLES and counts.get(line.text, 0) > 1:
            _claim(line, rule)


def _line_weight(line: _Line, settings: Settings) -> float:
    """How much a kept line argues for the article being here (jusText-like evidence)."""
    if line.role == "list_item":
        return 1.0
    if line.role not in KEPT_ROLES:
        return 0.0
    if line.prose:
        return float(line.words)
    if (line.sentence and line.words >= 3) or line.words >= 2 * settings.prose_min_words:
        return line.words / 2
    if _LABEL_LIKE.search(line.text) or (line.text.isupper() and line.words <= 6):
        return -3 * settings.block_gap_penalty
    return -settings.block_gap_penalty


def _main_block(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Keep the contiguous span with the most evidence of article text; remove the rest."""
    best_sum, best = 0.0, None
    running, start = 0.0, 0
    for i, line in enumerate(lines):
        weight = _line_weight(line, settings)
        if running <= 0:
            running, start = 0.0, i
        running += weight
        if running > best_sum:
            best_sum, best = running, (start, i)
    if best is None:
        return
    first, last = best
    for i, line in enumerate(lines):
        if line.role in (*KEPT_ROLES, "list_item") and not first <= i <= last:
            _claim(line, rule)


def _short_line_run(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    def is_short(line: _Line) -> bool:
        return (
            line.role == "paragraph"
            and not line.sentence
            and line.words <= settings.fragment_max_words * 2
        )

    run: list[_Line] = []
    for line in [*lines, None]:
        if line is not None and is_short(line):
            run.append(line)
            continue
        if line is not None and line.role not in KEPT_ROLES and line.role in _TRANSPARENT_ROLES:
            continue
        if len(run) >= 3:
            for member in run:
                _claim(member, rule)
        run = []


STRUCTURAL_DETECTORS: dict[str, Callable[[list[_Line], Rule, Settings], None]] = {
    "learned_boilerplate": _learned_boilerplate,
    "caption_before_credit": _caption_before_credit,
    "printed_twice": _printed_twice,
    "byline_beside_timestamp": _byline_beside_timestamp,
    "print_edition_masthead": _print_edition_masthead,
    "headline": _headline,
    "label_above_headline": _label_above_headline,
    "byline_below_headline": _byline_below_headline,
    "dek": _dek,
    "colon_list": _colon_list,
    "related_list": _related_list,
    "fragment_outside_body": _fragment_outside_body,
    "repeated_in_page": _repeated_in_page,
    "main_block": _main_block,
    "short_line_run": _short_line_run,
}
KNOWN_DETECTORS = frozenset(STRUCTURAL_DETECTORS) | frozenset(LINE_DETECTORS)


def _mark_headings(lines: list[_Line]) -> None:
    for line in lines:
        if line.role == "list_item":
            line.role = "paragraph"
            continue
        if line.role == "paragraph" and not line.sentence and line.words <= 15:
            line.role = "heading"


def _release_update_markers(lines: list[_Line]) -> None:
    """A marker that opens a body sentence is stripped; the sentence stays in the body."""
    for line in lines:
        if line.role == "update_marker" and line.kept_text and _is_sentence(line.kept_text):
            line.role = "paragraph"


def _confidence(lines: list[_Line], settings: Settings) -> str:
    """Confidence in the body: 'high' or 'low' by prose kept, or 'fallback'.

    Only lines removed by their shape (structural rules) can come back; lines a phrase rule
    removed (ads, widgets, footers) never do. Too short a longest line leaves the page empty.
    """
    kept = [line for line in lines if line.role in KEPT_ROLES]
    if kept:
        prose_words = sum(line.words for line in kept if line.prose)
        return "high" if prose_words >= settings.confident_prose_words else "low"
    shaped = [
        line
        for line in lines
        if line.rule is not None and line.rule.kind == "structural" and line.role == "layout"
    ]
    longest = max(shaped, key=lambda line: line.words, default=None)
    if longest is None or longest.words < settings.fallback_min_words:
        return "low"
    longest.role, longest.rule = "paragraph", None
    return "fallback"


def clean_text(
    text: str, rules: RuleSet, settings: Settings, learned: frozenset[str] = frozenset()
) -> CleanedDocument:
    """Classify every non-blank line of `text` as body or as removed by a cited rule.

    `learned` holds line keys (`tasks.clean.learned.line_key`) that recur across the page's source.
    """
    lines = _split_lines(text, settings)
    if learned:
        for line in lines:
            line.learned = line_key(line.text) in learned
    _apply_line_rules(lines, rules, "anywhere")
    _apply_line_rules(lines, rules, "outside_body")
    for rule in rules.structural_rules:
        STRUCTURAL_DETECTORS[rule.pattern](lines, rule, settings)
    _release_update_markers(lines)
    _mark_headings(lines)
    confidence = _confidence(lines, settings)
    return CleanedDocument(
        confidence=confidence,
        lines=tuple(
            LineDecision(
                line_number=line.number,
                text=line.text,
                content=line.kept_text or line.text,
                role=line.role,
                rule_id=line.rule.id if line.rule and line.role not in KEPT_ROLES else None,
                reason=line.rule.reason if line.rule and line.role not in KEPT_ROLES else None,
                value=line.value,
                caption=line.caption,
                attached=line.attached,
                marker=line.marker,
            )
            for line in lines
        ),
    )
