"""The command line as a user meets it: help, exit codes, one-line errors, a full run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen import __version__
from reportgen.cli import cli
from tests.helpers.commands import assert_nothing_left, invoke
from tests.helpers.planted import AWFUL, GREAT, Planted

FAST = ["--epochs", "3", "--factors", "8", "--lr", "0.01", "--top-n", "50"]


@pytest.fixture
def previous_report(tmp_path: Path) -> Path:
    """An output folder holding an earlier run's report, which failures must not touch."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("<p>yesterday's report</p>")
    (out / "report.json").write_text('{"yesterday": true}')
    return out


def assert_untouched(out: Path) -> None:
    assert (out / "report.html").read_text() == "<p>yesterday's report</p>"
    assert (out / "report.json").read_text() == '{"yesterday": true}'
    assert_nothing_left(out)


def test_version_and_help() -> None:
    assert invoke("--version").output == f"reportgen {__version__}\n"
    for flag in ("-h", "--help"):
        result = invoke(flag)
        assert result.exit_code == 0
        assert "build" in result.output and "datasets" in result.output


def test_build_help_documents_every_option_with_its_default_and_the_exit_codes() -> None:
    result = invoke("build", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for option, default in [
        ("--output", "output"),
        ("--epochs", "5"),
        ("--lr", "0.005"),
        ("--wd", "0.1"),
        ("--factors", "50"),
        ("--bs", "64"),
        ("--valid-pct", "0.2"),
        ("--seed", "42"),
        ("--top-n", "1000"),
        ("--item-key", "title"),
        ("--duplicates", "last"),
        ("--encoding", "utf-8"),
        ("--user-col", "user"),
        ("--rating-col", "rating"),
    ]:
        assert option in text
        assert f"default: {default}" in text, option
    for option in ("--data", "--ratings", "--items", "--sep", "--templates", "--quiet", "--offline"):
        assert option in text
    assert "[default: 0 5.5 for ml-100k; for --ratings, min to max + 10 % of the span]" in text
    assert "Every option but --debug can also be set as REPORTGEN_<NAME> (--top-n: REPORTGEN_TOP_N)" in text
    assert "env var:" not in text  # said once, not 44 times
    for code in (
        "0 report written",
        "1 the run failed",
        "2 bad input or usage",
        "3 report written, but valid RMSE regressed",
        "75 another run holds the output folder",
        "130 interrupted (SIGINT), 143 terminated (SIGTERM)",
    ):
        assert code in text, code
    for option in ("--config", "--keep", "--wait", "--compare-with", "--fail-on-regression"):
        assert option in text


@pytest.mark.parametrize(
    ("args", "start", "detail"),
    [
        (["--epochs", "0"], "Error: Invalid value for '--epochs'", "0 is not in the range x>=1."),
        (["--valid-pct", "1.5"], "Error: Invalid value for '--valid-pct'", "1.5 is not in the range 0<x<1."),
        (["--y-range", "5", "1"], "Error: Invalid value for '--y-range'", "LOW (5.0) must be below HIGH (1.0)"),
        (["--data", "no/such/dir"], "Error: Invalid value for '--data'", "Path 'no/such/dir' does not exist."),
        (
            ["--epoch", "3"],
            "Error: No such option '--epoch'.",
            "(Did you mean one of: '--epochs', '--nproc', '--sep'?)",
        ),
        (["--valid-pct", "nan"], "Error: Invalid value for '--valid-pct'", "'nan' is not a finite number."),
        (["--lr", "inf"], "Error: Invalid value for '--lr'", "'inf' is not a finite number."),
        (["--wd", "nan"], "Error: Invalid value for '--wd'", "'nan' is not a finite number."),
        (["--wait", "nan"], "Error: Invalid value for '--wait'", "'nan' is not a finite number."),
        (
            ["--fail-on-regression", "inf"],
            "Error: Invalid value for '--fail-on-regression'",
            "'inf' is not a finite number.",
        ),
        (["--y-range", "nan", "5"], "Error: Invalid value for '--y-range'", "LOW (nan) and HIGH (5.0) must be finite"),
        (
            ["--seed", "99999999999999999999"],
            "Error: Invalid value for '--seed'",
            "is not in the range 0<=x<=4294967295.",
        ),
        (["--seed", "-1"], "Error: Invalid value for '--seed'", "-1 is not in the range 0<=x<=4294967295."),
    ],
)
def test_bad_usage_is_one_error_line_exit_2_and_no_report_change(
    previous_report: Path, args: list[str], start: str, detail: str
) -> None:
    result = invoke("build", "--output", previous_report, *args)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(start) and result.stderr.endswith(f" {detail}\n")
    assert result.stdout == ""
    assert_untouched(previous_report)


def test_bad_data_folder_is_one_error_line_naming_the_file(previous_report: Path, tmp_path: Path) -> None:
    folder = tmp_path / "not-movielens"
    folder.mkdir()
    (folder / "u.item").write_text("1|A (1990)|x\n")
    result = invoke("build", "--data", folder, "--output", previous_report)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: {folder}: no u.data found (expected a GroupLens ml-100k folder with u.data and u.item)"
    )
    assert "Traceback" not in result.output
    assert_untouched(previous_report)


