"""`reportgen compare RUN_A RUN_B`: run B's report with run A's model reviewed against B's, on the ratings
neither trained on (a pull request that changes a setting: build both, compare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from reportgen.runs import outputs
from tests.helpers.commands import invoke
from tests.helpers.planted import planted_frame

FAST = ["--factors", "8", "--no-model"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One own CSV built twice into two output folders: 1 epoch, then 5 (which truly lowers the error)."""
    folder = tmp_path_factory.mktemp("compare")
    path = folder / "ratings.csv"
    planted_frame().frame.to_csv(path, index=False)
    runs = {}
    for name, epochs in (("main", "1"), ("pr", "5")):
        result = invoke("build", "--ratings", path, "-o", folder / name, "--epochs", epochs, "--factors", "8", "-q")
        assert result.exit_code == 0, result.output
        runs[name] = outputs.latest_run(folder / name)
    return {"ratings": path, "root": folder, **runs}


@pytest.mark.usefixtures("undrawn")
def test_compare_writes_run_bs_report_led_by_the_review_of_run_as_model(two_runs: dict[str, Path]) -> None:
    out = two_runs["root"] / "review"
    result = invoke("compare", two_runs["main"], two_runs["pr"], "-o", out, "--ratings", two_runs["ratings"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "report.html")
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    kept = json.loads((two_runs["pr"] / "report.json").read_text(encoding="utf-8"))
    review = doc["review"]
    assert review["baseline"] == two_runs["main"].name and review["splits"] == ["stable", "stable"]
    assert review["paired"]["n"] == review["compared"] == kept["metrics"]["n_valid"]  # same seed: same held-out set
    assert review["paired"]["rmse"]["high"] < 0  # 5 epochs truly lower the error: better, with 95 % confidence
    assert doc["metrics"] == kept["metrics"] and doc["dataset"] == kept["dataset"]  # run B's report, reviewed
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    headline = " ".join(page.find(id="review-verdict").get_text().split())
    assert headline.startswith(f"Better than the model of run {two_runs['main'].name}: valid RMSE")
    assert "| RMSE |" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.usefixtures("undrawn")
def test_compare_refuses_other_data_than_run_bs_and_writes_nothing(two_runs: dict[str, Path]) -> None:
    other = two_runs["root"] / "other.csv"
    planted_frame(seed=9).frame.to_csv(other, index=False)
    out = two_runs["root"] / "refused"
    result = invoke("compare", two_runs["main"], two_runs["pr"], "-o", out, "--ratings", other)
    assert result.exit_code == 2
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "give the same --data, --ratings or --db its build read" in line and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.usefixtures("undrawn")
def test_compare_never_writes_into_a_kept_run(two_runs: dict[str, Path]) -> None:
    before = (two_runs["pr"] / "report.html").read_bytes()
    result = invoke("compare", two_runs["main"], two_runs["pr"], "-o", two_runs["pr"], "--ratings", two_runs["ratings"])
    assert result.exit_code == 2
    assert "compare writes only into an empty or new folder" in result.stderr
    assert (two_runs["pr"] / "report.html").read_bytes() == before


@pytest.mark.usefixtures("undrawn")
def test_grown_data_counts_the_ratings_the_older_model_cannot_know_and_the_page_says_how_many(
    tmp_path: Path,
) -> None:
    """Tonight's export has about 5 % more ratings, from new users and of new items: they are scored by the
    older model's fallback, counted apart, and the page says how many."""
    frame = planted_frame().frame
    yesterday = frame[(frame["user"] <= 232) & (frame["item"] <= 58)]
    assert 0.03 < len(frame) / len(yesterday) - 1 < 0.12
    out = tmp_path / "out"
    for name, rows in (("yesterday.csv", yesterday), ("tonight.csv", frame)):
        rows.to_csv(tmp_path / name, index=False)
        result = invoke("build", "--ratings", tmp_path / name, "-o", out, "--factors", "8", "-q")
        assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    unseen = doc["review"]["paired"]["unseen_by_baseline"]
    assert unseen["users"] > 0 and unseen["items"] > 0 and unseen["either"] >= max(unseen["users"], unseen["items"])
    assert doc["review"]["paired"]["unseen_by_tonight"]["either"] < unseen["either"]
    text = " ".join(BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text().split())
    assert f"{unseen['either']} of them have a user or an item the baseline never saw" in text
