"""What the page, report.md and the history page say about the split that scored a run: a time split's
section (the held-out ratings are the latest, the cutoff, the periods, the cold ratings), and a comparison
across splits shown as not the same measurement. A random-split report says what it always said."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from reportgen import pipeline
from reportgen.render import html as render
from reportgen.render.markdown import render_markdown
from reportgen.report import ReportDoc, compare, to_json
from tests.helpers.reports import hand_made_report
from tests.report.test_split_readback import time_split_report

pytestmark = pytest.mark.usefixtures("undrawn")


def page(report: object) -> BeautifulSoup:
    return BeautifulSoup(render.render_html(report), "html.parser")


def text(node: object) -> str:
    return " ".join(node.get_text(" ").split())


def test_a_time_split_page_says_the_held_out_ratings_are_the_latest() -> None:
    soup = page(time_split_report())
    section = soup.select_one("section#split")
    assert section is not None and soup.select_one("nav a[href='#split']") is not None
    said = text(section)
    assert (
        "the held-out ratings are the latest 20 001, every one given at or after the cutoff, 1998-03-07 02:21:09 UTC"
        in said
    )
    assert "Training period 1997-09-20 03:05:10 UTC to 1998-03-07 02:20:47 UTC: 79 999 ratings" in said
    assert "Validation ratings by users never seen before the cutoff 17 048 (85.2 %)" in said
    assert "Validation ratings of items never seen before the cutoff 198 (1.0 %)" in said
    assert "Validation share (time split: the latest ratings)" in text(soup.select_one("section#run"))


def test_a_random_split_page_has_no_split_section_and_names_its_split() -> None:
    soup = page(hand_made_report())
    assert soup.select_one("section#split") is None
    assert "Validation share (random split)" in text(soup.select_one("section#run"))


def stable_split_report() -> object:
    report = hand_made_report()  # 80,000 training and 20,000 held-out ratings: make it a stable split's 19,937
    metrics = dataclasses.replace(report.metrics, n_train=80_063, n_valid=19_937)
    return dataclasses.replace(report, config=dataclasses.replace(report.config, split="stable"), metrics=metrics)


def test_a_stable_split_page_says_how_it_draws_and_that_the_share_is_not_exact() -> None:
    soup = page(stable_split_report())
    assert soup.select_one("section#split") is None
    row = next(tr for tr in soup.select("section#run tr") if "Validation share" in tr.th.get_text())
    assert text(row.th) == (
        "Validation share (stable split: a rating is held out by a hash of its user, item and seed, the same every "
        "night, so the share is close to, not exactly, the one asked)"
    )
    assert text(row.td) == "0.2 asked, 19.94 % held out"
    assert (
        "- **Split:** stable: a rating is held out when a hash of its user, item and seed says so, the same every "
        "night, so 19,937 of 100,000 were held out (19.94 %: close to, not exactly, the share of 0.2 asked)"
    ) in render_markdown(stable_split_report()).splitlines()


def test_report_md_says_which_split_scored_the_model() -> None:
    md = render_markdown(time_split_report())
    assert (
        "- **Split:** time: the held-out ratings are the latest 20,001, at or after 1998-03-07 02\\:21\\:09 UTC; "
        "the model trained on the 79,999 before it; 17,048 held-out ratings are by users and 198 of items it "
        "never saw before the cutoff"
    ) in md.splitlines()
    assert "**Split:**" not in render_markdown(hand_made_report())


def across_splits() -> object:
    c = compare.compare(ReportDoc(to_json(hand_made_report())), ReportDoc(to_json(time_split_report())), "prev")
    return dataclasses.replace(time_split_report(), comparison=c)


def test_a_comparison_across_splits_is_not_judged_on_the_page_or_in_report_md() -> None:
    report = across_splits()
    said = text(page(report).select_one("section#changes"))
    assert (
        "Not the same measurement : the previous run was scored on a random split and this one on a time split" in said
    )
    assert "the two valid RMSEs below are not comparable and no verdict is drawn" in said
    md = render_markdown(report)
    assert "**Verdict: not comparable (random split before, time split now).**" in md
    assert "The previous run was scored on a random split, this one on a time split: not the same measurement." in md
    assert "Within noise means" not in md  # no threshold applies where nothing is judged
    assert "Within noise means" in render_markdown(
        dataclasses.replace(report, comparison=dataclasses.replace(report.comparison, splits=("time", "time")))
    )


def test_the_history_page_shows_each_runs_split_and_no_verdict_across_splits(tmp_path: Path) -> None:
    runs = tmp_path / "out" / "runs"
    pipeline.write(hand_made_report(), runs / "20261125T010000Z")
    pipeline.write(across_splits(), runs / "20261126T010000Z")
    pipeline.write_history(tmp_path / "out")
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text(encoding="utf-8"), "html.parser")
    heads = [text(th) for th in soup.select("table.history thead th")]
    cells = [[text(td) for td in tr.find_all("td")] for tr in soup.select("table.history tbody tr")]
    split = heads.index("Split")
    assert [r[split] for r in cells] == ["random", "time"]
    assert cells[1][split + 1].startswith("not comparable (random split before, time split now)")


def test_a_history_of_random_runs_has_no_split_column(tmp_path: Path) -> None:
    pipeline.write(hand_made_report(), tmp_path / "out" / "runs" / "20261125T010000Z")
    pipeline.write_history(tmp_path / "out")
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert "Split" not in [text(th) for th in soup.select("table.history thead th")]
