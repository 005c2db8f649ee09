"""OUTPUT/index.html, the history page: every kept run, its links and trend charts, and what is not a run.

The page is checked like the report (tests/helpers/browser.py): Chromium offline with no CSP
violation, axe-core and the Nu HTML Checker, printed on A4.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen import pipeline
from reportgen.cli import cli
from reportgen.render.history import Stretch
from reportgen.render.history import stretches as stretches_of
from reportgen.report import BiasMove, Comparison
from reportgen.runs import outputs
from reportgen.runs.history import RunRow
from reportgen.train.results import Runtime
from tests.helpers import browser as tools
from tests.helpers.browser import A4_PRINTABLE_PX, assert_clean
from tests.helpers.pages import assert_self_contained
from tests.helpers.planted import Planted, write_grouplens
from tests.helpers.reports import INJECTION, hand_made_report

RUNS = {  # name -> (valid RMSE, ratings, fit seconds)
    "20261125T010000Z": (0.95, 100_000, 12.5),
    "20261126T010000Z": (0.93, 100_000, 11.0),
    "20261127T010000Z": (0.9301, 120_000, 14.25),
}
FOREIGN = {
    "20261128T010000Z": "a symbolic link, not followed",
    "20261128T020000Z": "not a folder",
    "20261128T030000Z": "report.json is not valid JSON (Expecting property name enclosed in double quotes, line 1)",
    "20261128T040000Z": "report.json is damaged or foreign: not a reportgen report.json: metrics.valid_mse is not a finite number",
    "20261128T050000Z": "no report.json",
    "notes": "not a reportgen run: its name is not a UTC time",
}


def run_report(name: str, rmse: float, n_ratings: int, seconds: float, previous: float | None):
    report = hand_made_report()
    comparison = None
    if previous is not None:
        comparison = Comparison(
            "the previous run's report.json",
            "2026-11-24T01:00:00+00:00",
            False,
            "ab" * 32,
            "ab" * 32,
            previous**2,
            rmse**2,
            previous,
            rmse,
            (),
            (BiasMove("Alpha (1990)", 0.1, 0.2),),
        )
    return dataclasses.replace(
        report,
        generated_at=f"{name[:4]}-{name[4:6]}-{name[6:8]}T01:00:00+00:00",
        dataset=dataclasses.replace(
            report.dataset, name=INJECTION if n_ratings > 100_000 else "ml-100k", n_ratings=n_ratings
        ),
        metrics=dataclasses.replace(report.metrics, valid_rmse=rmse, valid_mse=rmse**2),
        runtime=Runtime("lean", "tutorial", "cpu", 1, 6250, seconds),
        comparison=comparison,
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three kept runs, and beside them everything runs/ can hold that is not a run."""
    folder = tmp_path_factory.mktemp("history") / "nightly"
    runs = folder / "runs"
    previous = None
    for name, (rmse, n, seconds) in RUNS.items():
        pipeline.write(run_report(name, rmse, n, seconds, previous), runs / name)
        previous = rmse
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    pipeline.write(run_report("20261231T000000Z", 0.5, 1, 1.0, None), elsewhere)
    os.symlink(elsewhere, runs / "20261128T010000Z")
    (runs / "20261128T020000Z").write_text("a file named like a run")
    for name, text in (("20261128T030000Z", "{not json"), ("20261128T040000Z", '{"metrics": {}}')):
        (runs / name).mkdir()
        (runs / name / "report.json").write_text(text)
    (runs / "20261128T050000Z").mkdir()
    (runs / "notes").mkdir()
    (runs / ".staging-1-abcd").mkdir()  # a run being written: not listed
    (runs / "20261127T010000Z" / "report.html").unlink()  # its page gone: listed, not linked
    pipeline.write_history(folder)
    return folder


@pytest.fixture(scope="module")
def page(out: Path) -> BeautifulSoup:
    return BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")


def rows(page: BeautifulSoup) -> list[list[str]]:
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in page.select("table.history tbody tr")]


def test_every_kept_run_is_a_row_oldest_first_with_its_numbers(page: BeautifulSoup) -> None:
    table = rows(page)[: len(RUNS)]
    assert [(r[0], r[1]) for r in table] == [(str(n), name) for n, name in enumerate(RUNS, start=1)]
    assert [r[5] for r in table] == ["0.9500", "0.9300", "0.9301"]
    assert [r[6:8] for r in table] == [["0.9375", "1.1250"]] * 3  # the two baselines
    assert [r[4] for r in table] == ["100\u202f000", "100\u202f000", "120\u202f000"]
    assert [r[8] for r in table] == ["12.5 s", "11.0 s", "14.2 s"]
    assert [r[9:11] for r in table] == [["tutorial", "42"]] * 3  # preset and seed
    assert [r[11] for r in table] == [
        "first run",
        "better (−2.11 %), two different measurements",
        "within noise (+0.01 %), two different measurements",
    ]  # signed, as every change; without a review, each valid RMSE on its own run's held-out ratings
    assert table[2][2] == INJECTION  # a hostile data set name is text
    assert table[0][3] == "ab" * 6 and page.select("table.history code")[0]["title"] == "ab" * 32
    assert_self_contained(str(page))