def test_full_build_on_a_grouplens_folder(planted_dir: Path, planted: Planted, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke("build", "--data", planted_dir, "--output", out, *FAST)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out / 'report.html'}\n"
    epoch_lines = [line for line in result.stderr.splitlines() if " epoch " in line]
    assert len(epoch_lines) == 3
    assert all(" train_loss " in line and " valid_loss " in line and line.endswith(" s") for line in epoch_lines)
    assert "epoch 3/3" in epoch_lines[-1]

    doc = json.loads((out / "report.json").read_text())
    assert doc["dataset"]["source"] == "path" and doc["dataset"]["location"] == planted_dir.name
    assert doc["dataset"]["n_ratings"] == len(planted.frame)
    assert doc["config"]["epochs"] == 3 and doc["config"]["top_n"] == 50
    assert [e["epoch"] for e in doc["metrics"]["epochs"]] == [1, 2, 3]
    assert {b["title"] for b in doc["bias"]["best"][:3]} == set(GREAT)
    assert {b["title"] for b in doc["bias"]["worst"][:3]} == set(AWFUL)
    counts = planted.frame.groupby("title")["rating"].agg(["count", "mean"])
    for entry in doc["bias"]["best"] + doc["bias"]["worst"]:
        assert entry["count"] == counts.loc[entry["title"], "count"]
        assert entry["mean_rating"] == pytest.approx(counts.loc[entry["title"], "mean"])

    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    best_table = next(c.parent for c in page.find_all("caption") if c.get_text(strip=True) == "Highest biases")
    assert best_table.tbody.tr.find_all("td")[1].get_text() == doc["bias"]["best"][0]["title"]
    assert len(page.find(id="scatter").find("svg").find_all("text")) >= len(doc["scatter"])
    assert sorted(p.name for p in out.iterdir()) == [
        ".reportgen.lock",
        "index.html",
        "latest",
        "report.html",
        "report.json",
        "report.md",
        "runs",
    ]


@pytest.mark.usefixtures("undrawn")  # the numbers and the output streams are the subject
def test_quiet_prints_nothing_on_success(planted_dir: Path, tmp_path: Path) -> None:
    result = invoke("build", "--data", planted_dir, "--output", tmp_path / "q", "--quiet", *FAST)
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


@pytest.mark.usefixtures("undrawn")  # the numbers and the output streams are the subject
def test_two_runs_with_the_same_seed_write_the_same_numbers(planted_dir: Path, tmp_path: Path) -> None:
    def numbers(out: Path) -> dict:
        assert invoke("build", "--data", planted_dir, "--output", out, *FAST).exit_code == 0
        doc = json.loads((out / "report.json").read_text())
        for volatile in ("generated_at", "timings"):
            doc.pop(volatile)
        doc["runtime"].pop("fit_seconds")
        for epoch in doc["metrics"]["epochs"]:
            epoch.pop("seconds")
        return doc

    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")


def test_datasets_lists_the_ways_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "home"))
    result = invoke("datasets")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "ml-100k is looked for in this order:"
    ways = [
        m.groups() for m in map(re.compile(r"^(->|  ) \d\. (\S+) +(found|not found|online only) ").match, lines) if m
    ]
    assert [source for _, source, _ in ways] == ["fastai-cache", "recbole", "download"]
    assert ways[0] == ("  ", "fastai-cache", "not found")
    chosen = [source for marker, source, _ in ways if marker == "->"]
    assert chosen == (["recbole"] if ways[1][2] == "found" else [])
    assert f"{tmp_path / 'home' / 'data' / 'ml-100k'}" in result.output


