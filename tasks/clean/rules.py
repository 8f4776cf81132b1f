"""Load and check the boilerplate rule table (`rules.toml`)."""

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

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
class RuleSet:
    """The rule table, split by kind, with a fingerprint of its content."""

    rules: tuple[Rule, ...]
    fingerprint: str
    # Per scope: one regex that matches wherever any line_regex rule of that scope matches.
    prefilters: tuple[tuple[str, re.Pattern[str] | None], ...] = ()

    def prefilter(self, scope: str) -> re.Pattern[str] | None:
        return dict(self.prefilters).get(scope)

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
    return RuleSet(rules=tuple(rules), fingerprint=fingerprint, prefilters=_prefilters(rules))


def _as_group(pattern: str) -> str:
    """A rule pattern as an unnamed group, safe to join into one alternation."""
    pattern = re.sub(r"\(\?P<\w+>", "(?:", pattern)
    if pattern.startswith("(?i)"):
        return "(?i:" + pattern[4:] + ")"
    return "(?:" + pattern + ")"


def _prefilters(rules: list[Rule]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    combined = []
    for scope in RULE_SCOPES:
        patterns = [
            _as_group(rule.regex.pattern)
            for rule in rules
            if rule.kind == "line_regex" and rule.scope == scope
        ]
        combined.append((scope, re.compile("|".join(patterns)) if patterns else None))
    return tuple(combined)


def load_rules(
    path: Path = DEFAULT_RULES_PATH, known_detectors: frozenset[str] = frozenset()
) -> RuleSet:
    """Read and parse the rule table at `path`."""
    return parse_rules(path.read_text(encoding="utf-8"), known_detectors)
