"""Nightly runs from cron: history, comparison, locking, signals, config, reproducible bytes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen.cli import cli
from reportgen.runs import outputs
from tests.helpers import forked
from tests.helpers.commands import hold_lock
from tests.helpers.planted import Planted, planted_frame, write_grouplens

# Cron's concerns are around the report: its figures are placeholders here (see `undrawn`).
pytestmark = pytest.mark.usefixtures("undrawn")
QUICK = ["--epochs", "1", "--factors", "4", "--lr", "0.01", "--top-n", "40"]


def build(out: Path, *args: str | Path, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, ["build", "--output", str(out), *QUICK, *map(str, args)], env=env)


def report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def second_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another planted table (other seed): a changed dataset for the second run."""
    other: Planted = planted_frame(seed=5)
    return write_grouplens(tmp_path_factory.mktemp("data") / "ml-other", other.frame, other.titles)


# --------------------------------------------------------------------------- history and comparison


def test_two_runs_keep_two_entries_and_the_second_compares_itself_with_the_first(
    tmp_path: Path, planted_dir: Path, second_dataset: Path
) -> None:
    out = tmp_path / "out"
    assert build(out, "--data", planted_dir).exit_code == 0
    first = report(out)
    assert "comparison" not in first

    result = build(out, "--data", second_dataset)
    assert result.exit_code == 0, result.output
    second = report(out)
    runs = outputs.runs(out)
    assert len(runs) == 2
    assert json.loads((runs[0] / "report.json").read_text()) == first
    assert (runs[1] / "report.html").read_bytes() == (out / "report.html").read_bytes()
    # One link, replaced atomically, publishes both files: they always belong to the same run.
    assert os.readlink(out / "latest") == f"runs/{runs[1].name}"
    assert [os.readlink(out / name) for name in ("report.html", "report.json")] == [
        "latest/report.html",
        "latest/report.json",
    ]

    c = second["comparison"]
    assert c["previous"] == "the previous run's report.json"
    assert c["dataset_changed"] is True
    assert (c["previous_sha256"], c["current_sha256"]) == (first["dataset"]["sha256"], second["dataset"]["sha256"])
    assert (c["valid_rmse_before"], c["valid_rmse_after"]) == (
        first["metrics"]["valid_rmse"],
        second["metrics"]["valid_rmse"],
    )
    assert c["valid_rmse_change_pct"] == pytest.approx(100 * (c["valid_rmse_after"] / c["valid_rmse_before"] - 1))
    lists = {entry["name"]: entry for entry in c["lists"]}
    was = {e["title"] for e in first["bias"]["worst"]}
    now = {e["title"] for e in second["bias"]["worst"]}
    assert set(lists["Lowest biases"]["entered"]) == now - was
    assert set(lists["Lowest biases"]["left"]) == was - now
    before = {e["title"]: e["bias"] for e in first["items"]}
    moves = c["bias_moves"]
    assert moves and all(m["before"] == before[m["title"]] for m in moves)
    assert [abs(m["after"] - m["before"]) for m in moves] == sorted(
        (abs(m["after"] - m["before"]) for m in moves), reverse=True
    )

    section = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").find(id="changes")
    text = " ".join(section.get_text(" ").split())
    assert "Changes since the previous run" in text
    assert "The dataset changed" in text
    assert f"{c['valid_rmse_before']:.4f}" in text and f"{c['valid_rmse_after']:.4f}" in text
    assert moves[0]["title"] in text


def test_keep_prunes_the_oldest_runs(tmp_path: Path, planted_dir: Path) -> None:
    out = tmp_path / "out"
    for _ in range(3):
        assert build(out, "--data", planted_dir, "--keep", "2").exit_code == 0
    assert len(outputs.runs(out)) == 2


