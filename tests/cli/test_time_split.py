"""`reportgen build --split time` as a user runs it: own data with ISO dates, ML-100k's own timestamps,
and every input a time split cannot use refused in one `Error:` line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from tests.helpers.commands import invoke
from tests.helpers.planted import planted_frame

FAST = ["--epochs", "1", "--factors", "4", "--lr", "0.01", "--bs", "32"]
DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def dated_csv(tmp: Path, days: np.ndarray | None = None) -> tuple[Path, pd.DataFrame]:
    """Planted ratings with a `day` column of ISO dates, 2024-01-01 on; each day's ratings tie."""
    frame = planted_frame(n_users=30, n_items=15, density=0.7, seed=2).frame
    if days is None:
        days = np.random.default_rng(4).integers(0, 60, size=len(frame))
    frame["seconds"] = T0 + np.asarray(days, dtype=np.int64) * DAY
    frame["day"] = pd.to_datetime(frame["seconds"], unit="s").dt.strftime("%Y-%m-%d")
    path = tmp / "dated.csv"
    frame.drop(columns="seconds").to_csv(path, index=False)
    return path, frame


@pytest.mark.usefixtures("undrawn")
def test_own_data_with_iso_dates_is_scored_on_its_latest_ratings(tmp_path: Path) -> None:
    path, frame = dated_csv(tmp_path)
    out = tmp_path / "out"
    result = invoke("build", "--ratings", path, "--time-col", "day", "--split", "time", "--output", out, *FAST)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    split = doc["split"]
    seconds = frame["seconds"].to_numpy()
    cutoff = np.sort(seconds)[len(seconds) - int(0.2 * len(seconds))]
    assert split["cutoff"] == cutoff and split["kind"] == "time"
    assert split["n_valid"] == (seconds >= cutoff).sum() == doc["metrics"]["n_valid"]
    assert split["n_train"] == (seconds < cutoff).sum() == doc["metrics"]["n_train"]
    assert (split["train_last"], split["valid_last"]) == (seconds[seconds < cutoff].max(), seconds.max())
    assert doc["dataset"]["columns"]["time"] == "day"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "the held-out ratings are the latest" in page
    assert "- **Split:** time" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.usefixtures("undrawn")
def test_switching_split_is_not_judged_a_regression(tmp_path: Path) -> None:
    frame = planted_frame(n_users=30, n_items=15, density=0.7, seed=2).frame
    path, _ = dated_csv(tmp_path, days=frame["user"].to_numpy())  # the latest ratings: users never seen before
    out, own = tmp_path / "out", ["--ratings", path, "--time-col", "day", *FAST]
    assert invoke("build", "--output", out, *own).exit_code == 0
    result = invoke("build", "--output", out, *own, "--split", "time", "--fail-on-regression", "1")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert doc["comparison"]["valid_rmse_change_pct"] > 1  # worse by far, yet not a regression: other splits
    # Own data: the first run's `auto` split is the stable one, a random share like fastai's. Both models are
    # reviewed on the ratings neither trained on, and the report says the difference is partly the split's.
    assert doc["review"]["splits"] == ["stable", "time"]
    assert "The runs held out different kinds of ratings (stable then, time now)" in (out / "report.md").read_text()


def refused(tmp: Path, *args: object) -> str:
    out = tmp / "out"
    result = invoke("build", "--output", out, *FAST, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and not (out / "report.html").exists()
    return errors[0]


def test_a_time_split_without_a_time_column_is_refused(tmp_path: Path) -> None:
    path, _ = dated_csv(tmp_path)
    assert refused(tmp_path, "--ratings", path, "--split", "time") == (
        f"Error: {path}: --split time needs a time for every rating, and this data has none; "
        "name the column with --time-col"
    )


def test_ratings_all_at_one_instant_are_refused(tmp_path: Path) -> None:
    n = len(planted_frame(n_users=30, n_items=15, density=0.7, seed=2).frame)
    path, frame = dated_csv(tmp_path, days=np.zeros(n, dtype=np.int64))
    assert refused(tmp_path, "--ratings", path, "--time-col", "day", "--split", "time") == (
        f"Error: {path}: all {len(frame)} ratings have the same time, so a time split has nothing to train on"
    )


def test_a_cutoff_that_leaves_no_training_ratings_is_refused(tmp_path: Path) -> None:
    n = len(planted_frame(n_users=30, n_items=15, density=0.7, seed=2).frame)
    days = np.zeros(n, dtype=np.int64)
    days[-1] = 1  # one rating a day later; the latest 20 % begin on the first day
    path, _ = dated_csv(tmp_path, days=days)
    assert refused(tmp_path, "--ratings", path, "--time-col", "day", "--split", "time") == (
        f"Error: {path}: the latest {int(0.2 * n)} rating(s) begin at the earliest time ({T0}), so a time split "
        "leaves no training ratings before its cutoff; lower --valid-pct"
    )


def test_an_unknown_split_is_a_usage_error(tmp_path: Path) -> None:
    line = refused(tmp_path, "--split", "sideways", "--offline")
    assert line.startswith("Error: Invalid value for '--split'") and "'auto', 'random', 'stable', 'time'" in line


@pytest.mark.ml100k
def test_ml100k_time_split_holds_out_the_latest_fifth(recbole_ml100k: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("build", "--offline", "--preset", "fast", "--split", "time", "--output", out)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    inter = pd.read_csv(recbole_ml100k / "ml-100k.inter", sep="\t")
    times = inter["timestamp:float"].to_numpy(dtype=np.int64)
    cutoff = doc["split"]["cutoff"]
    assert 20_000 <= doc["metrics"]["n_valid"] == (times >= cutoff).sum() < 20_100  # about 20,000, ties included
    assert doc["metrics"]["n_train"] == (times < cutoff).sum() == 100_000 - doc["metrics"]["n_valid"]
    assert doc["split"]["valid_last"] == times.max() and doc["split"]["train_last"] < cutoff
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    assert "the held-out ratings are the latest" in page.get_text(" ")
    # On ML-100k the latest ratings are mostly by users the model never saw: it loses to the global mean,
    # and the top of the page, the quality section, report.md and the log each say so with both numbers.
    b = doc["insight"]["baselines"]
    assert b["model_rmse"] > b["global_mean_rmse"] > b["bias_only_rmse"]
    worse = f"The model is worse than the global mean: valid RMSE {b['model_rmse']:.4f} against {b['global_mean_rmse']:.4f}."
    assert worse in [p.get_text(" ", strip=True) for p in page.header.select(".shortfall p")]
    assert worse in [p.get_text(" ", strip=True) for p in page.find(id="quality").find_all("p")]
    markdown = MarkdownIt("commonmark").render((out / "report.md").read_text(encoding="utf-8"))
    assert f"Warning: {worse}" in [p.get_text(" ", strip=True) for p in BeautifulSoup(markdown, "html.parser")("p")]
    assert f"warning: {worse}" in result.stderr
