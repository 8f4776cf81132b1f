"""Line classifier: decide for every line of a scraped page whether it is article body.

`clean_text` never names a phrase: phrases live in the rule table (`rules.toml`), and the
structural detectors below look only at the shape of lines and their neighbours. Every line that
is not body gets a role and the id of the rule that took it.
"""

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from itertools import accumulate
from operator import attrgetter, itemgetter, methodcaller

from tasks.clean.decisions import KEPT_ROLES, CleanedDocument, decisions_of
from tasks.clean.learned import is_learnable, line_key
from tasks.clean.rules import LineRuleIndex, Rule, RuleSet, fold_case
from tasks.clean.stopwords import stopword_share
from tasks.extract.bylines import dated_byline_value
from tasks.extract.dates import parse_timestamp_line
from tasks.settings import Settings

_BLOCK_ROLES = frozenset({*KEPT_ROLES, "list_item"})  # lines the main block weighs
# Roles that sit between two printings of a line without breaking the repeat.
_TRANSPARENT_ROLES = frozenset(
    {"boilerplate", "layout", "credit", "print_footer", "timestamp_unparsed", "duplicate"}
)
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W+")
# A sentence ends in a stop, then closing quotes or brackets, then perhaps a dash:
# r"[.!?…:;][\"'”’)\]»]*(?:\s*[-–—])?$" (`_is_sentence` tests it without a regex search).
_STOPS = frozenset(".!?…:;")
_CLOSERS = "\"'”’)]»"
_DASHES = frozenset("-–—")
_FIRST_ONE, _FIRST_TWO = itemgetter(slice(None, 1)), itemgetter(slice(None, 2))
_LAST_ONE, _LAST_TWO = itemgetter(slice(-1, None)), itemgetter(slice(-2, None))
_ROLE, _TEXT, _LEARNED = attrgetter("role"), attrgetter("text"), attrgetter("learned")
_ENDS_WITH_COLON = methodcaller("endswith", ":")
_SENTENCE_TAIL = _STOPS | set(_CLOSERS) | _DASHES  # the last character of a sentence
_ASCII_ALPHANUMERIC_LOWER = {chr(c): chr(c).lower() for c in range(128) if chr(c).isalnum()}
_ASCII_NON_WORD = bytes(c for c in range(128) if not (chr(c).isalnum() or c == ord("_")))
_ASCII_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))
# Whitespace other than the space and the line feed: a text without it (nor doubled or edge
# spaces) is already split into collapsed lines by split("\n").
_OTHER_SPACE = re.compile(r"[^\S \n]")  # none in a printable text (only " " is printable)
_BULLET = re.compile(r"^[-•·*]\s+")
_NAME_WORD = re.compile(r"^(?:[A-Z][\w.'’-]*|and|&|de|van|von|der|da|di|la|le|bin|al|staff)$")
# Domains, handles and counters mark teaser cards and widgets rather than article text.
_LABEL_LIKE = re.compile(
    r"\b[\w-]+\.(?:com|org|net|co|io|uk|de|fr|it|kr|in)\b|(?:^|\s)@\w|^\d+\s+\w+$"
)
_YEAR_OR_ISO = re.compile(r"(?:19|20)\d\d")
# Every date the line detectors read holds a year (19xx, 20xx) or a slashed day and month.
_DATE_HINT = re.compile(r"(?:19|20)\d\d|\d/\d")
# A byline may stand on the first or second line under the headline ("Jo Lee @jolee").
_BYLINE_BELOW_HEADLINE_REACH = 2
_BYLINE_MAX_WORDS = 4
_HANDLE_TAIL = re.compile(r"(?:\s+@\w+)+$")
# Headline evidence: a byline or timestamp within this many lines below (or above) the line,
# and prose within this many lines after it.
_ANCHOR_ROLES = frozenset({"byline", "timestamp", "timestamp_unparsed"})
_HEADLINE_ANCHOR_REACH = 3
_NOT_BELOW = _TRANSPARENT_ROLES | {"caption", "boilerplate"}  # skipped looking for anchors
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
# A fragment this long or longer without a function word is a label (one word says too little).
_LABEL_MIN_WORDS = 2