def test_compare_with_picks_another_runs_report(tmp_path: Path, planted_dir: Path, second_dataset: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    assert build(elsewhere, "--data", second_dataset).exit_code == 0
    out = tmp_path / "out"
    assert build(out, "--data", planted_dir, "--compare-with", elsewhere / "report.json").exit_code == 0
    assert report(out)["comparison"]["previous"] == "report.json"
    assert report(out)["comparison"]["dataset_changed"] is True


def test_fail_on_regression_exits_3_after_writing_the_report(tmp_path: Path, planted_dir: Path) -> None:
    """Worse with 95 % confidence by more than PCT %: both models scored on the same held-out ratings."""
    out = tmp_path / "out"
    assert build(out, "--data", planted_dir, "--epochs", "4").exit_code == 0
    first = outputs.latest_run(out).name
    result = build(out, "--data", planted_dir, "--epochs", "1", "--lr", "0.0001", "--fail-on-regression", "5")
    assert result.exit_code == 3
    r = report(out)["review"]["paired"]
    rmse = r["rmse"]
    assert rmse["relative_low"] > 0.05 and r["n"] == report(out)["metrics"]["n_valid"]  # the same held-out ratings
    assert result.stderr.splitlines()[-1] == (
        f"Error: valid RMSE regressed against run {first}: {rmse['tonight']:.4f} against {rmse['baseline']:.4f} "
        f"on the same {r['n']} held-out ratings, worse by {100 * rmse['relative_low']:.2f} % to "
        f"{100 * rmse['relative_high']:.2f} % (95 % interval), more than --fail-on-regression 5; the report was written"
    )
    assert len(outputs.runs(out)) == 2
    assert (
        build(out, "--data", planted_dir, "--epochs", "1", "--lr", "0.0001", "--fail-on-regression", "5").exit_code == 0
    )


def test_without_a_kept_model_fail_on_regression_compares_each_runs_own_rmse(tmp_path: Path, planted_dir: Path) -> None:
    """The previous run kept no model (--no-model): two different measurements, judged as before the review."""
    out = tmp_path / "out"
    assert build(out, "--data", planted_dir, "--epochs", "4", "--no-model").exit_code == 0
    good = report(out)["metrics"]["valid_rmse"]
    result = build(out, "--data", planted_dir, "--epochs", "1", "--lr", "0.0001", "--fail-on-regression", "5")
    assert result.exit_code == 3 and "review" not in report(out)
    bad = report(out)["metrics"]["valid_rmse"]
    pct = 100 * (bad - good) / good
    assert result.stderr.splitlines()[-1] == (
        f"Error: valid RMSE regressed by {pct:.2f} % ({good:.4f} -> {bad:.4f}), more than --fail-on-regression 5; "
        "the report was written"
    )


def test_a_second_run_is_refused_with_75_while_one_holds_the_folder(tmp_path: Path, planted_dir: Path) -> None:
    out = tmp_path / "out"
    with outputs.RunLock(out):
        result = build(out, "--data", planted_dir)
    assert result.exit_code == 75
    assert result.stderr == f"Error: another reportgen run holds {out / '.reportgen.lock'} (pid {os.getpid()})\n"
    assert not (out / "report.html").exists()


def test_history_writes_nothing_while_a_run_holds_the_folder(published: Path) -> None:
    """Every writer in the output folder holds its lock, so a build may remove every leftover it finds there."""
    before = snapshot(published)
    with outputs.RunLock(published):
        held = CliRunner().invoke(cli, ["history", "-o", str(published)])
    assert held.exit_code == 75
    assert held.stderr == f"Error: another reportgen run holds {published / '.reportgen.lock'} (pid {os.getpid()})\n"
    assert snapshot(published) == before
    free = CliRunner().invoke(cli, ["history", "-o", str(published)])
    assert free.exit_code == 0, free.output
    assert free.stdout == f"{published / 'index.html'}\n"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("customer,sku,stars\n1,a,4\n", "missing column(s)"),
        ("user,item,rating\n1,a,4\n2,a,good\n", "line 3: rating"),
    ],
    ids=["a missing column", "a bad value"],
)
def test_a_run_refused_for_bad_input_creates_no_output_folder(tmp_path: Path, rows: str, problem: str) -> None:
    bad = tmp_path / "ratings.csv"
    bad.write_text(rows, encoding="utf-8")
    out = tmp_path / "new" / "out"
    result = build(out, "--ratings", bad)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1].startswith(f"Error: {bad}: ") and problem in result.stderr
    assert not (tmp_path / "new").exists()  # no folder, no lock file: nothing made before the input was good


