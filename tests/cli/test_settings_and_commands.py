"""Every setting checked once for the API and the CLI; config files, the environment, render and
history, and a stopped `--nproc` run each answer in one `Error:` line (issue 20, items 6, 8, 9, 13)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reportgen import __version__, pipeline, revisit, train
from reportgen.analysis import defaults
from reportgen.cli import Stopped, stop_on_signals
from reportgen.errors import InputError
from reportgen.train import distributed, fitting
from reportgen.train.config import BOUNDS, TrainConfig
from tests.helpers import forked
from tests.helpers.commands import invoke
from tests.helpers.planted import as_ratings, planted_frame
from tests.helpers.reports import hand_made_report


@pytest.fixture(scope="module")
def ratings() -> object:
    """A tiny planted table: nothing here trains on it (every check comes first)."""
    return as_ratings(planted_frame(n_users=30, n_items=12, seed=1).frame)


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training, if anything got that far, fails the test: the checks must come before it."""

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(train, "fit", trained)  # what make_report calls (pipeline reads it as train.fit)
    monkeypatch.setattr(pipeline, "build", trained)  # what the CLI's build calls


def one_error_line(result: object) -> str:
    """The single line a failed command printed (no traceback, nothing else)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --------------------------------------------------------------------------- item 13: the settings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bs": 0}, "bs must be at least 1, not 0"),
        ({"epochs": 0}, "epochs must be at least 1, not 0"),
        ({"engine": "sparse", "epochs": 0}, "epochs must be at least 1, not 0"),
        ({"factors": -3}, "factors must be at least 1, not -3"),
        ({"factors": 0}, "factors must be at least 1, not 0"),
        ({"lr": -1}, "lr must be above 0, not -1"),
        ({"lr": 0.0}, "lr must be above 0, not 0.0"),
        ({"lr": math.inf}, "lr must be a finite number, not inf"),
        ({"wd": -0.5}, "wd must be at least 0, not -0.5"),
        ({"wd": math.nan}, "wd must be a finite number, not nan"),
        ({"valid_pct": math.nan}, "valid_pct must be a finite number, not nan"),
        ({"valid_pct": 1.0}, "valid_pct must be above 0 and below 1, not 1.0"),
        ({"valid_pct": -0.2}, "valid_pct must be above 0 and below 1, not -0.2"),
        ({"y_range": (1,)}, "Invalid value for 'y_range': expected two numbers LOW HIGH, not (1,)"),
        ({"y_range": (0, "9")}, "Invalid value for 'y_range': expected two numbers LOW HIGH, not (0, '9')"),
        ({"y_range": "05"}, "Invalid value for 'y_range': expected two numbers LOW HIGH, not '05'"),
        ({"y_range": (True, 5)}, "Invalid value for 'y_range': expected two numbers LOW HIGH, not (True, 5)"),
        ({"y_range": (5, 1)}, "Invalid value for 'y_range': LOW (5) must be below HIGH (1)"),
        ({"epochs": True}, "epochs must be a whole number, not True"),
        ({"bs": 64.0}, "bs must be a whole number, not 64.0"),
        ({"lr": False}, "lr must be a finite number, not False"),
        ({"factors": "50"}, "factors must be a whole number, not '50'"),
        ({"seed": -1}, "seed must be at least 0 and at most 4294967295, not -1"),
        ({"seed": 2**32}, "seed must be at least 0 and at most 4294967295, not 4294967296"),
        ({"threads": 0}, "threads must be at least 1, not 0"),
        ({"preset": "slow"}, "preset must be one of tutorial, fast, not 'slow'"),
        ({"engine": ["sparse"]}, "engine must be auto, learner or sparse, not ['sparse']"),
        ({"lr": 10**400}, "lr must be a finite number, not " + "1" + "0" * 58 + "…"),  # no float holds it
        (
            {"y_range": (0, 10**400)},
            "Invalid value for 'y_range': LOW (0) and HIGH (" + "1" + "0" * 28 + "…) must be finite",
        ),
        ({"bs": -(10**5000)}, "bs must be at least 1, not a number too large to print"),
    ],
)
def test_a_setting_that_cannot_train_is_an_input_error_naming_it_where_the_config_is_made(
    change: dict, message: str
) -> None:
    with pytest.raises(InputError) as err:
        TrainConfig(**change)
    assert str(err.value) == message
    assert err.value.option == ("y_range" if "y_range" in change else message.split()[0])


def test_fit_checks_its_config_before_it_reads_a_rating(ratings: object) -> None:
    config = TrainConfig()
    object.__setattr__(config, "bs", 0)  # past the constructor's check: fit checks again
    started = time.process_time()  # CPU seconds: unaffected by whatever else the machine runs
    with pytest.raises(InputError, match=r"^bs must be at least 1, not 0$"):
        train.fit(ratings, config)
    with pytest.raises(InputError, match=r"^config must be a TrainConfig, not dict$"):
        train.fit(ratings, {"epochs": 1})  # type: ignore[arg-type]
    assert time.process_time() - started < 1.0  # no training, no import of torch


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"top_n": 0}, "top_n must be at least 2, not 0"),
        ({"top_n": True}, "top_n must be a whole number, not True"),
        ({"top_n": "all"}, "top_n must be a whole number, not 'all'"),
        ({"k": 0}, "k must be at least 1 and at most 1000, not 0"),
        ({"k": 1001}, "k must be at least 1 and at most 1000, not 1001"),
        ({"relevant_from": math.nan}, "relevant_from must be a finite number, not nan"),
        ({"config": "fast"}, "config must be a TrainConfig, not str"),
    ],
)
def test_make_report_checks_the_analysis_settings_before_training(
    ratings: object, no_training: None, given: dict, message: str
) -> None:
    with pytest.raises(InputError) as err:
        pipeline.make_report(ratings, **given)
    assert str(err.value) == message
    assert err.value.option == next(iter(given))


def test_build_checks_its_options_before_it_takes_the_lock_or_reads_data(tmp_path: Path) -> None:
    config = TrainConfig()
    object.__setattr__(config, "epochs", 0)
    for options, message in [
        (pipeline.BuildOptions(output=tmp_path / "out", top_n=1), "top_n must be at least 2, not 1"),
        (pipeline.BuildOptions(output=tmp_path / "out", train=config), "epochs must be at least 1, not 0"),
    ]:
        with pytest.raises(InputError) as err:
            pipeline.build(dataclasses.replace(options, source=tmp_path / "missing", download=None))
        assert str(err.value) == message
    assert not (tmp_path / "out").exists()


def test_make_report_on_a_plain_dataframe_says_how_to_wrap_it(no_training: None) -> None:
    frame = planted_frame(n_users=5, n_items=3).frame
    with pytest.raises(InputError) as err:
        pipeline.make_report(frame)
    assert str(err.value) == (
        "ratings must be the Ratings that load(...) returns, not a pandas DataFrame: read the file with "
        "load(OwnData(ratings=path)), or wrap the frame as Ratings(frame, Provenance(...))"
    )
    with pytest.raises(InputError, match=r"^ratings must be the Ratings that load\(\.\.\.\) returns, not str$"):
        fitting.fit("ratings.csv")  # type: ignore[arg-type]


def outside(bound: object) -> list[float]:
    """The values just outside a bound, at each end it has."""
    step = 1 if bound.whole else 0.5
    found = []
    if bound.low is not None:
        found.append(bound.low if bound.low_open else bound.low - step)
    if bound.high is not None:
        found.append(bound.high if bound.high_open else bound.high + step)
    return found


@pytest.mark.parametrize(
    ("name", "value", "bound"),
    [(name, value, bound) for name, bound in BOUNDS.items() for value in outside(bound)]
    + [("top_n", value, defaults.TOP_N_BOUND) for value in outside(defaults.TOP_N_BOUND)]
    + [("k", value, defaults.K_BOUND) for value in outside(defaults.K_BOUND)],
)
def test_the_command_line_refuses_exactly_what_the_library_refuses(
    name: str, value: float, bound: object, no_training: None
) -> None:
    with pytest.raises(InputError, match=f"^{name} must be "):
        if name in BOUNDS:
            TrainConfig(**{name: value})
        else:
            defaults.check_settings(**{"top_n": 2, "k": 1, name: value})
    flag = f"--{name.replace('_', '-')}"
    result = invoke("build", flag, value)
    assert result.exit_code == 2
    said = re.escape(f"Error: Invalid value for '{flag}' (env var: 'REPORTGEN_{name.upper()}'): ")
    assert re.fullmatch(said + r"\S+ is not in the range \S+\.", one_error_line(result))


# --------------------------------------------------------------------------- item 9: config files and the environment


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs = true\n", "epochs: true is not a whole number"),
        ('epochs = "3"\n', "epochs: the string '3' is not a whole number: write it without quotes"),
        ('lr = "0.01"\n', "lr: the string '0.01' is not a number: write it without quotes"),
        ("epochs = [1, 2]\n", "epochs: an array is not a whole number"),
        ("epochs = 1979-05-27\n", "epochs: the date or time 1979-05-27 is not a whole number"),
        ("epochs = inf\n", "epochs: inf is not a finite number"),  # refused by the bounded reader itself
        ("data = { path = 'ml-100k' }\n", "data: a table is not a path"),
        ('ratings = ["a.csv"]\n', "ratings: an array is not a path"),
        ("output = 7\n", "output: 7 is not a path"),
        ('quiet = "yes"\n', "quiet: the string 'yes' is not true or false"),
        ("offline = 1\n", "offline: 1 is not true or false"),
        ("wait = false\n", "wait: false is not a number"),
        ("sep = [',']\n", "sep: an array is not a string"),
        ("preset = { name = 'fast' }\n", "preset: a table is not a string"),
        ("y-range = 5\n", "y-range: 5 is not an array of 2 values"),
        ("y-range = [1]\n", "y-range: an array of 1 is not an array of 2 values"),
        ("y-range = [true, 5]\n", "y-range: true is not a number"),
        ("[build]\nepochs = 2\n", "unknown option 'build'"),
        ("y-range = [1, 5]\ny_range = [1, 5]\n", "y_range: given twice (as y-range and y_range)"),
    ],
)
def test_a_config_value_of_the_wrong_toml_type_names_the_file_and_key(
    tmp_path: Path, text: str, message: str, no_training: None
) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text(text, encoding="utf-8")
    result = invoke("build", "--config", config, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert one_error_line(result) == f"Error: Invalid value for '--config': {config}: {message}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WORLD_SIZE": "abc"},
            "WORLD_SIZE='abc' in the environment is not a whole number: torchrun sets WORLD_SIZE, RANK and "
            "LOCAL_RANK (unset them to run alone)",
        ),
        (
            {"WORLD_SIZE": "2"},
            "WORLD_SIZE=2 is set in the environment but RANK is not: torchrun sets both (unset WORLD_SIZE to run alone)",
        ),
        ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2 in the environment is outside WORLD_SIZE=2 (ranks 0 to 1)"),
        ({"WORLD_SIZE": "1", "RANK": "1"}, "RANK=1 in the environment is outside WORLD_SIZE=1 (ranks 0 to 0)"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 in the environment: a world has at least one process"),
        ({"WORLD_SIZE": "-2", "RANK": "0"}, "WORLD_SIZE='-2' in the environment is not a whole number: torchrun sets"),
        (
            {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "x"},
            "LOCAL_RANK='x' in the environment is not a whole number",
        ),
        ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "1"}, "LOCAL_RANK=1 in the environment is above RANK=0"),
        ({"WORLD_SIZE": "2", "RANK": "٠"}, "RANK='٠' in the environment is not a whole number"),
    ],
)
@pytest.mark.parametrize("nproc", ["1", "2"])
def test_a_stray_or_half_set_world_is_one_error_line_before_any_work(
    tmp_path: Path, env: dict, message: str, nproc: str, no_training: None
) -> None:
    result = invoke("build", "--nproc", nproc, "-o", tmp_path / "out", env=env)
    assert result.exit_code == 2
    assert one_error_line(result).startswith(f"Error: {message}")
    assert not (tmp_path / "out").exists()


def test_a_world_of_one_or_none_runs_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.environment() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.environment() is None and distributed.is_leader()
    monkeypatch.setenv("WORLD_SIZE", " 2 ")
    monkeypatch.setenv("RANK", "1")
    assert distributed.environment() == (1, 2, 0) and not distributed.is_leader()


# --------------------------------------------------------------------------- item 8: render and history


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as build writes it (report.json, report.html, report.md), from a hand-made report."""
    run = tmp_path_factory.mktemp("out") / "runs" / "20261127T100000Z"
    pipeline.write(dataclasses.replace(hand_made_report(), timings=None), run)
    return run