class _Line:
    """Working record for one non-blank line (private to the engine).

    A plain class rather than a dataclass: its __init__ runs once per line of every page.
    """

    __slots__ = (
        "attached",
        "candidates",
        "caption",
        "duplicate_of",
        "kept_text",
        "learned",
        "marker",
        "number",
        "prose",
        "repeat_key",
        "role",
        "rule",
        "sentence",
        "text",
        "value",
        "words",
    )

    def __init__(self, number: int, text: str, words: int, sentence: bool, prose: bool) -> None:
        self.number = number
        self.text = text
        self.words = words
        self.sentence = sentence
        self.prose = prose
        self.role = "paragraph"
        self.rule: Rule | None = None
        self.value: str | None = None
        self.caption: str | None = None
        self.kept_text: str | None = None
        self.marker: str | None = None
        self.attached = False
        self.duplicate_of: int | None = None
        self.learned = False
        self.repeat_key: str | None = None  # see _repeat_key
        self.candidates: tuple[int, ...] | None = None  # line rules that may match, see _read_lines


def _is_label_like(text: str) -> bool:
    """_LABEL_LIKE.search(text), skipped when the text has none of '.', '@' or a first digit."""
    if "." not in text and "@" not in text and not text[:1].isdecimal():
        return False
    return _LABEL_LIKE.search(text) is not None


def _is_address_or_attribution(text: str) -> bool:
    """_NOT_A_HEADLINE.search(text) without a regex."""
    return "://" in text or text.startswith(("www.", "—", "–"))


def _has_inner_sentence(text: str) -> bool:
    """_INNER_SENTENCE.search(text), skipped when no stop is followed by a space."""
    if ". " not in text and "! " not in text and "? " not in text:
        return False
    return _INNER_SENTENCE.search(text) is not None


def _is_sentence(text: str) -> bool:
    """Whether `text` ends a sentence: a stop, closing quotes or brackets, perhaps a dash."""
    if not text:
        return False
    if text[-1] in _DASHES:
        before_dash = text[:-1].rstrip().rstrip(_CLOSERS)
        if before_dash and before_dash[-1] in _STOPS:
            return True
    before_closers = text.rstrip(_CLOSERS)
    return bool(before_closers) and before_closers[-1] in _STOPS


def _collapsed_text(text: str) -> str:
    """`text` with each line's whitespace runs as one space and no space at either end."""
    if (
        "  " in text
        or " \n" in text
        or "\n " in text
        or text[:1] == " "
        or text[-1:] == " "
        or not (text.replace("\n", " ").isprintable() or not _OTHER_SPACE.search(text))
    ):
        return "\n".join(" ".join(raw.split()) for raw in text.split("\n"))
    return text


def _claim(line: _Line, rule: Rule, role: str | None = None, value: str | None = None) -> None:
    line.role = role or rule.role
    line.rule = rule
    if value is not None:
        line.value = value


def _body_span(lines: list[_Line]) -> tuple[int, int]:
    """Indexes of the first and last kept prose line; (len, -1) when there is none."""
    first = next(
        (at for at, line in enumerate(lines) if line.prose and line.role == "paragraph"), None
    )
    if first is None:
        return len(lines), -1
    for last in range(len(lines) - 1, first - 1, -1):
        if lines[last].prose and lines[last].role == "paragraph":
            return first, last
    return first, first


def _match_line_rule(line: _Line, rule: Rule) -> bool:
    if rule.kind == "line_detector":
        parsed = LINE_DETECTORS[rule.pattern](line.text)
        if parsed is None:
            return False
        _claim(line, rule, value=parsed)
        return True
    regex = rule.regex
    assert regex is not None  # line_regex rules are compiled on load
    match = regex.match(line.text)
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


