"""Audit the cleaner's rule table: what each rule removes on a folder of pages, and how much of
that was article text.

Each page is cleaned as `tasks.process.engine.clean_page_body` cleans it (`clean_text` on
`normalize_text(text)`, no learned lines, then `extract_article`); every removed line is
credited to the rule id that removed it. Per rule: lines removed, pages and distinct sites
(the manifest's `site`; a page without a manifest row counts as its own site), the largest
share of its lines on one site, words removed, and, where `<id>.gold.txt` exists, gold words
and gold lines.

Gold measure: a removed line's gold words are the \\w+ tokens of the line (the evaluation's
tokens, case-sensitive) that the gold body holds and the page's output lacks, i.e. the recall
the removal cost. Per page, the missing multiset is gold tokens minus output tokens; removed
lines take from it longest line first (a long line is likelier to be body text than a
short label sharing a word with it), so the gold words of a page's lines sum to at most its
missed tokens. A removed line is a gold line when its gold words are at least `--threshold`
(default 0.8) of its tokens.

Rows are sorted by gold words, then fewest sites, then most lines: rules that removed article
text come first, then rules that fired on one site only. Rules that never fired are listed
after the table. Pages are cleaned one at a time, as the evaluation cleans them, so
learned.site-boilerplate (lines learned across a source's pages) never fires here, and a rule
of role list_item keeps lines rather than removing them.

`--show N` prints each rule's N removed lines with the most gold words, then the most frequent
('*' marks gold lines); `--rule ID` limits that listing to the given rules.
"""

import argparse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tasks.clean.engine import KNOWN_DETECTORS, clean_text
from tasks.clean.evaluation import GOLD_SUFFIX, load_manifest, tokenize
from tasks.clean.rules import DEFAULT_RULES_PATH, RuleSet, load_rules
from tasks.extract.engine import extract_article
from tasks.read.engine import normalize_text
from tasks.settings import Settings

DEFAULT_PAGES = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"
DEFAULT_THRESHOLD = 0.8
TEXT_WIDTH = 70


@dataclass(frozen=True, slots=True)
class RemovedLine:
    """One line a rule removed, with how many of its tokens were missed gold tokens."""

    page_id: str
    site: str
    line_number: int
    text: str
    words: int
    gold_words: int
    is_gold: bool


@dataclass(slots=True)
class RuleAudit:
    """What one rule removed across the folder."""

    rule_id: str
    kind: str
    role: str
    lines: list[RemovedLine] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return len({line.page_id for line in self.lines})

    @property
    def sites(self) -> int:
        return len({line.site for line in self.lines})

    @property
    def top_site_share(self) -> float:
        """Share of the rule's lines on the site where it removed the most."""
        if not self.lines:
            return 0.0
        return max(Counter(line.site for line in self.lines).values()) / len(self.lines)

    @property
    def words(self) -> int:
        return sum(line.words for line in self.lines)

    @property
    def gold_words(self) -> int:
        return sum(line.gold_words for line in self.lines)

    @property
    def gold_lines(self) -> int:
        return sum(line.is_gold for line in self.lines)

    def sort_key(self) -> tuple[int, int, int, str]:
        return -self.gold_words, self.sites, -len(self.lines), self.rule_id


def page_files(directory: Path) -> list[Path]:
    """The `<id>.txt` pages of a folder (gold files left out), sorted."""
    return sorted(path for path in directory.glob("*.txt") if not path.name.endswith(GOLD_SUFFIX))


def removed_lines(
    page: Path, site: str, rules: RuleSet, settings: Settings, threshold: float
) -> list[tuple[str, RemovedLine]]:
    """(rule id, line) for every line the cleaner removed from one page."""
    cleaned = clean_text(normalize_text(page.read_text(encoding="utf-8")), rules, settings)
    output = Counter(tokenize(extract_article(cleaned, "", settings).body_text))
    gold_path = page.with_name(page.name.removesuffix(".txt") + GOLD_SUFFIX)
    gold = Counter(tokenize(gold_path.read_text(encoding="utf-8"))) if gold_path.is_file() else None
    missing = gold - output if gold is not None else Counter()
    removed = sorted(
        cleaned.removed, key=lambda line: (-len(tokenize(line.text)), line.line_number)
    )
    found = []
    for line in removed:
        tokens = Counter(tokenize(line.text))
        credited = tokens & missing
        missing -= credited
        words, gold_words = tokens.total(), credited.total()
        is_gold = words > 0 and gold_words >= threshold * words
        found.append(
            (
                line.rule_id or "(none)",
                RemovedLine(
                    page.name.removesuffix(".txt"),
                    site,
                    line.line_number,
                    line.text,
                    words,
                    gold_words,
                    is_gold,
                ),
            )
        )
    return found