@pytest.mark.slow
def test_help_and_datasets_do_not_import_fastai_or_torch() -> None:
    probe = (
        "import sys; from click.testing import CliRunner; from reportgen.cli import cli; "
        "r = CliRunner(); assert r.invoke(cli, ['--help']).exit_code == 0; "
        "assert r.invoke(cli, ['datasets']).exit_code == 0; "
        "print(sorted(m for m in ('fastai', 'torch', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_python_dash_m_runs_the_same_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "reportgen", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout == f"reportgen {__version__}\n"


def test_every_build_option_reads_its_reportgen_variable() -> None:
    import click

    options = [
        p for p in cli.commands["build"].params if isinstance(p, click.Option) and p.name not in ("debug", "help")
    ]
    assert len(options) >= 29
    assert {p.name: p.envvar for p in options} == {p.name: f"REPORTGEN_{p.name.upper()}" for p in options}


def test_bare_reportgen_prints_its_help_not_an_error() -> None:
    result = invoke()
    assert result.exit_code == 0
    assert re.match(r"Usage: \w+ \[OPTIONS\] COMMAND \[ARGS\]...\n", result.output)  # CliRunner names it "cli"
    assert "build" in result.output and "Error" not in result.output


def test_source_date_epoch_past_the_year_9999_is_one_usage_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "-o", str(tmp_path)], env={"SOURCE_DATE_EPOCH": "99999999999999"})
    assert result.exit_code == 2
    assert result.stderr == "Error: SOURCE_DATE_EPOCH 99999999999999 is after the year 9999; give seconds since 1970\n"


def test_a_read_only_output_folder_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    out = tmp_path / "out"
    out.mkdir()
    real_open = os.open

    def refuse(path: object, *args: object, **kwargs: object) -> int:  # as root, mode 0o500 would not stop us
        if Path(str(path)).name == ".reportgen.lock":  # opened by name, relative to the folder's descriptor
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    result = CliRunner().invoke(cli, ["build", "--output", str(out), "--epochs", "1"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {out}: cannot write in the output folder (Permission denied)\n"


@pytest.mark.slow
def test_the_script_ends_with_its_exit_code_and_every_line_written(tmp_path: Path, planted: Planted) -> None:
    """`reportgen` skips Python's teardown at the end (cli.quick_exit): the report, stdout and the error line all arrive."""
    data = tmp_path / "ratings.csv"
    planted.frame[["user", "item", "rating", "title"]].to_csv(data, index=False)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "reportgen", "build", "--ratings", str(data), "--epochs", "1", "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out / 'report.html'}\n"
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["dataset"]["n_ratings"] == len(planted.frame)
    assert all(title in (out / "report.html").read_text(encoding="utf-8") for title in GREAT)
    assert "wrote" in done.stderr  # the log's last lines are flushed before the process ends
    bad = subprocess.run([*command[:-2], "--top-n", "0", "-o", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_the_quick_exit_leaves_the_ordinary_exit_where_it_must(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message for sys.exit, a torchrun world, a thread still at work: quick_exit returns and Python exits as usual."""
    import threading

    from reportgen.cli import quick_exit

    quick_exit("a message sys.exit prints")  # returned: it did not end this process
    monkeypatch.setenv("WORLD_SIZE", "2")
    quick_exit(0)
    monkeypatch.delenv("WORLD_SIZE")
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        quick_exit(0)
    finally:
        release.set()
        worker.join()


@pytest.mark.usefixtures("undrawn")
def test_a_command_run_in_process_leaves_logging_and_warnings_as_it_found_them(
    planted_dir: Path, tmp_path: Path
) -> None:
    """A quiet build silences the log and the libraries' warnings for its own run only: in a process that goes
    on (a notebook, the tests) the next code still sees its warnings and its log records."""
    import logging
    import warnings

    logger = logging.getLogger("reportgen")
    before = (list(logger.handlers), logger.level, logger.propagate, list(warnings.filters))
    result = invoke("build", "--data", planted_dir, "-o", tmp_path / "out", "--epochs", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert (list(logger.handlers), logger.level, logger.propagate, list(warnings.filters)) == before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("still heard", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["still heard"]