def test_a_folder_that_had_a_run_is_locked_before_its_input_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "ratings.csv"
    bad.write_text("customer,sku,stars\n1,a,4\n", encoding="utf-8")
    out = tmp_path / "out"
    with outputs.RunLock(out):  # another run holds it: the second stops at once, reading nothing
        result = build(out, "--ratings", bad)
    assert result.exit_code == 75
    assert result.stderr == f"Error: another reportgen run holds {out / '.reportgen.lock'} (pid {os.getpid()})\n"


def test_a_stale_lock_is_taken_over(tmp_path: Path, planted_dir: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (out / ".reportgen.lock").write_text(f"{child.pid}\n")
    result = build(out, "--data", planted_dir)
    assert result.exit_code == 0
    assert (
        f"taking over the stale lock {out / '.reportgen.lock'} of pid {child.pid}, which is no longer running"
        in result.stderr
    )


# --------------------------------------------------------------------------- killed runs


def start_slow_run(out: Path, data: Path, logs: Path) -> forked.Running:
    """A real `reportgen build` process that trains long enough to be killed mid-way (it says when it has begun)."""
    running = forked.start(
        "build", "--data", data, "--output", out, "--epochs", "200", "--factors", "4", "--top-n", "40", logs=logs
    )
    running.wait_for(" epoch 1/200 ")
    return running


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory, planted: Planted) -> Path:
    """One finished run on the planted data, built once per module (from a folder named as `planted_dir` is)."""
    base = tmp_path_factory.mktemp("published")
    data = write_grouplens(base / "ml-planted", planted.frame, planted.titles)
    assert build(base / "out", "--data", data).exit_code == 0
    return base / "out"


@pytest.fixture
def published(tmp_path: Path, published_once: Path) -> Path:
    """An output folder with one finished run in it: a copy of the module's, links kept as links."""
    return Path(shutil.copytree(published_once, tmp_path / "out", symlinks=True))


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_sigkill_during_training_leaves_the_previous_report_and_nothing_to_trip_over(
    published: Path, planted_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(published)
    process = start_slow_run(published, planted_dir, tmp_path / "logs")
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    after = snapshot(published)
    assert after.pop(".reportgen.lock") == f"{process.pid}\n".encode()  # the dead run's pid, nothing else
    before.pop(".reportgen.lock")
    assert after == before
    result = build(published, "--data", planted_dir)  # the next run neither trips nor complains of a live lock
    assert result.exit_code == 0, result.output
    assert f"of pid {process.pid}, which is no longer running" in result.stderr
    assert len(outputs.runs(published)) == 2


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, "Error: terminated (SIGTERM); the previous report is unchanged"),
        (signal.SIGINT, 130, "Error: interrupted (SIGINT); the previous report is unchanged"),
    ],
)
@pytest.mark.slow
def test_sigterm_and_sigint_stop_cleanly(
    published: Path, planted_dir: Path, tmp_path: Path, sig: int, code: int, line: str
) -> None:
    before = snapshot(published)
    process = start_slow_run(published, planted_dir, tmp_path / "logs")
    process.send_signal(sig)
    assert process.wait(timeout=60) == code
    rest = process.err()
    assert rest.splitlines()[-1] == line
    assert "Traceback" not in rest
    assert snapshot(published) == before  # lock released (empty again), no staging left