def audit_folder(
    directory: Path, rules: RuleSet, settings: Settings, threshold: float
) -> tuple[list[RuleAudit], int, int, bool]:
    """Per-rule audits (every rule of the table, fired or not), pages, sites, whether gold."""
    manifest = load_manifest(directory)
    pages = page_files(directory)
    audits = {rule.id: RuleAudit(rule.id, rule.kind, rule.role) for rule in rules.rules}
    sites = set()
    has_gold = False
    for page in pages:
        page_id = page.name.removesuffix(".txt")
        site = manifest.get(page_id, {}).get("site") or page_id
        sites.add(site)
        has_gold |= page.with_name(page_id + GOLD_SUFFIX).is_file()
        for rule_id, line in removed_lines(page, site, rules, settings, threshold):
            audits.setdefault(rule_id, RuleAudit(rule_id, "?", "?")).lines.append(line)
    return sorted(audits.values(), key=RuleAudit.sort_key), len(pages), len(sites), has_gold


def _flags(audit: RuleAudit) -> str:
    flags = []
    if audit.gold_lines:
        flags.append("GOLD")
    if audit.sites == 1:
        flags.append("ONE-SITE")
    return " ".join(flags)


def format_table(audits: list[RuleAudit], has_gold: bool) -> list[str]:
    """One row per rule that fired."""
    fired = [audit for audit in audits if audit.lines]
    width = max((len(audit.rule_id) for audit in fired), default=7)
    gold_header = f" {'gold_w':>6} {'gold_l':>6}" if has_gold else ""
    rows = [
        f"{'rule_id':<{width}} {'kind':<13} {'lines':>5} {'pages':>5} {'sites':>5}"
        f" {'top%':>4} {'words':>6}{gold_header}  flags"
    ]
    for audit in fired:
        gold = f" {audit.gold_words:>6} {audit.gold_lines:>6}" if has_gold else ""
        rows.append(
            f"{audit.rule_id:<{width}} {audit.kind:<13} {len(audit.lines):>5} {audit.pages:>5}"
            f" {audit.sites:>5} {audit.top_site_share * 100:>4.0f} {audit.words:>6}{gold}"
            f"  {_flags(audit)}"
        )
    return rows


def _shorten(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


def format_samples(audits: list[RuleAudit], show: int, only: set[str]) -> list[str]:
    """The removed lines of each rule, most gold words first, then most frequent.

    Per distinct text: '*' when one of its printings is a gold line, times removed, gold words
    summed over its printings, the text, and the sites it was removed on.
    """
    rows = []
    for audit in audits:
        if not audit.lines or (only and audit.rule_id not in only):
            continue
        texts = Counter(line.text for line in audit.lines)
        gold = {line.text for line in audit.lines if line.is_gold}
        gold_words: Counter[str] = Counter()
        sites = defaultdict(set)
        for line in audit.lines:
            gold_words[line.text] += line.gold_words
            sites[line.text].add(line.site)
        ordered = sorted(
            texts, key=lambda text: (text not in gold, -gold_words[text], -texts[text], text)
        )
        rows.append(f"\n{audit.rule_id} ({len(texts)} distinct lines)")
        for text in ordered[:show]:
            mark = "*" if text in gold else " "
            where = ", ".join(sorted(sites[text])[:3]) + ("…" if len(sites[text]) > 3 else "")
            rows.append(
                f"  {mark} {texts[text]:>3}x g={gold_words[text]:<3} {_shorten(text)}  [{where}]"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "pages", type=Path, nargs="?", default=DEFAULT_PAGES, help="folder of <id>.txt pages"
    )
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH, help="rule table")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="share of a removed line's tokens that must be missed gold tokens to call it gold",
    )
    parser.add_argument("--show", type=int, default=0, help="removed lines to print per rule")
    parser.add_argument("--rule", action="append", default=[], help="only list these rules")
    args = parser.parse_args()
    if not page_files(args.pages):
        raise SystemExit(f"no .txt pages in {args.pages}")
    rules = load_rules(args.rules, known_detectors=KNOWN_DETECTORS)
    audits, pages, sites, has_gold = audit_folder(args.pages, rules, Settings(), args.threshold)
    print(f"pages: {pages} from {args.pages}, sites: {sites}, rules: {len(rules.rules)}")
    if has_gold:
        print(
            f"gold_w: removed words the output lacks from the gold; gold_l: removed lines with"
            f" gold_w >= {args.threshold:.0%} of their words"
        )
    print("\n".join(format_table(audits, has_gold)))
    never = [audit for audit in audits if not audit.lines]
    print(f"\nnever fired ({len(never)}):")
    for audit in sorted(never, key=lambda audit: audit.rule_id):
        keeps = ", keeps lines" if audit.role == "list_item" else ""
        print(f"  {audit.rule_id} ({audit.kind}{keeps})")
    if args.show:
        print("\n".join(format_samples(audits, args.show, set(args.rule))))


if __name__ == "__main__":
    main()
