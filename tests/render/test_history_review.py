"""The history page's reviews: each run against the previous run's kept model, night by night.

A run that scored the previous run's model on the held-out ratings neither trained on
(report.json's `review`) leads its "Against the previous run" cell with that verdict and
its 95 % intervals, and is a point with an error bar in the review trend and a point in
the churn trend; a run without one keeps the valid-RMSE verdict, labelled as comparing two
different measurements, and is a gap in both trends.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen import pipeline
from reportgen.analysis.bootstrap import PairedDifference
from reportgen.cli import cli
from reportgen.render.formatting import fixed, signed
from reportgen.render.history import history_view
from reportgen.render.html import render_history
from reportgen.runs import outputs
from reportgen.runs.history import RunReview, RunRow, collect
from tests.helpers import browser as tools
from tests.helpers.browser import A4_PRINTABLE_PX, assert_clean
from tests.helpers.planted import Planted, write_grouplens
from tests.render.test_browser import PHONE, SIDEWAYS
from tests.render.test_history_page import TEXT_PX, rows

# The nightly folder, oldest first: the flags of each build (all `--preset fast` on planted data).
NIGHTS = (
    [],  # the first: nothing to review against
    ["--seed", "7"],  # reviews the first run's model: another draw of the same training
    ["--epochs", "1", "--no-model"],  # reviews the second's; keeps no model of its own
    [],  # the run before it kept no model: no review, today's comparison only
)


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory, planted: Planted) -> Path:
    """Four nightly runs into one folder through the CLI: runs 2 and 3 have a review, 1 and 4 none."""
    data = write_grouplens(tmp_path_factory.mktemp("data") / "ml-planted", planted.frame, planted.titles)
    out = tmp_path_factory.mktemp("reviewed") / "nightly"
    for extra in NIGHTS:
        result = CliRunner().invoke(
            cli, ["build", "--data", data, "-o", out, "--offline", "-q", "--preset", "fast", *extra]
        )
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def reports(nightly: Path) -> list[dict[str, Any]]:
    """Each run's report.json as written, oldest first: the numbers the page must show."""
    return [json.loads((run / outputs.JSON_NAME).read_text(encoding="utf-8")) for run in outputs.runs(nightly)]


@pytest.fixture(scope="module")
def page(nightly: Path) -> BeautifulSoup:
    return BeautifulSoup((nightly / "index.html").read_text(encoding="utf-8"), "html.parser")


def table(page: BeautifulSoup) -> list[dict[str, str]]:
    head = [th.get_text(strip=True) for th in page.select("table.history thead th")]
    return [dict(zip(head, r, strict=True)) for r in rows(page)]


def verdict(low: float, high: float, lower_is_better: bool) -> str:
    """The rule as the issue states it: better or worse only where the interval lies on one side of 0."""
    if low <= 0 <= high:
        return "no detectable difference"
    return "better" if (high < 0) == lower_is_better else "worse"


def paired(d: dict[str, Any]) -> str:
    return f"{d['measure']} {signed(d['difference'])} (95 % {signed(d['low'])} to {signed(d['high'])})"


def test_the_planted_nights_have_reviews_exactly_where_a_previous_model_was_kept(reports: list[dict]) -> None:
    assert [r.get("review") is not None for r in reports] == [False, True, True, False]
    runs = [r["generated_at"] for r in reports]
    assert [r["review"]["baseline_generated_at"] for r in reports[1:3]] == runs[:2]
    assert all(r["review"]["paired"] is not None for r in reports[1:3])


def test_a_reviewed_run_leads_with_its_verdict_and_intervals_an_unreviewed_one_says_two_measurements(
    page: BeautifulSoup, reports: list[dict]
) -> None:
    found = [r["Against the previous run"] for r in table(page)]
    assert len(found) == len(NIGHTS)
    for cell, report in zip(found[1:3], reports[1:3], strict=True):
        rmse, ranking = report["review"]["paired"]["rmse"], report["review"]["paired"]["ranking"]
        ndcg, churn, moved = ranking["ndcg"], ranking["churn"], report["review"]["movement"]
        assert cell == (
            f"{verdict(rmse['low'], rmse['high'], True)}: {paired(rmse)}; "
            f"{paired(ndcg)}, {verdict(ndcg['low'], ndcg['high'], False)} "
            f"Top-10 lists changed for {round(100 * churn['changed'])} % of users, mean RBO {churn['rbo']:.2f}. "
            f"Factor spaces agree {fixed(moved['agreement'], 2)}; neighbours overlap {moved['mean_overlap']:.2f}."
        )
    assert found[0] == "first run"
    change = reports[3]["comparison"]["valid_rmse_change_pct"]
    word = "within noise" if abs(change) < 1 else ("worse" if change > 0 else "better")
    assert found[3] == f"{word} ({signed(change, 2, ' %')}), two different measurements"
    # What the column means: tonight − before, when a verdict says better or worse, and the old measure's limits.
    intro = " ".join(page.select_one("#runs").get_text(" ", strip=True).split())
    assert "only where the interval lies on one side of 0" in intro and "two different measurements" in intro