def crafted(kept_run: Path, tmp_path: Path, change: object) -> Path:
    run = Path(shutil.copytree(kept_run, tmp_path / "run"))
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    change(doc)
    # A number too large for a float is valid JSON that Python reads as infinity.
    (run / "report.json").write_text(json.dumps(doc).replace('"1e400"', "1e400"), encoding="utf-8")
    return run


def put(*keys: object, value: object) -> object:
    def change(doc: dict) -> None:
        inner = doc
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (put("config", "top_n", value="all"), "top_n is 'all', not a whole number"),
        (put("metrics", "valid_rmse", value="0.92"), "metrics.valid_rmse is '0.92', not a finite number"),
        (put("quality", "threshold", value="4"), "(analysis.quality.threshold is '4', not a finite number)"),
        (put("run", "preset", value="slow"), "(preset must be one of tutorial, fast, not 'slow')"),
        (put("dataset", "n_users", value=True), "dataset.n_users is True, not a whole number"),
        (put("items", 0, "count", value=1.5), "analysis.item_stats[0].count is 1.5, not a whole number"),
        (put("items", 0, "title", value=["x"]), "analysis.item_stats[0].title is ['x'], not a string"),
        (put("top_items", value="abc"), "TypeError: expected an array, not str"),
        (put("versions", value=[["python", "3"]]), "TypeError: expected an object, not list"),
        (put("notes", value=[1]), "notes[0] is 1, not a string"),
        (put("config", "epochs", value=0), "epochs must be at least 1, not 0"),
        (put("config", "epochs", value="5"), "epochs must be a whole number, not '5'"),
        (put("config", "y_range", value=[0, "9"]), "Invalid value for 'y_range': expected two numbers LOW HIGH"),
        (put("config", "top_n", value=0), "top_n must be at least 2, not 0"),
        (put("quality", "k", value="10"), "(analysis.quality.k is '10', not a whole number)"),
        (put("quality", "k", value=3), "(KeyError: 'precision_at_3')"),
        (put("insight", "rating_histogram", "counts", value=[1, None]), "analysis.ratings.counts[1] is None"),
        (put("scatter", value={"x": 1}), "TypeError: expected an array, not dict"),
    ],
)
def test_a_crafted_report_json_is_refused_by_render_as_bad_input_naming_the_value(
    kept_run: Path, tmp_path: Path, change: object, detail: str, undrawn: None
) -> None:
    run = crafted(kept_run, tmp_path, change)
    page = (run / "report.html").read_bytes()
    result = invoke("render", run)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.startswith(f"Error: {run / 'report.json'}: not a complete report.json of reportgen {__version__} (")
    assert detail in line
    assert (run / "report.html").read_bytes() == page