def _read_lines(collapsed: str, rule_set: RuleSet, settings: Settings) -> list[_Line]:
    """The non-blank lines of a collapsed text with their shape, each tried against the line
    rules of scope "anywhere" that may match it (first match in table order wins).

    A regex rule whose literal need (see `tasks.clean.rules.LineRuleIndex`) the line does not
    hold cannot match it, nor can a date detector on a line without a year or a slashed date:
    neither is tried. `line.candidates` keeps the rules that may match, for `outside_body`.
    """
    index, line_rules = rule_set.index, rule_set.line_rules
    assert index is not None  # built by parse_rules
    folded = fold_case(collapsed)  # of the same length: offsets hold in both
    folded_lines = folded.split("\n")
    found = _lines_holding_needs(collapsed, folded, folded_lines, index)
    by_start, by_end, unfiltered = index.by_start, index.by_end, list(index.unfiltered)
    start_chars = frozenset(key for key in by_start if len(key) == 1)
    digit_first, other_first = index.kind_first.get("digit", ()), index.kind_first.get("other", ())
    digit_last, other_last = index.kind_last.get("digit", ()), index.kind_last.get("other", ())
    first_kinds, last_kinds = bool(index.kind_first), bool(index.kind_last)
    prose_min_words = settings.prose_min_words
    lines = []
    numbered = enumerate(zip(collapsed.split("\n"), folded_lines, strict=True), start=1)
    for number, (text, low) in numbered:
        if not text:
            continue
        spaces = text.count(" ")
        if spaces >= 3 or text.replace(" ", "").isalnum():  # each word one run of \w
            words = spaces + 1
        else:
            words = len(_WORD.findall(text))
        sentence = text[-1] in _SENTENCE_TAIL and _is_sentence(text)
        line = _Line(number, text, words, sentence, sentence and words >= prose_min_words)
        lines.append(line)
        hits = found.get(number, unfiltered)
        bucket = by_start.get(low[:2])
        if bucket is not None and low.startswith(bucket[0]):
            hits = hits + [rule for rule, strings in bucket[1] if low.startswith(strings)]
        if low[0] in start_chars:
            hits = hits + [rule for rule, _strings in by_start[low[0]][1]]
        bucket = by_end.get(low[-2:])
        if bucket is not None and low.endswith(bucket[0]):
            hits = hits + [rule for rule, strings in bucket[1] if low.endswith(strings)]
        # Character kinds are tested on the text as read, as the rule's regex sees it.
        if first_kinds:
            if not text[0].isalnum():
                hits = hits + list(other_first)
            elif text[0].isdecimal():
                hits = hits + list(digit_first)
        if last_kinds:
            if not text[-1].isalnum():
                hits = hits + list(other_last)
            elif text[-1].isdecimal():
                hits = hits + list(digit_last)
        if not hits:
            continue
        line.candidates = tuple(sorted(set(hits)))
        if words <= _RULE_MAX_WORDS:
            for position in line.candidates:
                rule = line_rules[position]
                if rule.scope == "anywhere" and _match_line_rule(line, rule):
                    break
    return lines


def _lines_holding_needs(
    collapsed: str, folded: str, folded_lines: list[str], index: LineRuleIndex
) -> dict[int, list[int]]:
    """Line number -> rules an unanchored need string found in the line (and date detectors
    where `_DATE_HINT` is), plus the rules tried on every line."""
    starts: list[int] | None = None
    found: dict[int, list[int]] = {}
    for string, rules in index.inside:
        at = folded.find(string)
        while at != -1:
            starts = starts or _line_starts(folded_lines)
            number = bisect_right(starts, at)
            found.setdefault(number, list(index.unfiltered)).extend(rules)
            at = folded.find(string, starts[number]) if number < len(starts) else -1
    for at in _date_hints(collapsed):
        starts = starts or _line_starts(folded_lines)
        found.setdefault(bisect_right(starts, at), list(index.unfiltered)).extend(index.detectors)
    return found


def _line_starts(lines: list[str]) -> list[int]:
    """Offset of each line in the text the lines were split from."""
    return list(accumulate(map((1).__add__, map(len, lines[:-1])), initial=0))


def _date_hints(text: str) -> list[int]:
    """Offsets where `_DATE_HINT` matches: '19' or '20' and two digits, or digit/digit."""
    offsets = []
    for marker in ("19", "20", "/"):
        at = text.find(marker)
        while at != -1:
            if marker == "/":
                hit = at > 0 and text[at - 1 : at].isdecimal() and text[at + 1 : at + 2].isdecimal()
            else:
                hit = len(text[at + 2 : at + 4]) == 2 and text[at + 2 : at + 4].isdecimal()
            if hit:
                offsets.append(at)
            at = text.find(marker, at + 1)
    return offsets


def _apply_outside_body_rules(lines: list[_Line], rule_set: RuleSet) -> None:
    """Line rules of scope "outside_body", on lines before the first or after the last prose."""
    line_rules = rule_set.line_rules
    first, last = _body_span(lines)
    for line in (*lines[:first], *lines[last + 1 :]):
        if line.candidates is None or line.role != "paragraph" or line.words > _RULE_MAX_WORDS:
            continue
        for position in line.candidates:
            rule = line_rules[position]
            if rule.scope == "outside_body" and _match_line_rule(line, rule):
                break