def test_a_killed_runs_leftovers_go_with_the_next_run_though_their_pid_is_alive_again(
    published: Path, planted_dir: Path
) -> None:
    """The pids in the names are this test's, alive, as a recycled pid is: under the lock that no longer keeps them."""
    staging = published / "runs" / f".staging-{os.getpid()}-0badc0de"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"\0" * 4096)  # a killed run's weights, night after night
    run = outputs.latest_run(published)
    assert run is not None
    rendering = run / f".report.json.{os.getpid()}.0123abcd.tmp"  # a killed render's, in the run it rendered
    rendering.write_bytes(b"{")
    result = build(published, "--data", planted_dir)
    assert result.exit_code == 0, result.output
    assert not staging.exists() and not rendering.exists()
    assert [line.partition(" ")[2] for line in result.stderr.splitlines() if "did not finish" in line] == [
        f"warning: removed {staging}, left by a run that did not finish",
        f"warning: removed {rendering}, left by a run that did not finish",
    ]


@pytest.mark.slow
def test_a_render_killed_before_it_replaced_anything_leaves_nothing_after_the_next_render(published: Path) -> None:
    """SIGKILL with every temporary written and nothing replaced yet: the run as it was, then the next render sweeps."""
    run = outputs.latest_run(published)
    assert run is not None
    before = snapshot(published)
    before.pop(".reportgen.lock")  # the killed render's pid will stand there
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\n"
            "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # the first replace: killed there\n"
            "sys.argv = ['reportgen', 'render', sys.argv[1]]\n"
            "from reportgen.cli import main\n"
            "main()\n",
            str(run),
        ],
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp"))
    assert [name.split(".")[1:3] for name in left] == [["report", "html"], ["report", "json"], ["report", "md"]]
    assert {k: v for k, v in snapshot(published).items() if not k.endswith((".tmp", ".lock"))} == before
    result = CliRunner().invoke(cli, ["render", str(run)])
    assert result.exit_code == 0, result.output
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- reproducible bytes