@pytest.mark.parametrize(
    ("template", "detail"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ('{% include "report.html.j2" %}', "RecursionError: maximum recursion depth exceeded"),
        ("{{ report.top_n + 'x' }}", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"),
        ("{{ report.notes[99] }}", "tuple object has no element 99"),
    ],
)
def test_a_user_template_that_fails_while_rendering_is_bad_input(
    kept_run: Path, tmp_path: Path, template: str, detail: str, undrawn: None
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "report.html.j2").write_text(template, encoding="utf-8")
    result = invoke("render", kept_run, "-o", tmp_path / "again", "--templates", templates)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.startswith(f"Error: template error in {templates.resolve()}") and detail in line


@pytest.mark.parametrize("command", ["render", "history"])
@pytest.mark.parametrize("failure", [RuntimeError("boom\n  at line 2"), RecursionError("maximum recursion depth")])
def test_any_other_error_of_render_or_history_is_one_line_and_debug_shows_the_traceback(
    kept_run: Path, monkeypatch: pytest.MonkeyPatch, command: str, failure: Exception
) -> None:
    def fail(*args: object) -> None:
        raise failure

    monkeypatch.setattr(
        revisit if command == "render" else pipeline, "render_run" if command == "render" else "write_history", fail
    )
    where = kept_run if command == "render" else kept_run.parent.parent
    result = invoke(command, *(["-o"] if command == "history" else []), where)
    assert result.exit_code == 1
    name = type(failure).__name__
    text = " ".join(str(failure).split())
    assert one_error_line(result) == f"Error: unexpected {name}: {text} (rerun with --debug for the traceback)"
    debugged = invoke(command, *(["-o"] if command == "history" else []), where, "--debug")
    assert debugged.exit_code == 1 and debugged.exception is failure  # raised, so Python prints the traceback


def test_an_error_before_a_commands_own_handling_is_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_training: None
) -> None:
    from reportgen.runs import outputs

    def unreadable(output: Path) -> None:
        raise PermissionError(13, "Permission denied", str(output / "latest"))

    monkeypatch.setattr(outputs, "latest_run", unreadable)  # what build reads first, before its own try
    result = invoke("build", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"Error: unexpected PermissionError: [Errno 13] Permission denied: '{tmp_path / 'out' / 'latest'}' "
        "(rerun with --debug for the traceback)"
    )
    assert isinstance(invoke("build", "-o", tmp_path / "out", "--debug").exception, PermissionError)


