"""Tests of the bag-of-words scorer and the directory evaluation."""

import json
import time
from pathlib import Path

import pytest

from tasks.clean.evaluation import (
    evaluate_directory,
    format_report,
    load_manifest,
    report_to_dict,
    score_page,
    tokenize,
)

DEV_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", ["Hello", "world"]),
        ("  line one\n\nline\ttwo  ", ["line", "one", "line", "two"]),
        ("3.5% of snake_case", ["3", "5", "of", "snake_case"]),
        ("Ça va? don't", ["Ça", "va", "don", "t"]),
        ("한국어 문장입니다.", ["한국어", "문장입니다"]),
        ("", []),
        ("-- ... !!", []),
    ],
)
def test_tokenize_keeps_runs_of_word_characters(text, expected):
    assert tokenize(text) == expected


def test_identical_texts_score_one():
    score = score_page("The cat sat on the mat.", "The cat sat on the mat.")
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)
    assert score.out_tokens == score.gold_tokens == 6


def test_disjoint_texts_score_zero():
    score = score_page("alpha beta", "gamma delta epsilon")
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)
    assert (score.out_tokens, score.gold_tokens) == (2, 3)


@pytest.mark.parametrize("output", ["", "   \n\n", "... -- !"])
def test_empty_output_has_zero_precision_and_f1(output):
    score = score_page(output, "some gold text")
    assert score.precision == 0.0
    assert score.recall == 0.0
    assert score.f1 == 0.0
    assert score.out_tokens == 0


def test_empty_gold_has_zero_recall():
    score = score_page("some output", "")
    assert (score.precision, score.recall, score.f1, score.gold_tokens) == (0.0, 0.0, 0.0, 0)


def test_repeated_tokens_count_by_minimum():
    # out: news x3, today x1 (4 tokens); gold: news x1, today x2 (3 tokens).
    # tp = min(3, 1) + min(1, 2) = 2, so P = 2/4 and R = 2/3.
    score = score_page("news news news today", "news today today")
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(2 / 3)


def test_punctuation_and_whitespace_are_ignored():
    score = score_page("Hello,   world!\n\n-- Bye.", "Hello world Bye")
    assert score.f1 == 1.0


def test_tokens_are_case_sensitive():
    score = score_page("Hello World", "hello world")
    # "Hello"/"hello" and "World"/"world" differ only in case, so nothing matches.
    assert score.f1 == 0.0
    assert score_page("Hello world", "hello world").precision == pytest.approx(0.5)


def test_worked_example():
    # out  = a a b c      -> 4 tokens: a x2, b x1, c x1
    # gold = a b b d e    -> 5 tokens: a x1, b x2, d x1, e x1
    # tp = min(2,1) [a] + min(1,2) [b] + 0 [c] = 2
    # P = 2/4 = 0.5, R = 2/5 = 0.4, F1 = 2*0.5*0.4 / (0.5+0.4) = 0.4/0.9 = 0.444...
    score = score_page("a, a; b. c", "a b b d e")
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.4)
    assert score.f1 == pytest.approx(4 / 9)
    assert (score.out_tokens, score.gold_tokens) == (4, 5)


MANIFEST = (
    "id\tsplit\tsite\tlang_guess\tpage_tokens\tgold_tokens\tgold_recall_in_page\tsource_id\turl\n"
    "p_en1\tdev\ta.example\ten\t0\t0\t1.0\tx\thttps://a.example/1\n"
    "p_en2\tdev\tb.example\ten\t0\t0\t1.0\tx\thttps://b.example/2\n"
    "p_ko\tdev\tc.example\tko\t0\t0\t1.0\tx\thttps://c.example/3\n"
)


