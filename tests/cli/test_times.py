"""One name per time: each duration a run reports says what it counts, under the same name and
with the same figure in the log, the page, report.json and the history page (issue 29, point 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen.cli import cli
from reportgen.render.formatting import seconds

# What a run is about is its numbers, not its figures: placeholders (see `undrawn`).
pytestmark = pytest.mark.usefixtures("undrawn")

FIT = "Fit (the optimisation loop alone)"  # runtime.fit_seconds
TRAIN = "Train stage (the fit with imports and set-up)"  # timings.train
TOTAL = "Total (load, train stage, analyse, draw)"  # timings.total


def rows(table: BeautifulSoup) -> list[list[str]]:
    return [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in table.tbody.find_all("tr")]


def captioned(page: BeautifulSoup, caption: str) -> BeautifulSoup:
    return next(c.parent for c in page.find_all("caption") if c.get_text(" ", strip=True).startswith(caption))


def test_each_time_has_one_name_and_one_figure_in_the_log_the_page_report_json_and_the_history(
    tmp_path: Path, planted_dir: Path
) -> None:
    out = tmp_path / "out"
    args = ["build", "--data", planted_dir, "-o", out, "--offline", "--no-model", "--epochs", "2", "--top-n", "40"]
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    t, epochs = doc["timings"], [e["seconds"] for e in doc["metrics"]["epochs"]]
    figure = {FIT: doc["runtime"]["fit_seconds"], TRAIN: t["train"], TOTAL: t["total"]}
    shown = {label: seconds(value) for label, value in figure.items()}
    # The names are what the figures nest as: the epochs are the fit, the fit is part of the train stage.
    assert sum(epochs) <= figure[FIT] <= figure[TRAIN] <= figure[TOTAL]
    assert t["total"] == pytest.approx(t["load"] + t["train"] + t["analyse"] + t["render"], abs=1e-3)

    log = result.stderr
    assert re.search(rf"trained: {re.escape(TRAIN)} {shown[TRAIN]}, {re.escape(FIT)} {shown[FIT]}; valid MSE", log)
    assert re.search(rf"drew the figures in [0-9.]+ s; {re.escape(TOTAL)} {shown[TOTAL]}\n", log)
    for n, spent in enumerate(epochs, start=1):  # each epoch's line, as the page's epoch table writes it
        assert re.search(rf"epoch {n}/2 train_loss \S+ valid_loss \S+ {re.escape(seconds(spent))}\n", log)

    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    assert rows(captioned(page, "Time per stage")) == [
        ["Load data", seconds(t["load"])],
        [TRAIN, shown[TRAIN]],
        [FIT, shown[FIT]],
        ["Analyse", seconds(t["analyse"])],
        ["Draw figures", seconds(t["render"])],
        [TOTAL, shown[TOTAL]],
    ]
    epoch_table = captioned(page, "Training, epoch by epoch")
    assert [th.get_text(strip=True) for th in epoch_table.thead.find_all("th")][-1] == "Time (its share of the fit)"
    assert [r[-1] for r in rows(epoch_table)] == [seconds(s) for s in epochs]

    history = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    table = history.select_one("table.history")
    head = [th.get_text(strip=True) for th in table.thead.find_all("th")]
    (run,) = [dict(zip(head, r, strict=True)) for r in rows(table)]
    assert run[FIT] == shown[FIT]
    assert history.select_one("#trend_fit-caption").get_text(" ", strip=True).startswith(f"{FIT} per run, in seconds")
    # No other name for these figures anywhere the reader looks.
    for text in (log, page.get_text(" "), history.get_text(" ")):
        assert "Fit time" not in text and "trained in" not in text and "Training time" not in text
