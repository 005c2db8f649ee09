"""OUTPUT/index.html, the history page: every kept run, its links and trend charts, and what is not a run.

The page is checked like the report (tests/helpers/browser.py): Chromium offline with no CSP
violation, axe-core and the Nu HTML Checker, printed on A4.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen import pipeline
from reportgen.cli import cli
from reportgen.report import BiasMove, Comparison
from reportgen.runs import outputs
from reportgen.train.results import Runtime
from tests.helpers import browser as tools
from tests.helpers.browser import A4_PRINTABLE_PX, assert_clean
from tests.helpers.pages import assert_self_contained
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
    assert [r[10] for r in table] == [
        "first run",
        "better (−2.11 %)",
        "within noise (+0.01 %)",
    ]  # signed, as every change
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


def points(page: BeautifulSoup, series: str) -> int:
    """The markers of one series: matplotlib draws each as a <use> in the series' group."""
    group = page.find("g", id=series)
    return len(group.find_all("use"))


def test_each_chart_has_one_point_per_kept_run(page: BeautifulSoup) -> None:
    for series in ("trend-rmse-model", "trend-rmse-bias", "trend-rmse-mean", "trend-ratings-ratings", "trend-fit-fit"):
        assert points(page, series) == len(RUNS), series


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
    assert seen.page.locator("table.history th button").count() == 11  # the sort script ran under the CSP
    severe = [v for v in tools.run_axe(seen) if v["impact"] in ("serious", "critical")]
    assert severe == []
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