@pytest.mark.drawn
def test_source_date_epoch_gives_byte_identical_files(tmp_path: Path, planted_dir: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": "1764201600"}  # 2025-11-27T00:00:00Z
    a, b = tmp_path / "a", tmp_path / "b"
    assert build(a, "--data", planted_dir, env=env).exit_code == 0
    assert build(b, "--data", planted_dir, env=env).exit_code == 0
    assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes()
    assert (a / "report.md").read_bytes() == (b / "report.md").read_bytes()
    doc = report(a)
    assert doc["generated_at"] == "2025-11-27T00:00:00+00:00"
    assert "timings" not in doc and all("seconds" not in e for e in doc["metrics"]["epochs"])
    page = BeautifulSoup((a / "report.html").read_text(encoding="utf-8"), "html.parser")
    assert "SOURCE_DATE_EPOCH" in page.find(id="run").get_text()


def test_bad_source_date_epoch_is_a_usage_error(tmp_path: Path, planted_dir: Path) -> None:
    result = build(tmp_path / "out", "--data", planted_dir, env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert result.exit_code == 2
    assert result.stderr == "Error: SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not 'yesterday'\n"


@pytest.mark.slow
def test_an_empty_source_date_epoch_is_unset_and_builds(tmp_path: Path, planted_dir: Path) -> None:
    """`SOURCE_DATE_EPOCH=` (set, empty) reads as unset, as `${SOURCE_DATE_EPOCH:-…}` does, and reaches no library:
    numpy's f2py, imported through scipy in a fresh process, failed on it with `invalid literal for int()`."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "reportgen", "build", "--data", str(planted_dir), "-o", str(out), *QUICK]
    result = subprocess.run(command, env={**os.environ, "SOURCE_DATE_EPOCH": ""}, capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, f"{out / 'report.html'}\n"), result.stderr
    assert "Error" not in result.stderr
    doc = report(out)
    assert "timings" in doc and not doc["generated_at"].startswith("1970")  # the clock's date, durations kept


# --------------------------------------------------------------------------- configuration


def test_config_file_then_environment_then_command_line(
    tmp_path: Path, planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Precedence is the CLI layer's alone: checked on the options it hands the pipeline, with no training."""
    from types import SimpleNamespace

    from reportgen import pipeline

    config = tmp_path / "nightly.toml"
    assert planted_dir.parent == config.parent  # so `data` below is a path relative to the config file
    config.write_text(f'data = "{planted_dir.name}"\nepochs = 2\nseed = 7\ny-range = [0.5, 5.5]\n')
    handed: list[pipeline.BuildOptions] = []

    def fake_build(options: pipeline.BuildOptions, **hooks: object) -> object:
        handed.append(options)
        return SimpleNamespace(html=options.output / "report.html", report=SimpleNamespace(comparison=None))

    monkeypatch.setattr(pipeline, "build", fake_build)

    def config_used(*args: str, env: dict[str, str] | None = None) -> pipeline.BuildOptions:
        result = CliRunner().invoke(
            cli, ["build", "--config", str(config), "-o", str(tmp_path / "out"), *args], env=env
        )
        assert result.exit_code == 0, result.output
        return handed[-1]

    first = config_used()
    assert (first.train.epochs, first.train.seed, first.train.y_range) == (2, 7, (0.5, 5.5))
    assert first.source == planted_dir  # relative to the config file's folder
    assert config_used(env={"REPORTGEN_EPOCHS": "3"}).train.epochs == 3
    assert config_used("--epochs", "1", env={"REPORTGEN_EPOCHS": "3"}).train.epochs == 1
    assert config_used(env={"REPORTGEN_SEED": "9"}).train.seed == 9


def test_config_file_with_an_unknown_option_names_it(tmp_path: Path) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text("epoch = 2\n")
    result = CliRunner().invoke(cli, ["build", "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: Invalid value for '--config': {config}: unknown option 'epoch'\n"


def test_log_lines_on_a_non_terminal_are_timestamped_and_quiet_silences_them(tmp_path: Path, planted_dir: Path) -> None:
    result = build(tmp_path / "out", "--data", planted_dir)
    lines = result.stderr.splitlines()
    stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "
    assert all(re.match(stamp, line) for line in lines)
    joined = "\n".join(lines)
    for needle in (
        "start: reportgen",
        "loaded ",
        " epoch 1/1 ",
        "trained: ",
        "analysed in ",
        "drew the figures in ",
        "wrote ",
    ):
        assert needle in joined, needle
    quiet = build(tmp_path / "q", "--data", planted_dir, "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


# --------------------------------------------------------------------------- publishing faults (issue 13)


def test_a_failed_publication_leaves_the_previous_report_and_never_becomes_a_baseline(
    published: Path, planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    first, before = report(published), snapshot(published)

    def disk_full(link: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(outputs, "_replace_link", disk_full)  # the fault, injected at the publish step
        result = build(published, "--data", planted_dir, "--seed", "7")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"Error: {published}: cannot publish the report (No space left on device)"
    assert snapshot(published) == before  # the same run's pair, and the failed run is not kept
    assert len(outputs.runs(published)) == 1
    again = build(published, "--data", planted_dir)
    assert again.exit_code == 0, again.output
    assert report(published)["comparison"]["previous_generated_at"] == first["generated_at"]


def test_sigterm_while_pruning_says_the_new_report_was_published(
    published: Path, planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reportgen.cli import Stopped

    def interrupted(folder: Path, keep: int) -> list[Path]:
        raise Stopped(signal.SIGTERM)

    monkeypatch.setattr(outputs, "prune", interrupted)
    result = build(published, "--data", planted_dir, "--seed", "7")
    assert result.exit_code == 143
    newest = outputs.runs(published)[-1]
    assert (
        result.stderr.splitlines()[-1]
        == f"Error: terminated (SIGTERM); the new report was published first (runs/{newest.name})"
    )
    assert report(published)["config"]["seed"] == 7


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda doc: doc["metrics"].update(valid_rmse=float("nan")), "metrics.valid_rmse: NaN is not a finite number"),
        (lambda doc: doc.update(items="oops"), "not a reportgen report.json"),
        (lambda doc: [row.pop("title") for row in doc["bias"]["worst"]], "not a reportgen report.json"),
    ],
    ids=["NaN RMSE", "items not a list", "bias rows without title"],
)
def test_a_damaged_previous_report_is_skipped_with_one_warning(
    published: Path, planted_dir: Path, damage: object, problem: str
) -> None:
    doc = report(published)
    damage(doc)  # type: ignore[operator]
    (published / "report.json").write_text(json.dumps(doc))  # through the link, into the published run
    result = build(published, "--data", planted_dir)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning: not comparing with" in line]
    assert len(warnings) == 1 and problem in warnings[0]
    assert "comparison" not in report(published)


def test_the_wait_for_the_lock_is_logged_and_kept_out_of_the_stage_timings(tmp_path: Path, planted_dir: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_lock(out, 2)
    result = build(out, "--data", planted_dir, "--wait", "30")
    holder.wait()
    assert result.exit_code == 0, result.output
    waited = re.search(rf"waited (\d+\.\d) s for the output folder, held by pid {holder.pid}", result.stderr)
    assert waited and float(waited.group(1)) >= 1.0
    assert report(out)["timings"]["load"] < 1.0  # the wait is not load time


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "_bias.html.j2").write_text("{% if %}"), "template error in {templates}: _bias.html.j2: "),
        (lambda d: (d / "old.json").write_text("{}"), "Error: {old}: cannot read it as a report.json"),
    ],
    ids=["--templates with a syntax error", "--compare-with a file that is no report"],
)
def test_templates_and_compare_with_are_checked_before_training(
    tmp_path: Path, planted_dir: Path, make: object, message: str
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    make(templates)  # type: ignore[operator]
    old = templates / "old.json"
    args = ["--templates", templates] if not old.exists() else ["--compare-with", old]
    result = build(tmp_path / "out", "--data", planted_dir, *args)
    assert result.exit_code == 2
    assert message.format(templates=templates, old=old) in result.stderr
    assert "epoch" not in result.stderr  # refused before training


@pytest.mark.slow
def test_a_quiet_run_prints_nothing_even_with_warnings_and_an_unwritable_mplconfigdir(
    tmp_path: Path, planted_dir: Path
) -> None:
    """What cron mails: nothing, when the run succeeds; the warnings are in the report."""
    env = {**os.environ, "MPLCONFIGDIR": "/proc/no-such-dir/matplotlib"}  # not writable, even as root
    command = [
        sys.executable,
        "-m",
        "reportgen",
        "build",
        "--data",
        str(planted_dir),
        "-o",
        str(tmp_path / "out"),
        "-q",
    ]
    done = subprocess.run([*command, *QUICK, "--top-n", "100000"], capture_output=True, text=True, env=env, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert any("were analysed" in note for note in report(tmp_path / "out")["notes"])


# --------------------------------------------------------------------------- configuration files (issue 13)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs = 2.7\n", "{config}: epochs: 2.7 is not a whole number"),
        ('epochs = "many"\n', "{config}: epochs: 'many' is not a valid integer range."),
        ('output = ""\n', "{config}: output: the path is empty"),
        ("lr = nan\n", "{config}: lr: nan is not a finite number"),
        ('items = "items.csv"\n', "--items only apply to your own data: add --ratings FILE"),
    ],
)
def test_config_file_mistakes_are_named_by_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text(text)
    (tmp_path / "items.csv").write_text("item,title\n1,A\n")
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message.format(config=config) in result.stderr
    assert "env var" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_make_clean_removes_everything_a_run_leaves(published: Path) -> None:
    (published / ".gitkeep").write_text("")
    root = Path(__file__).resolve().parents[2]  # the repository, above tests/cli/
    done = subprocess.run(  # from another folder, so the checkout's own build leftovers are not touched
        ["make", "-s", "-f", str(root / "Makefile"), "clean", f"OUTPUT={published}"],
        cwd=published.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in published.iterdir()] == [".gitkeep"]  # runs/, latest, links and the lock are gone