def drop_menu_lines(text: str) -> str:
    """Toy cleaner: drop lines that start with "MENU"."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("MENU"))


def build_pages(directory: Path, with_manifest: bool = True) -> None:
    """Write three scored pages, one input without gold, and optionally a manifest."""
    pages = {
        "p_en1": (
            "MENU Home News Sport\nThe council voted on Tuesday.\n",
            "The council voted on Tuesday.",
        ),
        "p_en2": (
            "MENU Home\nRain is expected.\nIt will stop soon.\n",
            "Rain is expected.\nIt will stop soon.",
        ),
        "p_ko": ("MENU 홈\n서울에 비가 온다.\n", "서울에 비가 온다."),
    }
    for page_id, (text, gold) in pages.items():
        (directory / f"{page_id}.txt").write_text(text, encoding="utf-8")
        (directory / f"{page_id}.gold.txt").write_text(gold, encoding="utf-8")
    (directory / "p_nogold.txt").write_text("MENU only input, no gold\n", encoding="utf-8")
    if with_manifest:
        (directory / "manifest.tsv").write_text(MANIFEST, encoding="utf-8")


def test_load_manifest_reads_rows_by_id(tmp_path):
    build_pages(tmp_path)
    manifest = load_manifest(tmp_path)
    assert set(manifest) == {"p_en1", "p_en2", "p_ko"}
    assert manifest["p_ko"]["lang_guess"] == "ko"
    assert manifest["p_en1"]["site"] == "a.example"


def test_load_manifest_is_empty_without_file(tmp_path):
    assert load_manifest(tmp_path) == {}


def test_evaluate_directory_scores_baseline_and_cleaner(tmp_path):
    source = tmp_path / "pages"
    source.mkdir()
    build_pages(source)
    out_dir = tmp_path / "out"

    report = evaluate_directory(source, drop_menu_lines, out_dir=out_dir)

    assert [page.page_id for page in report.pages] == ["p_en1", "p_en2", "p_ko"]
    by_id = {page.page_id: page for page in report.pages}
    assert by_id["p_ko"].lang == "ko"
    assert by_id["p_en2"].site == "b.example"
    for page in report.pages:
        assert page.baseline.recall == 1.0
        assert page.cleaned.f1 == 1.0
    # p_en1 baseline: 9 input tokens, 5 of them gold -> P = 5/9.
    assert by_id["p_en1"].baseline.precision == pytest.approx(5 / 9)
    assert by_id["p_en1"].baseline.out_tokens == 9

    assert sorted(path.name for path in out_dir.iterdir()) == ["p_en1.txt", "p_en2.txt", "p_ko.txt"]
    assert (out_dir / "p_ko.txt").read_text(encoding="utf-8") == "서울에 비가 온다."

    assert report.english_pages == 2
    assert [group.name for group in report.groups] == ["all", "en", "lang=ko"]
    assert report.group("all").pages == 3
    assert report.group("en").pages == 2
    assert report.group("lang=ko").pages == 1
    assert report.group("all").cleaned.f1_mean == 1.0
    assert report.group("all").baseline.recall_mean == 1.0
    assert report.group("en").baseline.f1_mean < 1.0


def test_evaluate_directory_without_manifest_marks_lang_unknown(tmp_path):
    build_pages(tmp_path, with_manifest=False)
    report = evaluate_directory(tmp_path, lambda text: text)
    assert {page.lang for page in report.pages} == {"unknown"}
    assert [group.name for group in report.groups] == ["all", "lang=unknown"]
    assert report.english_pages == 0
    with pytest.raises(KeyError):
        report.group("en")


def test_empty_and_missing_outputs_score_zero(tmp_path):
    build_pages(tmp_path)
    report = evaluate_directory(tmp_path, lambda text: None if "Rain" in text else "")
    for page in report.pages:
        assert page.cleaned.precision == 0.0
        assert page.cleaned.f1 == 0.0
        assert page.baseline.recall == 1.0


def test_evaluate_directory_times_only_the_cleaner(tmp_path):
    build_pages(tmp_path)

    def slow_identity(text: str) -> str:
        time.sleep(0.01)
        return text

    report = evaluate_directory(tmp_path, slow_identity)
    assert report.clean_seconds >= 0.03
    assert report.docs_per_second == pytest.approx(3 / report.clean_seconds)


def test_evaluate_directory_rejects_directory_without_pages(tmp_path):
    (tmp_path / "lonely.txt").write_text("no gold here", encoding="utf-8")
    with pytest.raises(ValueError, match="gold"):
        evaluate_directory(tmp_path, lambda text: text)


def test_format_report_and_dict(tmp_path):
    build_pages(tmp_path)
    report = evaluate_directory(tmp_path, drop_menu_lines)

    text = format_report(report)
    assert "pages: 3 (English 2)" in text
    assert "p_en1" in text
    assert "cleaned  (lang=ko)" in text
    assert "baseline (en)" in text
    assert "docs/s" in text
    summary_only = format_report(report, per_page=False)
    assert "p_en1" not in summary_only
    assert summary_only.startswith("pages: 3 (English 2)")

    data = json.loads(json.dumps(report_to_dict(report)))
    assert data["pages"] == 3
    assert data["english_pages"] == 2
    assert data["groups"]["en"]["pages"] == 2
    assert data["groups"]["all"]["cleaned"]["f1_mean"] == 1.0
    assert [row["id"] for row in data["per_page"]] == ["p_en1", "p_en2", "p_ko"]
    assert data["per_page"][0]["baseline"]["recall"] == 1.0


def test_dev_baseline_matches_published_reference():
    if not DEV_DIR.is_dir():
        pytest.skip(f"evaluation set not found at {DEV_DIR}")
    report = evaluate_directory(DEV_DIR, lambda text: text)
    overall = report.group("all")
    assert overall.pages == 57
    assert report.english_pages == 53
    assert overall.baseline.f1_mean == pytest.approx(0.742, abs=0.001)
    assert overall.baseline.f1_median == pytest.approx(0.763, abs=0.001)
    assert overall.baseline.precision_mean == pytest.approx(0.614, abs=0.001)
    assert overall.baseline.recall_mean == pytest.approx(1.000, abs=0.001)
    # The identity cleaner is the baseline, so both columns agree.
    assert overall.cleaned == overall.baseline
