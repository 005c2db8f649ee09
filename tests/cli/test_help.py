"""The help a person can scan, and one meaning per word: titled groups, whole summaries, renamed values.

`build --help` lists its options under the user guide's titles; `reportgen --help` gives each
command a whole line; `--engine lean` (fastai's Learner, named so before "lean" came to name only the loader)
still runs, as `learner`, and says so once wherever it was written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reportgen.cli import cli
from tests.helpers.commands import invoke
from tests.helpers.planted import Planted

# build --help's titled sections, in order, and options each must hold (the user guide's grouping).
BUILD_HELP_GROUPS = {
    "Data": "--data --ratings --items --db --query --table --items-query --offline --item-key --duplicates".split(),
    "Your data's columns and format (with --ratings or --db)": (
        "--user-col --item-col --rating-col --title-col --time-col --sep --encoding".split()
    ),
    "Model and training": (
        "--preset --epochs --lr --wd --factors --bs --valid-pct --split --y-range --seed --engine --loader".split()
    ),
    "Report content": "--top-n --k --relevant-from --compare-with --templates".split(),
    "Output and nightly runs": "--output --keep --no-model --fail-on-regression --wait --config --quiet --debug".split(),
    "Performance": "--threads --device --nproc".split(),
    "Other options": ["--help"],
}


def help_sections(text: str) -> dict[str, list[str]]:
    """`--help`'s titled sections of options (a line `Title:` at the margin) and the long flags in each."""
    sections: dict[str, list[str]] = {}
    title = None
    for line in text.partition("\nExamples:\n")[0].splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
            sections[title] = []
        elif title is not None:
            found = re.match(r"  (?:-\w, )?(--[\w-]+)", line)
            if found:
                sections[title].append(found.group(1))
    return sections


def test_build_help_lists_its_options_in_titled_groups() -> None:
    """Not one flat list of 45: each option under the title of what it is about, each once."""
    sections = help_sections(invoke("build", "--help").output)
    assert list(sections) == list(BUILD_HELP_GROUPS)
    for title, options in BUILD_HELP_GROUPS.items():
        missing = [o for o in options if o not in sections[title]]
        assert missing == [], f"{title}: {missing}"
    listed = [o for options in sections.values() for o in options]
    every = [next(o for o in p.opts if o.startswith("--")) for p in cli.commands["build"].params]
    assert sorted(listed) == sorted([*every, "--help"])  # every option once, none left ungrouped
    assert sections["Other options"] == ["--help"]


def test_reportgen_help_gives_each_command_a_whole_one_line_summary() -> None:
    """click cuts a summary made from the docstring ('…into...'): each command sets its own, and it fits 80 columns."""
    summaries = invoke("--help").output.partition("Commands:\n")[2]  # CliRunner's terminal: 80 columns
    listed = dict(line.split(maxsplit=1) for line in summaries.splitlines() if line.strip())
    assert set(listed) == set(cli.commands)
    for name, command in cli.commands.items():
        assert command.short_help and listed[name] == command.short_help, name
    assert "..." not in summaries and "…" not in summaries


@pytest.fixture
def ratings(tmp_path: Path, planted: Planted) -> Path:
    data = tmp_path / "ratings.csv"
    planted.frame[["user", "item", "rating", "title"]].to_csv(data, index=False)
    return data


def small_build(ratings: Path, out: Path, *more: object, env: dict[str, str] | None = None) -> tuple[object, dict]:
    args = ["build", "--ratings", ratings, "-o", out, "--epochs", "1", "--factors", "4", "--top-n", "20", *more]
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result, json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.mark.usefixtures("undrawn")
@pytest.mark.parametrize("where", ["command line", "environment", "config file"])
def test_the_engine_once_called_lean_runs_as_learner_and_says_so_once(
    ratings: Path, tmp_path: Path, where: str
) -> None:
    more: list[object] = []
    env = None
    if where == "command line":
        more, said = ["--engine", "lean"], "--engine lean is an old spelling that still works: write --engine learner"
    elif where == "environment":
        env = {"REPORTGEN_ENGINE": "lean"}
        said = "REPORTGEN_ENGINE=lean is an old spelling that still works: write REPORTGEN_ENGINE=learner"
    else:
        config = tmp_path / "nightly.toml"
        config.write_text('engine = "lean"\n', encoding="utf-8")
        more = ["--config", config]
        said = 'engine = "lean" in the --config file is an old spelling that still works: write engine = "learner"'
    result, doc = small_build(ratings, tmp_path / "out", *more, env=env)
    assert doc["run"]["engine"] == doc["runtime"]["engine"] == "learner"  # the report records what ran, by its name
    notes = [line for line in result.stderr.splitlines() if "old spelling" in line]
    assert len(notes) == 1
    assert re.fullmatch(
        rf"\S+ warning: {re.escape(said)} \(fastai's Learner; 'lean' names only the loader .*\)", notes[0]
    )


@pytest.mark.usefixtures("undrawn")
def test_the_new_name_runs_without_a_note_and_quiet_keeps_the_old_ones_quiet(ratings: Path, tmp_path: Path) -> None:
    result, doc = small_build(ratings, tmp_path / "new", "--engine", "learner", "--loader", "lean")
    assert (doc["run"]["engine"], doc["run"]["loader"]) == ("learner", "lean")
    assert "old spelling" not in result.stderr
    quiet, doc = small_build(ratings, tmp_path / "quiet", "--engine", "lean", "--quiet")
    assert doc["run"]["engine"] == "learner"
    assert quiet.stderr == ""  # --quiet prints only errors


def test_help_offers_only_the_new_names_and_refuses_unknown_ones() -> None:
    text = invoke("build", "--help").output
    assert "--engine [auto|learner|sparse]" in text and "--loader [lean|fastai]" in text
    wrong = invoke("build", "--engine", "turbo")
    assert wrong.exit_code == 2
    assert wrong.stderr.splitlines()[-1].endswith("'turbo' is not one of 'auto', 'learner', 'sparse'.")


@pytest.mark.usefixtures("undrawn")
@pytest.mark.parametrize("model", ["kept", "--no-model"])
def test_the_output_help_and_the_last_log_line_name_every_file_the_run_writes(
    ratings: Path, tmp_path: Path, model: str
) -> None:
    out = tmp_path / "out"
    result, _ = small_build(ratings, out, *(["--no-model"] if model == "--no-model" else []))
    run = next((out / "runs").iterdir())
    published = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    kept = sorted(p.name for p in run.iterdir())
    assert published == ["index.html", "report.html", "report.json", "report.md"]
    assert kept == sorted(
        ["report.html", "report.json", "report.md"] + (["model.json", "model.safetensors"] if model == "kept" else [])
    )
    last = result.stderr.splitlines()[-1]
    size = (out / "report.html").stat().st_size
    assert last.split(" ", 1)[1] == (
        f"wrote {out / 'report.html'} ({size} bytes), report.json, report.md and index.html; this run is kept in {run}"
        + (" with its model (model.safetensors, model.json)" if model == "kept" else ", without its model")
    )
    output_help = " ".join(invoke("build", "--help").output.partition("-o, --output")[2].partition("--keep")[0].split())
    for name in {*published, *kept, "runs/<UTC time>/"}:
        assert name in output_help, name