def groups(page: BeautifulSoup, pattern: str) -> dict[str, Any]:
    return {g["id"]: g for g in page.find_all("g", id=re.compile(pattern))}


def coordinates(group: Any) -> list[tuple[float, float]]:
    """The points of a group's path(s) (M and L commands only) or markers (`<use x y>`), in the SVG's units."""
    found = [(float(u["x"]), float(u["y"])) for u in group.find_all("use")]
    for path in group.find_all("path"):
        if path.find_parent("defs") is None:
            numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path["d"])]
            found += list(zip(numbers[::2], numbers[1::2], strict=True))
    return found


def bars(page: BeautifulSoup) -> dict[int, tuple[float, float, float, float]]:
    """Each error bar by run number: (x, the drawing's y of the point, of the bar's low end, of its high end),
    the y of the point read from the marker at the bar's x. SVG's y grows downwards: high is the smaller y."""
    points = {round(x, 1): y for x, y in coordinates(page.find("g", id="trend-review-difference"))}
    found = {}
    for gid, group in groups(page, r"^trend-review-interval-\d+$").items():
        xs, ys = zip(*coordinates(group), strict=True)
        x = sorted(xs)[len(xs) // 2]  # the bar's own x, between its caps' ends
        found[int(gid.rsplit("-", 1)[1])] = (x, points[round(x, 1)], max(ys), min(ys))
    return found


def assert_at_values(page: BeautifulSoup, values: dict[int, tuple[float, float, float]]) -> None:
    """One error bar and one point per run of `values` (run: difference, low, high) and none elsewhere, each
    where its value puts it: on the one linear scale that the zero line and the bar end farthest from it
    fix, and at its run's place on the x axis."""
    drawn = bars(page)
    assert sorted(drawn) == sorted(values)
    assert len(page.find("g", id="trend-review-difference").find_all("use")) == len(values)
    zero = coordinates(page.find("g", id="trend-review-zero"))[0][1]
    first, last = min(values), max(values)
    run, end = max(((r, e) for r in values for e in (1, 2)), key=lambda re_: abs(values[re_[0]][re_[1]]))
    scale = (drawn[run][1 + end] - zero) / values[run][end]  # SVG units per unit of RMSE (negative: y grows down)
    step = (drawn[last][0] - drawn[first][0]) / (last - first) if last > first else 0.0
    for run, (difference, low, high) in values.items():
        x, *ys = drawn[run]
        assert ys == pytest.approx([zero + scale * v for v in (difference, low, high)], abs=0.05), run
        assert x == pytest.approx(drawn[first][0] + step * (run - first), abs=0.05), run


def test_the_review_trend_has_one_error_bar_per_reviewed_run_at_its_values_and_a_gap_elsewhere(
    page: BeautifulSoup, reports: list[dict]
) -> None:
    values = {
        n: (d["difference"], d["low"], d["high"])
        for n, report in enumerate(reports, start=1)
        if report.get("review") is not None
        for d in [report["review"]["paired"]["rmse"]]
    }
    assert sorted(values) == [2, 3]  # runs 1 and 4 have none: a gap, not a zero
    assert_at_values(page, values)
    zero = coordinates(page.find("g", id="trend-review-zero"))[0][1]
    for run, (_, _, y_low, y_high) in bars(page).items():  # a bar crosses 0 exactly where there is no difference
        rmse = reports[run - 1]["review"]["paired"]["rmse"]
        assert (y_high <= zero <= y_low) == (verdict(rmse["low"], rmse["high"], True) == "no detectable difference")


def ticks(page: BeautifulSoup, figure: str) -> dict[str, float]:
    """The x axis' run numbers of a trend, each at the x of its tick mark."""
    found = {}
    for tick in page.find_all("g", id=re.compile(rf"^{figure}-xtick_\d+$")):
        found[tick.find("text").get_text(strip=True)] = float(tick.find("use")["x"])
    return found


def test_the_churn_trend_has_a_point_per_reviewed_run_at_its_run(page: BeautifulSoup, reports: list[dict]) -> None:
    review_ticks, churn_ticks = ticks(page, "trend-review"), ticks(page, "trend-churn")
    assert list(churn_ticks) == list(review_ticks) == ["1", "2", "3", "4"]
    assert [x for x, *_ in bars(page).values()] == pytest.approx([review_ticks["2"], review_ticks["3"]], abs=0.05)
    for series, key in (("changed", "changed"), ("rbo", "rbo")):
        (group,) = groups(page, rf"^trend-churn-{series}$").values()
        points = coordinates(group)
        assert [x for x, _ in points] == pytest.approx([churn_ticks["2"], churn_ticks["3"]], abs=0.05), series
        shares = [reports[n - 1]["review"]["paired"]["ranking"]["churn"][key] for n in (2, 3)]
        ys = [y for _, y in points]
        assert (ys[0] < ys[1]) == (shares[0] > shares[1]) or shares[0] == shares[1], series  # higher is up
    caption = page.select_one("#trend_churn-caption").get_text(" ", strip=True)
    assert "share of users whose top-10 list changed" in caption
    alt = page.select_one("#trend_review-caption").find_previous_sibling("div")["aria-label"]
    assert "for the 2 of 4 runs that have a review" in alt and "a bar crossing 0: no detectable difference" in alt


def reviewed(number: int, difference: float, low: float, high: float, baseline: str = "") -> RunRow:
    """Run `number`, reviewed against `baseline` (the run before it unless named) with this RMSE difference."""
    rmse = PairedDifference("RMSE", True, 0.9 + difference, 0.9, difference, low, high, None, None, None)
    review = RunReview(baseline or f"run{number - 1}", 1000, "", rmse=rmse)
    return RunRow(f"run{number}", number=number, dataset="ml-100k", valid_rmse=0.9, review=review)


def hand_made_page(rows_: tuple[RunRow, ...]) -> BeautifulSoup:
    return BeautifulSoup(render_history(history_view("nightly", rows_)), "html.parser")


def test_hand_made_reviews_stand_at_their_values_and_their_verdicts_follow_the_interval() -> None:
    runs = (
        RunRow("run1", number=1, dataset="ml-100k", valid_rmse=0.9),
        reviewed(2, -0.02, -0.03, -0.01),  # wholly below 0: better
        reviewed(3, 0.004, -0.002, 0.01),  # across 0
        RunRow("run4", number=4, dataset="ml-100k", valid_rmse=0.9, change_pct=0.5, verdict="within noise"),
        reviewed(5, 0.03, 0.02, 0.045, baseline="run3"),  # wholly above: worse; not against the run before
        reviewed(6, 0.0, -0.005, 0.0),  # touching 0 is not one side of it
    )
    found = hand_made_page(runs)
    assert_at_values(
        found, {2: (-0.02, -0.03, -0.01), 3: (0.004, -0.002, 0.01), 5: (0.03, 0.02, 0.045), 6: (0.0, -0.005, 0.0)}
    )
    cells = [r["Against the previous run"] for r in table(found)]
    assert cells == [
        "first run",
        "better: RMSE −0.0200 (95 % −0.0300 to −0.0100)",
        "no detectable difference: RMSE +0.0040 (95 % −0.0020 to +0.0100)",
        "within noise (+0.50 %), two different measurements",
        "worse: RMSE +0.0300 (95 % +0.0200 to +0.0450) (against run run3)",
        "no detectable difference: RMSE ±0.0000 (95 % −0.0050 to ±0.0000)",
    ]


def test_a_review_without_a_verdict_says_why_and_has_no_bar() -> None:
    why = "none of tonight's held-out ratings was held out by the baseline's run too"
    runs = (
        RunRow("run1", number=1, valid_rmse=0.9),
        reviewed(2, 0.01, 0.0, 0.02),
        RunRow("run3", number=3, valid_rmse=0.9, change_pct=-2.0, verdict="better", review=RunReview("run2", 0, why)),
    )
    found = hand_made_page(runs)
    assert (
        table(found)[2]["Against the previous run"]
        == f"no verdict ({why}); better (−2.00 %), two different measurements"
    )
    assert sorted(bars(found)) == [2]


def test_without_any_review_the_page_has_neither_the_review_columns_nor_the_trends() -> None:
    found = hand_made_page((RunRow("run1", number=1, valid_rmse=0.9),))
    assert "Top-10 lists" not in found.get_text() and "rank-biased" not in found.get_text()
    assert found.find("g", id=re.compile("^trend-(review|churn)")) is None


# --------------------------------------------------------------------------- damaged and older files


def rewritten(nightly: Path, tmp_path: Path, change: Any) -> RunRow:
    """Run 2 (reviewed) alone in a fresh folder, its report.json changed by `change` (on the parsed document)."""
    run = outputs.runs(nightly)[1]
    copy = tmp_path / "runs" / run.name
    shutil.copytree(run, copy)
    doc = json.loads((copy / outputs.JSON_NAME).read_text(encoding="utf-8"))
    change(doc)
    (copy / outputs.JSON_NAME).write_text(json.dumps(doc), encoding="utf-8")
    (found,) = collect(tmp_path)
    return found


def setter(path: str, value: Any) -> Any:
    *parents, key = path.split(".")

    def change(doc: dict) -> None:
        for name in parents:
            doc = doc[name]
        doc[key] = value

    return change


DAMAGED = {
    "review.paired.rmse.low": ("low", "review.paired.rmse.low is not a finite number"),
    "review.paired.rmse.high": (-1.0, "review.paired.rmse has no interval from low to high"),
    "review.paired.ranking.ndcg.low": (None, "review.paired.ranking.ndcg has no interval from low to high"),
    "review.paired.ranking.churn.changed": (1.5, "review.paired.ranking.churn.changed is 1.5, outside 0 to 1"),
    "review.paired.ranking.churn": ([], "review.paired.ranking.churn is not an object"),
    "review.movement.agreement": (True, "review.movement.agreement is not a finite number"),
    "review.paired": ("better", "review.paired is not an object"),
    "review.baseline": (None, "review.baseline is missing"),
    "review": ([1, 2], "review is not an object"),
}


@pytest.mark.parametrize("path", list(DAMAGED))
def test_a_damaged_review_value_shows_the_row_as_not_shown(nightly: Path, tmp_path: Path, path: str) -> None:
    value, problem = DAMAGED[path]
    found = rewritten(nightly, tmp_path, setter(path, value))
    assert found.problem == f"report.json is damaged or foreign: not a reportgen report.json: {problem}"
    pipeline.write_history(tmp_path)  # the page is still written, the row says why
    page = BeautifulSoup((tmp_path / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert [r[-1] for r in rows(page)] == [f"Not shown: {found.problem}"]


def test_a_report_json_written_before_reviews_still_reads_with_the_old_verdict(nightly: Path, tmp_path: Path) -> None:
    found = rewritten(nightly, tmp_path, lambda doc: doc.pop("review"))
    assert found.problem is None and found.review is None and found.verdict is not None
    pipeline.write_history(tmp_path)
    page = BeautifulSoup((tmp_path / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert table(page)[0]["Against the previous run"].endswith(", two different measurements")
    assert page.find("g", id="trend-review-zero") is None


# --------------------------------------------------------------------------- as a person sees it


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_reviewed_page_opens_offline_cleanly_and_axe_finds_nothing_serious(
    browser: Any, nightly: Path, scheme: str
) -> None:
    seen = tools.visit(browser, nightly / "index.html", color_scheme=scheme)
    assert_clean(seen)
    assert seen.page.locator("table.history th button").count() == 13  # the split column too
    severe = [v for v in tools.run_axe(seen) if v["impact"] in ("serious", "critical")]
    assert severe == []
    seen.page.context.close()


@pytest.mark.parametrize("width", [1280, PHONE])
def test_the_review_trends_text_is_at_least_11_px_and_nothing_scrolls_the_page_sideways(
    browser: Any, nightly: Path, width: int
) -> None:
    seen = tools.visit(browser, nightly / "index.html", width=width)
    sizes = seen.page.evaluate(TEXT_PX)
    assert {text for text, _ in sizes} >= {"RMSE, tonight − baseline", "Share of users; overlap", "mean RBO"}
    assert [(text, round(px, 1)) for text, px in sizes if px < 11] == []
    found = seen.page.evaluate(SIDEWAYS)
    assert found["width"] == width and found["past"] == []
    seen.page.context.close()


def test_the_reviewed_page_prints_on_a4_without_overflow(browser: Any, nightly: Path) -> None:
    seen = tools.visit(browser, nightly / "index.html", width=A4_PRINTABLE_PX)
    seen.page.emulate_media(media="print")
    assert seen.page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    seen.page.context.close()


def test_the_nu_html_checker_finds_no_errors_or_warnings_on_the_reviewed_page(nightly: Path) -> None:
    messages = tools.nu_messages(nightly / "index.html")[(nightly / "index.html").resolve()]
    assert [tools.describe(m) for m in messages] == []