def test_what_is_not_a_run_is_listed_with_the_reason_and_never_followed(page: BeautifulSoup) -> None:
    listed = {r[1]: r[2] for r in rows(page)[len(RUNS) :]}
    assert listed == {name: f"Not shown: {why}" for name, why in FOREIGN.items()}
    assert "0.5000" not in page.get_text()  # the symlink's target was not read
    assert ".staging" not in page.get_text()


def test_links_resolve_to_each_runs_own_existing_page(page: BeautifulSoup, out: Path) -> None:
    links = [a["href"] for a in page.select("a[href]")]
    assert links == [f"runs/{name}/report.html" for name in list(RUNS)[:2]]  # the third lost its page
    assert all((out / link).is_file() for link in links)


def stretches(page: BeautifulSoup, series: str) -> list[int]:
    """The markers of each stretch of one series, in order: matplotlib draws a line and its
    markers (each a <use>) in one group, `<series>-<stretch>`, so a line joins only a group's own."""
    groups = page.find_all("g", id=re.compile(rf"^{series}-\d+$"))
    assert [g["id"] for g in groups] == [f"{series}-{n}" for n in range(1, len(groups) + 1)]
    return [len(g.find_all("use")) for g in groups]


SERIES = ("trend-rmse-model", "trend-rmse-bias", "trend-rmse-mean", "trend-ratings-ratings", "trend-fit-fit")


def test_each_chart_has_one_point_per_kept_run_and_breaks_its_line_where_the_data_set_changes(
    page: BeautifulSoup,
) -> None:
    for series in SERIES:  # the third run read another data set: a gap before it, but ratings are one line
        assert stretches(page, series) == ([3] if series == "trend-ratings-ratings" else [2, 1]), series
    breaks = page.select_one("#trends p.breaks").get_text(" ", strip=True)
    assert breaks.endswith("Here it breaks before run 3 (data set changed).")


def row(number: int, **changes: object) -> RunRow:
    base = {"dataset": "ml-100k", "sha256": "ab" * 32, "split": "random", "preset": "tutorial", "seed": 42}
    return RunRow(f"run{number}", number=number, **{**base, **changes})


def test_a_line_breaks_where_data_set_split_or_preset_changes_and_never_for_the_seed() -> None:
    runs = [
        row(1),
        row(2, seed=7),  # another draw of the same measurement
        row(3, split="time"),
        row(4, split="time", preset="fast"),
        row(5, split="time", preset="fast", sha256="cd" * 32),  # the export grew
        row(6, split="time", preset="fast", sha256="cd" * 32, dataset="shop"),
        row(7, dataset="shop", sha256="cd" * 32, preset="fast", seed=1),
    ]
    assert stretches_of(runs) == (
        Stretch((1, 2)),
        Stretch((3,), ("split",)),
        Stretch((4,), ("preset",)),
        Stretch((5,), ("data set",)),
        Stretch((6,), ("data set",)),
        Stretch((7,), ("split",)),
    )
    assert stretches_of([]) == ()
    # The stable split holds out a random share of every period as the random one does: one line.
    assert stretches_of([row(1), row(2, split="stable"), row(3)]) == (Stretch((1, 2, 3)),)


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory, planted: Planted) -> BeautifulSoup:
    """The issue's nightly folder on planted data: the default, `--preset fast --seed 7`, `--split time`,
    and a fourth like the third but for its seed; the history page they leave."""
    data = write_grouplens(tmp_path_factory.mktemp("data") / "ml-planted", planted.frame, planted.titles)
    out = tmp_path_factory.mktemp("three") / "nightly"
    for extra in ([], ["--preset", "fast", "--seed", "7"], ["--split", "time"], ["--split", "time", "--seed", "7"]):
        result = CliRunner().invoke(cli, ["build", "--data", data, "-o", out, "--offline", "--no-model", "-q", *extra])
        assert result.exit_code == 0, result.output
    return BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")


