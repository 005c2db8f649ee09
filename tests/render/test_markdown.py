"""report.md: GitHub-flavoured Markdown that a CommonMark parser reads into the expected tables, whatever the titles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from reportgen.render import markdown
from reportgen.report import compare
from tests.helpers.reports import HOSTILE, INJECTION, TEMPLATE_LIKE, hand_made_comparison, hand_made_report

MARKUP_TITLES = (
    "A | B (1990)",
    "*bold* _it_ **x** `code` ~~gone~~",
    "<b>x</b> <!-- c --> &amp; &lt;",
    "[x](https://example.com) ![i](y.png) <https://example.com> www.example.com",
    "# Heading\nsecond line | cell\r\nthird",
    "- dash \\| escaped pipe \\ + plus === ^up",
    "1. listed @someone #123 :smile: $x^2$",
    HOSTILE,
    INJECTION,
    TEMPLATE_LIKE,
)


def parse(text: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(text)


def tables(text: str) -> dict[str, list[list[str]]]:
    """Each table by the text of the heading above it (or its first header cell): its rows of cell texts."""
    tokens, found, heading, rows, row = parse(text), {}, "", None, None
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            heading = tokens[i + 1].content
        elif t.type == "table_open":
            rows = []
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None and rows is not None:
            row.append("".join(c.content for c in t.children if c.type in ("text", "softbreak")))
        elif t.type == "tr_close":
            rows.append(row)
            row = None
        elif t.type == "table_close":
            key = heading if heading not in found else rows[0][0]
            found[key] = rows
            rows = None
    return found


def inline_kinds(text: str) -> set[str]:
    return {c.type for t in parse(text) if t.type == "inline" for c in t.children}


def with_titles(titles: tuple[str, ...]):
    report = hand_made_report(titles)
    return dataclasses.replace(
        report,
        comparison=hand_made_comparison(titles),
    )


def test_every_title_shows_exactly_as_text_in_its_table_cell() -> None:
    """Exactly its characters, and an invisible word joiner where an autolink or mention would start."""
    text = markdown.render_markdown(with_titles(MARKUP_TITLES))
    found = tables(text.replace(markdown.WORD_JOINER, ""))
    shown = [row[1] for row in found["Highest biases"][1:]]
    assert shown == [" ".join(t.split()) for t in MARKUP_TITLES[:5]]  # line breaks become spaces, nothing else changes
    assert [row[1] for row in found["Lowest biases"][1:]] == [" ".join(t.split()) for t in reversed(MARKUP_TITLES[-5:])]
    assert all(len(row) == 5 for name in ("Highest biases", "Lowest biases") for row in found[name])  # no | split a row
    moves = found["Largest bias moves"]
    assert [row[0] for row in moves[1:]] == [" ".join(t.split()) for t in MARKUP_TITLES[:5]]
    # Nothing but text, emphasis of our own labels and our own code spans: no link, image, HTML or line break.
    assert inline_kinds(text) <= {"text", "strong_open", "strong_close", "code_inline", "softbreak"}
    assert not any(t.type.startswith(("html", "heading")) and "Heading" in t.content for t in parse(text))
    code = [c.content for t in parse(text) if t.type == "inline" for c in t.children if c.type == "code_inline"]
    assert all(t not in " ".join(code) for t in MARKUP_TITLES)


def test_md_escapes_what_markdown_would_read_and_keeps_plain_words() -> None:
    assert markdown.md("Star Wars (1977)") == "Star Wars (1977)"
    assert markdown.md("a|b") == "a\\|b"
    assert markdown.md("# x\ny") == "\\# x y"
    assert markdown.md("[x](y)") == "\\[x\\](y)"
    assert markdown.md("\u2028<i>\x00") == "\\<i\\>"


def test_the_summary_is_short_signed_and_gives_a_verdict() -> None:
    text = markdown.render_markdown(with_titles(MARKUP_TITLES))
    lines = text.splitlines()
    assert len(lines) < 80
    assert "<" not in text.replace("\\<", "")  # no HTML of our own
    verdict = next(line for line in lines if line.startswith("**Verdict:"))
    assert verdict.startswith("**Verdict: better.** Valid RMSE 0.9487 → 0.9201 (−0.0286, −3.02 %)")
    assert f"less than {compare.NOISE_PCT:g} % of the previous RMSE" in verdict
    found = tables(text)
    assert found["Since the previous run"][1:] == [
        ["Valid RMSE", "0.9487", "0.9201", "−0.0286"],
        ["Valid MSE", "0.9000", "0.8465", "−0.0535"],
    ]
    assert found["Validation error"][1:] == [
        ["This model (biases and latent factors)", "0.9201", ""],
        ["User and item biases only", "0.9375", "+0.0174"],
        ["Global mean (3.50)", "1.1250", "+0.2049"],
    ]


@pytest.mark.parametrize(
    ("change", "changed", "word"),
    [
        (-3.0, False, "better"),
        (2.0, False, "worse"),
        (0.99, False, "within noise"),
        (-0.5, True, "within noise (other data)"),
    ],
)
def test_the_verdict_names_noise_by_its_threshold(change: float, changed: bool, word: str) -> None:
    assert compare.verdict(change, changed) == word


@pytest.mark.ml100k
def test_the_ml100k_report_md_parses_into_the_expected_tables(ml100k_report: dict) -> None:
    out: Path = ml100k_report["out"]
    doc = ml100k_report["doc"]
    text = (out / "report.md").read_text(encoding="utf-8")
    run = sorted((out / "runs").iterdir())[-1]
    assert (run / "report.md").read_text(encoding="utf-8") == text  # kept in the run, published beside the latest
    assert len(text.splitlines()) < 80
    found = tables(text)
    b = doc["insight"]["baselines"]
    assert [row[1] for row in found["Validation error"][1:]] == [
        f"{b[k]:.4f}" for k in ("model_rmse", "bias_only_rmse", "global_mean_rmse")
    ]
    for name, key in (("Lowest biases", "worst"), ("Highest biases", "best")):
        rows = found[name]
        assert rows[0] == ["#", "Title", "Bias", "Mean rating", "Ratings"]
        assert [r[1] for r in rows[1:]] == [e["title"] for e in doc["bias"][key][:5]]
        assert [float(r[2].replace("−", "-")) for r in rows[1:]] == [round(e["bias"], 4) for e in doc["bias"][key][:5]]
    assert doc["dataset"]["sha256"] in text and "ml-100k" in text