# --------------------------------------------------------------------------- item 6: signals


def test_a_second_signal_while_stopping_is_ignored_so_the_run_says_why_once() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(Stopped) as stopped, stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert (stopped.value.code, stopped.value.message) == (143, "terminated (SIGTERM)")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaching the process again while it unwinds
        os.kill(os.getpid(), signal.SIGTERM)  # and the launcher forwarding its own signal
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_an_error_after_the_stop_signal_unwinds_as_the_stop() -> None:
    """A module the signal interrupted mid-import fails when next used: the run still says it was stopped."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(Stopped) as stopped, stop_on_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
            except Stopped:  # swallowed where it landed, as an import half done leaves it
                pass
            raise AttributeError("partially initialized module 'pandas' has no attribute '_pandas_datetime_CAPI'")
        assert (stopped.value.code, stopped.value.message) == (143, "terminated (SIGTERM)")
        assert isinstance(stopped.value.__cause__, AttributeError)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    with pytest.raises(ValueError), stop_on_signals():  # without a signal an error is itself
        raise ValueError("not a stop")


def holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_nproc_stopped_by_a_signal_exits_128_plus_it_with_one_error_line(
    tmp_path: Path, sig: int, code: int, word: str
) -> None:
    """Rank 0 waits for the lock this test holds (rank 1 for rank 0): the signal lands mid-run, every time."""
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    data = tmp_path / "tiny.csv"
    data.write_text("user,item,rating\n" + "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(8) for i in range(6)))
    lock = os.open(out / ".reportgen.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        running = forked.start(
            "build", "--ratings", data, "--nproc", "2", "-o", out, "--wait", "300", "--quiet", logs=tmp_path / "logs"
        )
        deadline = time.monotonic() + 120
        while not holds_open(forked.rank_pids(running.pid).get(0, -1), out / ".reportgen.lock"):
            assert running.process.is_alive(), running.err()
            assert time.monotonic() < deadline, f"rank 0 never reached the lock: {running.err()}"
            time.sleep(0.05)
        running.send_signal(sig)
        assert running.wait(timeout=90) == code
    finally:
        os.close(lock)
    assert running.err() == f"Error: {word} ({signal.Signals(sig).name}); the previous report is unchanged\n"
    assert running.stdout.read_text() == ""
    assert sorted(p.name for p in out.iterdir()) == [".reportgen.lock"]  # no run, no staging left


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(lambda pid: forked.catches(pid, signal.SIGTERM), id="as python -m reportgen's handlers appear"),
        pytest.param(lambda pid: forked.has_mapped(pid, "/pandas/_libs/"), id="mid-import under the command's own"),
    ],
)
def test_a_rank_stopped_while_it_starts_is_silent(tmp_path: Path, moment: Callable[[int], bool]) -> None:
    """A rank other than 0 stopped by the launcher while still importing exits 130 and leaves the saying to rank 0.

    The signal is sent once the rank has reached the moment (its state in /proc), never after a guessed delay (on a
    busy machine 0.05 s could still be Python's own start-up, whose handling of a signal is Python's: the rank ends
    by the signal, or with a KeyboardInterrupt, before reportgen has run a line).
    """
    import subprocess
    import sys

    data = tmp_path / "tiny.csv"
    data.write_text("user,item,rating\n" + "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(8) for i in range(6)))
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    rank = subprocess.Popen(
        [sys.executable, "-m", "reportgen", "build", "--ratings", str(data), "-o", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120  # only against a hang: the moment comes within a second or two
    while not moment(rank.pid):
        assert rank.poll() is None, rank.communicate()
        assert time.monotonic() < deadline, "the rank never reached the moment"
        time.sleep(0.005)
    rank.send_signal(signal.SIGINT)
    out, err = rank.communicate(timeout=120)
    assert (rank.returncode, out, err) == (130, "", "")