def _timestamp_value(text: str) -> str | None:
    if len(text) > 80 or not _YEAR_OR_ISO.search(text):  # cheap test before the parser
        return None
    parsed = parse_timestamp_line(text)
    return parsed.text if parsed else None


def _dated_byline_value(text: str) -> str | None:
    if len(text) > 200 or not _DATE_HINT.search(text):  # cheap test before the parser
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


def _mark_learned(
    lines: list[_Line], text: str, learned: frozenset[str], settings: Settings
) -> None:
    """Flag the learnable lines whose key is in `learned`.

    `learned_keys` of this very text's `page_lines` carries the learned lines' texts, and a
    line is then looked up by its text; other key sets mean hashing each learnable line.
    """
    texts = getattr(learned, "texts", None) if getattr(learned, "source", None) is text else None
    if texts is not None:
        for line in lines:
            line.learned = line.text in texts
        return
    for line in lines:
        line.learned = is_learnable(line.text, settings) and line_key(line.text) in learned


def _learned_boilerplate(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    if not any(map(_LEARNED, lines)):
        return
    for line in lines:
        if line.learned and line.role == "paragraph":  # learned lines are learnable
            _claim(line, rule)


def _caption_before_credit(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    if "credit" not in map(_ROLE, lines):
        return
    for i, line in enumerate(lines):
        if line.role != "credit" or line.rule is None or line.rule.attach != "previous" or i == 0:
            continue
        above = lines[i - 1]
        if above.role == "paragraph" and above.words <= settings.headline_max_words * 3:
            _claim(above, rule, value=line.value)
            above.caption = above.text
            line.attached = True


def _repeat_key(line: _Line) -> str:
    """The line case-folded, without non-word characters (computed once, when asked)."""
    if line.repeat_key is None:
        text = line.text
        if text.isascii():  # casefold is lower; one bytes.translate lowers and deletes
            line.repeat_key = text.encode().translate(_ASCII_LOWER, _ASCII_NON_WORD).decode()
        else:
            line.repeat_key = _NON_WORD.sub("", text.casefold())
    return line.repeat_key


def _repeat_keys(line: _Line) -> set[str]:
    keys = {_repeat_key(line)}
    if line.caption:
        keys.add(_NON_WORD.sub("", line.caption.casefold()))
        if line.value:
            keys.add(_NON_WORD.sub("", f"{line.value} {line.caption}".casefold()))
    return keys


def _may_repeat(text: str, previous: str) -> bool:
    """False when the repeat keys of two texts surely differ: their first (or last) characters
    are ASCII letters or digits that differ case-insensitively (keys keep those characters)."""
    lower = _ASCII_ALPHANUMERIC_LOWER.get
    one, other = lower(text[0]), lower(previous[0])
    if one is not None and other is not None and one != other:
        return False
    one, other = lower(text[-1]), lower(previous[-1])
    return one is None or other is None or one == other


def _printed_twice(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    previous: _Line | None = None
    previous_index = 0
    for i, line in enumerate(lines):
        role = line.role
        if role in _TRANSPARENT_ROLES:
            continue
        if role != "paragraph" and role != "caption":
            previous = None
            continue
        if (
            previous is not None
            and (previous.caption or _may_repeat(line.text, previous.text))
            and _repeat_key(line) in _repeat_keys(previous)
        ):
            _claim(line, rule)
            line.duplicate_of = previous_index
            continue
        previous, previous_index = line, i


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
    if "timestamp" not in map(_ROLE, lines):
        return
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
    if "print_footer" not in map(_ROLE, lines) or not lines:
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


def _headline_score(
    index: int, roles: list[str], prose: list[bool], lines: list[_Line], printed_twice: set[int]
) -> int:
    """Evidence that line `index` is the headline: a byline or timestamp right below it (or just
    above), a second printing, article prose following it; minus length beyond a headline's.

    `roles` holds each line's role and `prose` whether it is a kept prose paragraph.
    """
    below = [role for role in roles[index + 1 : index + 12] if role not in _NOT_BELOW]
    below = below[:_HEADLINE_ANCHOR_REACH]
    above = roles[max(0, index - _HEADLINE_ANCHOR_ABOVE) : index]
    score = 0
    anchors = [n for n, role in enumerate(below) if role in _ANCHOR_ROLES]
    if anchors:  # right below, or below a dek or a one-line byline
        score += 4 if anchors[0] <= 1 else 3
    elif not _ANCHOR_ROLES.isdisjoint(above):
        score += 1
    if index in printed_twice:
        score += 2
    if sum(prose[index + 1 : index + 1 + _HEADLINE_PROSE_REACH]) >= 2:
        score += 2
    line = lines[index]
    if line.words > _HEADLINE_USUAL_MAX_WORDS or _has_inner_sentence(line.text):
        score -= 2
    return score


def _is_title_cased(line: _Line) -> bool:
    words = line.text.split()
    capitalized = sum(map(str.isupper, map(_FIRST_ONE, words)))
    return capitalized >= _TITLE_CASE_SHARE * len(words)


def _is_headline_candidate(line: _Line, settings: Settings) -> bool:
    """Headline-like, or a Title Cased line ending in a stop ('... Why You Shouldn't Worry.')."""
    if line.role != "paragraph" or line.words < _HEADLINE_MIN_WORDS:
        return False
    if not (
        _is_headline_like(line, settings)
        or (line.words <= _HEADLINE_USUAL_MAX_WORDS and _is_title_cased(line))
    ):
        return False
    return not _is_address_or_attribution(line.text)


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
        if line.words >= _HEADLINE_MIN_WORDS and _is_headline_candidate(line, settings)
    ]
    roles = [line.role for line in lines]
    prose = [line.role == "paragraph" and line.prose for line in lines]
    scored = [(_headline_score(i, roles, prose, lines, printed_twice), -i) for i in candidates]
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
    roles = list(map(_ROLE, lines))
    return roles.index("title") if "title" in roles else None


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
    if not any(map(_ENDS_WITH_COLON, map(_TEXT, lines))):
        return
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
    if "related_header" not in map(_ROLE, lines):
        return
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
    for line in (*lines[:first], *lines[last + 1 :]):
        if line.role == "paragraph" and not line.sentence:
            _claim(line, rule)


def _repeated_in_page(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Lines printed more than once apart from each other are page furniture (teasers, alt text)."""
    kept = [line for line in lines if line.role in KEPT_ROLES]
    counts = Counter(line.text for line in kept if line.words >= 3)
    if max(counts.values(), default=0) < 2:
        return
    for line in kept:
        if counts[line.text] > 1:
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
    if (
        _is_label_like(line.text)
        or (line.text.isupper() and line.words <= 6)
        or _is_fragment_without_function_words(line, settings)
    ):
        return -3 * settings.block_gap_penalty
    return -settings.block_gap_penalty


def _is_fragment_without_function_words(line: _Line, settings: Settings) -> bool:
    """A short line with no stopword of any listed language ("Live Scores", "Weather Radar"):
    a menu entry or tag rather than text. Neutral (False) in scripts without a list."""
    return (
        _LABEL_MIN_WORDS <= line.words <= settings.fragment_max_words
        and stopword_share(line.text) == 0
    )


def _main_block(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    """Keep the contiguous span with the most evidence of article text; remove the rest."""
    best_sum, best = 0.0, None
    running, start = 0.0, 0
    for i, line in enumerate(lines):
        weight = _line_weight(line, settings) if line.role in _BLOCK_ROLES else 0.0
        if running <= 0:
            running, start = 0.0, i
        running += weight
        if running > best_sum:
            best_sum, best = running, (start, i)
    if best is None:
        return
    first, last = best
    for i, line in enumerate(lines):
        if line.role in _BLOCK_ROLES and not first <= i <= last:
            _claim(line, rule)


def _short_line_run(lines: list[_Line], rule: Rule, settings: Settings) -> None:
    short_max_words = settings.fragment_max_words * 2
    run: list[_Line] = []
    for line in [*lines, None]:
        if (
            line is not None
            and line.role == "paragraph"
            and not line.sentence
            and line.words <= short_max_words
        ):
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
    if "update_marker" not in map(_ROLE, lines):
        return
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
    lines = _read_lines(_collapsed_text(text), rules, settings)
    if learned:
        _mark_learned(lines, text, learned, settings)
    _apply_outside_body_rules(lines, rules)
    for rule in rules.structural_rules:
        STRUCTURAL_DETECTORS[rule.pattern](lines, rule, settings)
    _release_update_markers(lines)
    _mark_headings(lines)
    confidence = _confidence(lines, settings)
    return CleanedDocument(lines=decisions_of(lines), confidence=confidence)
