"""Load and check the boilerplate rule table (`rules.toml`)."""

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

try:  # the syntax tree and case table of `re`: private, so the prefilter is optional
    from re import _casefix, _constants, _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another Python: every rule runs on every line
    _casefix = _constants = _parser = None

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")
RULE_KINDS = ("line_regex", "line_detector", "structural")
RULE_SCOPES = ("anywhere", "outside_body")
RULE_ID = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")


class RuleTableError(ValueError):
    """The rule table is malformed; the message names the rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table."""

    id: str
    kind: str
    role: str
    pattern: str
    reason: str
    scope: str = "anywhere"
    attach: str | None = None
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class LiteralNeed:
    """What every line a rule matches holds: one of `strings` (compared after `fold_case`), at
    its start, at its end or anywhere. At the start or end, a character of one of `kinds` also
    does: "digit" (str.isdecimal, as `\\d`) or "other" (not str.isalnum)."""

    strings: tuple[str, ...]
    at_start: bool  # the line starts with one of the strings (or a character of `kinds`)
    at_end: bool  # the line ends with one of the strings (or a character of `kinds`)
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rule table, split by kind, with a fingerprint of its content."""

    rules: tuple[Rule, ...]
    fingerprint: str
    # Per rule id: what a line must contain for the line_regex rule to match it (see
    # `literal_need`); rules without an entry are tried on every line.
    needs: tuple[tuple[str, LiteralNeed], ...] = ()
    index: "LineRuleIndex | None" = field(default=None, compare=False, repr=False)

    def need(self, rule_id: str) -> LiteralNeed | None:
        return dict(self.needs).get(rule_id)

    @property
    def line_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.kind != "structural")

    @property
    def structural_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.kind == "structural")

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _expand(rule_id: str, pattern: str, vocabulary: dict[str, list[str]]) -> str:
    def alternation(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in vocabulary:
            raise RuleTableError(f"rule {rule_id}: pattern names unknown vocabulary {{{name}}}")
        words = sorted(vocabulary[name], key=len, reverse=True)
        return "(?:" + "|".join(re.escape(word) for word in words) + ")"

    return re.sub(r"\{([a-z_]+)\}", alternation, pattern)


def _compile(rule_id: str, pattern: str) -> re.Pattern[str]:
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise RuleTableError(f"rule {rule_id}: pattern does not compile: {error}") from error
    if regex.search(""):
        raise RuleTableError(f"rule {rule_id}: pattern matches the empty line")
    if not pattern.removeprefix("(?i)").startswith("^"):
        raise RuleTableError(f"rule {rule_id}: pattern must be anchored at the line start (^)")
    return regex


def parse_rules(text: str, known_detectors: frozenset[str] = frozenset()) -> RuleSet:
    """Parse a rule table; reject duplicate ids, bad kinds, and patterns that match everything."""
    table = tomllib.loads(text)
    vocabulary = table.get("vocabulary", {})
    rules: list[Rule] = []
    seen: set[str] = set()
    for row in table.get("rule", []):
        rule_id = row.get("id", "")
        if not RULE_ID.match(rule_id):
            raise RuleTableError(f"rule id {rule_id!r} is not of the form 'group.name'")
        if rule_id in seen:
            raise RuleTableError(f"rule id {rule_id} is used twice")
        seen.add(rule_id)
        kind = row.get("kind")
        if kind not in RULE_KINDS:
            raise RuleTableError(f"rule {rule_id}: kind {kind!r} is not one of {RULE_KINDS}")
        scope = row.get("scope", "anywhere")
        if scope not in RULE_SCOPES:
            raise RuleTableError(f"rule {rule_id}: scope {scope!r} is not one of {RULE_SCOPES}")
        for required in ("role", "pattern", "reason"):
            if not row.get(required):
                raise RuleTableError(f"rule {rule_id}: missing {required}")
        regex = None
        if kind == "line_regex":
            regex = _compile(rule_id, _expand(rule_id, row["pattern"], vocabulary))
        elif known_detectors and row["pattern"] not in known_detectors:
            raise RuleTableError(f"rule {rule_id}: no detector named {row['pattern']!r}")
        rules.append(
            Rule(
                id=rule_id,
                kind=kind,
                role=row["role"],
                pattern=row["pattern"],
                reason=row["reason"],
                scope=scope,
                attach=row.get("attach"),
                examples=tuple(row.get("examples", ())),
                counter_examples=tuple(row.get("counter_examples", ())),
                regex=regex,
            )
        )
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:12]
    needs = tuple(
        (rule.id, need)
        for rule in rules
        if rule.regex is not None and (need := literal_need(rule.regex)) is not None
    )
    line_rules = [rule for rule in rules if rule.kind != "structural"]
    return RuleSet(
        rules=tuple(rules),
        fingerprint=fingerprint,
        needs=needs,
        index=LineRuleIndex.build(line_rules, dict(needs)),
    )


def load_rules(
    path: Path = DEFAULT_RULES_PATH, known_detectors: frozenset[str] = frozenset()
) -> RuleSet:
    """Read and parse the rule table at `path`."""
    return parse_rules(path.read_text(encoding="utf-8"), known_detectors)


# ---------------------------------------------------------------------- literal prefilter
# Most lines match no rule. Reading each compiled pattern's syntax tree gives strings one of
# which any line the rule matches must contain (like RE2's FilteredRE2), so the engine tries a
# rule only on the lines that hold one. The analysis may lose precision, never a match: a
# construct it does not know (or a Python without `re._parser`) only means "no need".
_MAX_STRINGS = 64  # largest set of strings kept while multiplying out alternatives
_MAX_OPTIONAL_SPLITS = 3  # leading optional items tried both ways: 'X?Y' as 'Y|XY'
_DOTTED_CAPITAL_I = "\u0130"  # the one character whose lower() is two characters


@cache
def _fold_table() -> tuple[dict[int, int], re.Pattern[str] | None, bytes]:
    """Characters `re.IGNORECASE` also treats as equal beyond lower case ('ſ' and 's'), a regex
    finding them, and the bytes that start none of them in UTF-8 (to delete: what is left is
    empty when a text surely holds none of them)."""
    if _casefix is None:
        return {}, None, bytes(range(256))
    table = {}
    for char, others in _casefix._EXTRA_CASES.items():
        first = min(char, *others)
        if first != char:
            table[char] = first
    leads = {chr(char).encode("utf-8", "surrogatepass")[0] for char in table}
    return (
        table,
        re.compile("[" + "".join(map(chr, sorted(table))) + "]"),
        bytes(byte for byte in range(256) if byte not in leads),
    )


def fold_case(text: str) -> str:
    """`text` with each character replaced by one `re.IGNORECASE` cannot tell it from.

    Per character and of the same length: where a case-insensitive pattern character matches
    a text character, both fold to the same character, so a line that a rule's literal matches
    holds the literal's fold.
    """
    if _DOTTED_CAPITAL_I in text:
        text = text.replace(_DOTTED_CAPITAL_I, "i")
    text = text.lower()
    if not text.isascii():
        table, extra, other_leads = _fold_table()
        # A byte-level screen first: the regex search of a long non-ASCII str costs more.
        if (
            extra is not None
            and text.encode("utf-8", "surrogatepass").translate(None, other_leads)
            and extra.search(text)
        ):
            text = text.translate(table)
    return text


_Strings = frozenset[str]
_EMPTY = frozenset({""})


@dataclass(frozen=True, slots=True)
class _Need:
    strings: _Strings
    at_start: bool  # at the start of the node's match
    at_end: bool  # at the end of the node's match
    kinds: frozenset[str] = frozenset()  # or a character of these kinds there (anchored only)


def _product(left: _Strings | None, right: _Strings | None) -> _Strings | None:
    if left is None or right is None or len(left) * len(right) > _MAX_STRINGS:
        return None
    return frozenset(a + b for a in left for b in right)


def _usable(
    strings: _Strings | None, at_start: bool, at_end: bool, kinds: frozenset[str] = frozenset()
) -> list[_Need]:
    if strings is None or "" in strings or not (strings or kinds):
        return []
    if kinds and not (at_start or at_end):
        return []
    return [_Need(strings, at_start, at_end, kinds)]


def _score(need: _Need) -> tuple[bool, int, int]:
    """Prefer anchored needs (a cheap test per line), then long strings (fewer false hits)."""
    shortest = min((len(string) for string in need.strings), default=1)
    return need.at_start or need.at_end, 1 if need.kinds else shortest, -len(need.strings)


def _characters(av: list) -> tuple[set[str], frozenset[str]] | None:
    """The characters of a small character class and the kinds it holds (see LiteralNeed)."""
    c = _constants
    chars: set[str] = set()
    kinds = set()
    for kind, value in av:
        if kind is c.LITERAL:
            chars.add(chr(value))
        elif kind is c.RANGE and value[1] - value[0] < 16:
            chars.update(map(chr, range(value[0], value[1] + 1)))
        elif kind is c.CATEGORY and value in (c.CATEGORY_DIGIT, c.CATEGORY_UNI_DIGIT):
            kinds.add("digit")  # \d is str.isdecimal
        elif kind is c.CATEGORY and value in (c.CATEGORY_NOT_WORD, c.CATEGORY_UNI_NOT_WORD):
            kinds.add("other")  # \W is neither str.isalnum nor '_'
        else:
            return None
    if "other" in kinds:  # a non-alphanumeric literal is of kind "other" too
        chars = {char for char in chars if char.isalnum()}
    return chars, frozenset(kinds)


def _node(op, av, ignore_case: bool, splits: int) -> tuple[_Strings | None, list[_Need]]:
    """(exact, needs) of one syntax-tree node: the strings it matches exactly (None: unknown or
    too many), and needs on its match. Nodes not handled here give (None, [])."""
    c = _constants
    if op is c.LITERAL:
        return frozenset({fold_case(chr(av))}), []
    if op is c.IN and len(av) <= 16 and (found := _characters(av)) is not None:
        chars, kinds = found
        folded = frozenset(fold_case(char) for char in chars)
        if kinds:
            return None, _usable(folded, True, True, kinds)
        return folded, []
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):  # zero width; dropping a lookaround only widens
        return _EMPTY, []
    if op is c.SUBPATTERN:
        _group, add_flags, del_flags, items = av
        ignore_case = bool((ignore_case or add_flags & re.I) and not del_flags & re.I)
        return _sequence(list(items), ignore_case, splits)
    if op is c.ATOMIC_GROUP:
        return _sequence(list(av), ignore_case, splits)
    if op is c.BRANCH:
        return _branch([_sequence(list(items), ignore_case, splits) for items in av[1]])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, items = av
        exact, needs = _sequence(list(items), ignore_case, splits)
        if low == 0:
            return (exact | _EMPTY if exact is not None and high == 1 else None), []
        repeated = exact
        for _ in range(low - 1):
            repeated = _product(repeated, exact)
        return (repeated if low == high else None), needs + _usable(exact, True, True)
    return None, []


def _branch(alternatives: list[tuple[_Strings | None, list[_Need]]]) -> tuple:
    """Alternation: a need holds when each alternative has one; their strings are pooled."""
    exacts = [exact for exact, _needs in alternatives if exact is not None]
    exact = None
    if len(exacts) == len(alternatives):
        union = frozenset[str]().union(*exacts)
        exact = union if len(union) <= _MAX_STRINGS else None
    options = [needs + _usable(exact, True, True) for exact, needs in alternatives]
    if not all(options):
        return exact, []
    needs = []
    for keep in (lambda need: True, lambda need: need.at_start, lambda need: need.at_end):
        found = [max(filter(keep, option), key=_score, default=None) for option in options]
        chosen = [need for need in found if need is not None]
        if len(chosen) == len(found):
            needs += _usable(
                frozenset().union(*(need.strings for need in chosen)),
                all(need.at_start for need in chosen),
                all(need.at_end for need in chosen),
                frozenset().union(*(need.kinds for need in chosen)),
            )
    return exact, needs


def _sequence(items: list, ignore_case: bool, splits: int = 0) -> tuple:
    """Concatenation: exact strings multiply out along runs of exact items."""
    c = _constants
    lead = next((i for i, (op, _av) in enumerate(items) if op not in (c.AT, c.ASSERT)), None)
    if lead is not None and splits < _MAX_OPTIONAL_SPLITS:
        op, av = items[lead]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[:2] == (0, 1):
            taken = [*items[:lead], (c.SUBPATTERN, (None, 0, 0, av[2])), *items[lead + 1 :]]
            without = items[:lead] + items[lead + 1 :]
            return _branch(
                [
                    _sequence(without, ignore_case, splits + 1),
                    _sequence(taken, ignore_case, splits + 1),
                ]
            )
    needs: list[_Need] = []
    inner_needs: list[tuple[int, _Need]] = []  # needs of inexact items, with the item's index
    run: _Strings | None = _EMPTY
    run_from_start = True  # the run began at the first item
    widths = []  # False for an item that only matches the empty string
    for index, (op, av) in enumerate(items):
        exact, item_needs = _node(op, av, ignore_case, splits)
        widths.append(exact != _EMPTY)
        if exact is not None:
            joined = _product(run, exact)
            if joined is None:
                needs += _usable(run, run_from_start, False)
                joined, run_from_start = exact, False
            run = joined
            continue
        prefix_is_empty = run_from_start and run == _EMPTY
        for need in item_needs:
            if need.at_start and run_from_start and not need.kinds:
                needs += _usable(_product(run, need.strings), True, False)
            at_start = need.at_start and prefix_is_empty
            inner_needs.append((index, _Need(need.strings, at_start, need.at_end, need.kinds)))
        needs += _usable(run, run_from_start, False)
        run, run_from_start = _EMPTY, False
    needs += _usable(run, run_from_start, True)
    for index, need in inner_needs:
        at_end = need.at_end and not any(widths[index + 1 :])
        needs += _usable(need.strings, need.at_start, at_end, need.kinds)
    return (run if run_from_start else None), needs


def _ends_the_line(items: list) -> bool:
    """Whether every match of the item sequence ends at the end of the line ('$')."""
    c = _constants
    while items and items[-1][0] in (c.ASSERT, c.ASSERT_NOT):
        items = items[:-1]
    if not items:
        return False
    op, av = items[-1]
    if op is c.AT:
        return av in (c.AT_END, c.AT_END_STRING) or _ends_the_line(items[:-1])
    if op is c.SUBPATTERN:
        return _ends_the_line(list(av[3]))
    if op is c.ATOMIC_GROUP:
        return _ends_the_line(list(av))
    if op is c.BRANCH:
        return all(_ends_the_line(list(alternative)) for alternative in av[1])
    return False


def literal_need(regex: re.Pattern[str]) -> LiteralNeed | None:
    """What a line must hold for `regex.match(line)` to succeed; None when nothing is known.

    Lines have no line feed. `at_end` is kept only for patterns whose every match ends with '$'.
    """
    if _parser is None:
        return None
    try:
        items = list(_parser.parse(regex.pattern, regex.flags))
        exact, needs = _sequence(items, bool(regex.flags & re.IGNORECASE))
        ends = _ends_the_line(items)
    except Exception:
        return None
    needs = [
        usable
        for need in needs + _usable(exact, True, True)
        for usable in _usable(need.strings, need.at_start, need.at_end and ends, need.kinds)
    ]
    best = max(needs, key=_score, default=None)
    if best is None:
        return None
    return LiteralNeed(
        tuple(sorted(best.strings)), best.at_start, best.at_end, tuple(sorted(best.kinds))
    )


def _shortest_covering(strings, holds) -> list[str]:
    """The strings not made redundant by another: 'comments' goes when 'comment' is there."""
    kept: list[str] = []
    for string in sorted(set(strings), key=len):
        if not any(holds(string, other) for other in kept):
            kept.append(string)
    return sorted(kept)


_SEARCH_PREFIX = 5  # unanchored need strings are searched by prefixes this long, see below


def _fewer_substrings(strings) -> list[str]:
    """Few short strings, one of which any text holding one of `strings` holds.

    Each unanchored need string costs one search of the whole page; 'photographer:',
    'photograph:' and 'photo by:' are all found by searching for 'photo'. Greedy set cover
    over the substrings of `_SEARCH_PREFIX` characters (shorter strings stand for themselves).
    """
    uncovered = set(_shortest_covering(strings, str.__contains__))
    chosen: list[str] = []
    while uncovered:
        candidates = {
            string[start : start + _SEARCH_PREFIX]
            for string in uncovered
            for start in range(max(1, len(string) - _SEARCH_PREFIX + 1))
        }
        best = max(
            sorted(candidates),
            key=lambda part: (
                sum(part in string for string in uncovered),
                " " not in part,  # word fragments are rarer than spans across words
                any(string.startswith(part) for string in uncovered),
            ),
        )
        chosen.append(best)
        uncovered = {string for string in uncovered if best not in string}
    return sorted(chosen)


_Bucket = tuple[tuple[str, ...], tuple[tuple[int, tuple[str, ...]], ...]]


@dataclass(frozen=True, slots=True)
class LineRuleIndex:
    """The line rules (by position in `RuleSet.line_rules`) by what a line must hold.

    Lines are looked up after `fold_case`: by their first two characters (rules whose need is
    at the line start; one-character strings under that character), by their last two (at the
    end), and by searching the text for each unanchored need string. A bucket holds all its
    strings, then (rule position, strings) per rule. Regex rules without a need are tried on
    every line; detectors where the engine's test says (or on every line, unfiltered).
    """

    by_start: dict[str, _Bucket]  # keyed by the first two characters, or the only one
    by_end: dict[str, _Bucket]  # keyed by the last two characters, or the only one
    # Per character kind ("digit", "other"): rules a line starting (ending) with one may match.
    kind_first: dict[str, tuple[int, ...]]
    kind_last: dict[str, tuple[int, ...]]
    inside: tuple[tuple[str, tuple[int, ...]], ...]  # need string -> rules it stands for
    unfiltered: tuple[int, ...]
    detectors: tuple[int, ...]

    @classmethod
    def build(
        cls, line_rules: list[Rule], needs: dict[str, LiteralNeed], filter_detectors: bool = True
    ) -> "LineRuleIndex":
        """The index of `line_rules`; `build(rules, {}, False)` tries every rule on every line."""
        first: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        last: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        kind_first: dict[str, list[int]] = {}
        kind_last: dict[str, list[int]] = {}
        inside: dict[str, list[int]] = {}
        unfiltered: list[int] = []
        for position, rule in enumerate(line_rules):
            need = needs.get(rule.id) if rule.kind == "line_regex" else None
            if need is None:
                if rule.kind == "line_regex" or not filter_detectors:
                    unfiltered.append(position)
                continue
            if not (need.at_start or need.at_end):
                for string in _fewer_substrings(need.strings):
                    inside.setdefault(string, []).append(position)
                continue
            if need.at_start:
                strings = _shortest_covering(need.strings, str.startswith)
                table, kinds, key = first, kind_first, (lambda string: string[:2])
            else:
                strings = _shortest_covering(need.strings, str.endswith)
                table, kinds, key = last, kind_last, (lambda string: string[-2:])
            for kind in need.kinds:
                kinds.setdefault(kind, []).append(position)
            for end in sorted({key(string) for string in strings}):
                table.setdefault(end, []).append(
                    (position, tuple(string for string in strings if key(string) == end))
                )
        return cls(
            by_start={end: _bucket(rows) for end, rows in first.items()},
            by_end={end: _bucket(rows) for end, rows in last.items()},
            kind_first={kind: tuple(rules) for kind, rules in kind_first.items()},
            kind_last={kind: tuple(rules) for kind, rules in kind_last.items()},
            inside=_merge_contained(inside),
            unfiltered=tuple(unfiltered),
            detectors=tuple(
                position
                for position, rule in enumerate(line_rules)
                if rule.kind == "line_detector" and filter_detectors
            ),
        )


def _merge_contained(inside: dict[str, list[int]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """One search per string not holding another: a text holding 'newsletter' holds 'news', so
    the rules of the longer string go with the shorter one."""
    kept = [string for string in inside if not any(o in string for o in inside if o != string)]
    return tuple(
        (
            string,
            tuple(sorted({rule for other in inside if string in other for rule in inside[other]})),
        )
        for string in sorted(kept)
    )


def _bucket(rows: list[tuple[int, tuple[str, ...]]]) -> _Bucket:
    strings = tuple(sorted({string for _position, strings in rows for string in strings}))
    return strings, tuple(rows)