def test_three_runs_show_their_seeds_and_a_line_only_within_one_split_and_preset(three_runs: BeautifulSoup) -> None:
    head = [th.get_text(strip=True) for th in three_runs.select("table.history thead th")]
    table = [dict(zip(head, r, strict=True)) for r in rows(three_runs)]
    # GroupLens' layout reads as MovieLens 100k: `auto` is the tutorial's random split for its preset alone.
    assert [(r["Preset"], r["Seed"], r["Split"]) for r in table] == [
        ("tutorial", "42", "random"),
        ("fast", "7", "stable"),
        ("tutorial", "42", "time"),
        ("tutorial", "7", "time"),
    ]
    assert table[2]["Against the previous run"].startswith("not comparable (stable split before, time split now)")
    # Each run apart from the one before it but the last, which differs only by its seed: three lines.
    for series in ("trend-rmse-model", "trend-rmse-bias", "trend-rmse-mean", "trend-fit-fit"):
        assert stretches(three_runs, series) == [1, 1, 2], series
    assert stretches(three_runs, "trend-ratings-ratings") == [4]  # the same data all along
    breaks = three_runs.select_one("#trends p.breaks").get_text(" ", strip=True)
    assert breaks.endswith("Here it breaks before run 2 (preset changed); before run 3 (split, preset changed).")
    assert "in 3 unbroken stretches" in three_runs.select_one("#trends .figure-body")["aria-label"]


def test_an_output_folder_without_runs_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{tmp_path / 'index.html'}\n"
    text = BeautifulSoup((tmp_path / "index.html").read_text(encoding="utf-8"), "html.parser").main.get_text(
        " ", strip=True
    )
    assert "No runs are kept in this folder yet" in text and not (tmp_path / "runs").exists()


def test_build_rebuilds_the_page_after_each_run(planted_dir: Path, tmp_path: Path) -> None:
    fast = ["--offline", "--preset", "fast", "--epochs", "1", "--factors", "4", "-q", "--no-model", "--keep", "1"]
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["build", "--data", str(planted_dir), "-o", str(tmp_path), *fast])
        assert result.exit_code == 0, result.output
    (kept,) = outputs.runs(tmp_path)  # --keep 1: the first run was pruned, and the page knows it
    found = BeautifulSoup((tmp_path / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert [a["href"] for a in found.select("a[href]")] == [f"runs/{kept.name}/report.html"]
    assert (tmp_path / "report.md").read_bytes() == (kept / "report.md").read_bytes()


# --------------------------------------------------------------------------- as a person sees it


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_opens_offline_cleanly_and_axe_finds_nothing_serious(browser: Any, out: Path, scheme: str) -> None:
    seen = tools.visit(browser, out / "index.html", color_scheme=scheme)
    assert_clean(seen)
    assert seen.page.title() == "nightly: reportgen runs"
    assert seen.page.locator("table.history th button").count() == 12  # the sort script ran under the CSP
    severe = [v for v in tools.run_axe(seen) if v["impact"] in ("serious", "critical")]
    assert severe == []
    seen.page.context.close()


# Each text of the trends as Chromium draws it: its font size times the scale the SVG is drawn at,
# the ratio of its box on the screen (getBoundingClientRect) to its box in the SVG's own units.
TEXT_PX = """() => [...document.querySelectorAll('#trends svg text')].map(t => {
  const screen = t.getBoundingClientRect(), own = t.getBBox();
  const turned = /rotate\\(-?90/.test(t.getAttribute('transform') || '');  // the y axis' label
  return [t.textContent, parseFloat(getComputedStyle(t).fontSize) * (turned ? screen.width : screen.height) / own.height];
})"""


@pytest.mark.parametrize("width", [1280, 390])
def test_every_text_of_the_trends_is_at_least_11_px_at_100_percent(browser: Any, out: Path, width: int) -> None:
    seen = tools.visit(browser, out / "index.html", width=width)
    sizes = seen.page.evaluate(TEXT_PX)
    assert {text for text, _ in sizes} >= {"Run (#, oldest first)", "Valid RMSE", "Ratings", "Seconds", "model"}
    assert [(text, round(px, 1)) for text, px in sizes if px < 11] == []
    seen.page.context.close()


def test_the_page_prints_on_a4_without_overflow(browser: Any, out: Path) -> None:
    seen = tools.visit(browser, out / "index.html", width=A4_PRINTABLE_PX)
    seen.page.emulate_media(media="print")
    assert seen.page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    assert seen.page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(255, 255, 255)"
    seen.page.context.close()


def test_the_nu_html_checker_finds_no_errors_or_warnings(out: Path) -> None:
    messages = tools.nu_messages(out / "index.html")[(out / "index.html").resolve()]
    assert [tools.describe(m) for m in messages] == []
