"""Data-parallel training through torch.distributed: `reportgen build --nproc 2` (gloo, CPU) on planted data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.commands import invoke

pytestmark = pytest.mark.slow  # each test starts a launcher and two ranks, every one importing torch


def planted_csv(path: Path, n: int, seed: int = 0) -> Path:
    """Ratings from a planted rank-5 model plus noise, rounded to 1-5: structure the model can learn."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(60, n // 80), max(30, n // 160)
    users_f, items_f = rng.normal(0, 0.6, (n_users, 5)), rng.normal(0, 0.6, (n_items, 5))
    keys = np.unique(rng.integers(0, n_users, int(n * 1.2)) * n_items + rng.integers(0, n_items, int(n * 1.2)))[:n]
    user, item = keys // n_items, keys % n_items
    rating = np.clip(np.rint(3.2 + (users_f[user] * items_f[item]).sum(1) + rng.normal(0, 0.5, len(keys))), 1, 5)
    lines = "".join(f"{u},{i},{int(r)}\n" for u, i, r in zip(user, item, rating))
    path.write_text("user,item,rating\n" + lines)
    return path


def reportgen(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reportgen", "build", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


def test_two_processes_train_one_model_as_one_process_with_the_same_batch(tmp_path: Path) -> None:
    data = planted_csv(tmp_path / "planted.csv", 40_000)
    alone = invoke("build", "--ratings", data, "--engine", "sparse", "-o", tmp_path / "one", "-q")  # the reference
    assert alone.exit_code == 0, alone.output
    pair = reportgen("--ratings", data, "--nproc", "2", "-o", tmp_path / "two")
    assert pair.returncode == 0, pair.stderr
    assert pair.stdout == f"{tmp_path / 'two' / 'report.html'}\n"  # one report, announced once (by rank 0)
    assert pair.stderr.count(" start: reportgen ") == 1 and "epoch 8/8" in pair.stderr
    one, two = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two"))
    assert (two["runtime"]["world_size"], two["runtime"]["backend"]) == (2, "gloo")
    assert two["runtime"]["rank_bs"] * 2 == two["runtime"]["settings"]["bs"] == one["runtime"]["settings"]["bs"]
    assert abs(two["metrics"]["valid_rmse"] - one["metrics"]["valid_rmse"]) < 0.01
    assert two["metrics"]["n_valid"] == one["metrics"]["n_valid"]  # the whole validation split, each rating once
    vocabulary = [
        json.loads(next((tmp_path / d / "runs").glob("*/model.json")).read_text())["items"] for d in ("one", "two")
    ]
    assert vocabulary[0] == vocabulary[1]
    assert len(list((tmp_path / "two" / "runs").iterdir())) == 1


def test_bad_input_is_one_error_line_however_many_ranks_read_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,a,4\n2,b,five\n")
    result = reportgen("--ratings", bad, "--nproc", "2", "-o", tmp_path / "out")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {bad}: line 3: rating (column 'rating') 'five' is not a number"]
    assert "Traceback" not in result.stderr


def test_a_killed_rank_stops_the_run_and_leaves_the_previous_report(tmp_path: Path) -> None:
    data = planted_csv(tmp_path / "planted.csv", 200_000, seed=1)
    out = tmp_path / "out"
    first = invoke(
        "build", "--ratings", planted_csv(tmp_path / "small.csv", 20_000), "-o", out, "--engine", "sparse", "-q"
    )
    assert first.exit_code == 0, first.output
    before = (out / "report.json").read_bytes()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "reportgen", "build", "--ratings", str(data), "--nproc", "2", "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in launcher.stderr:  # rank 0 logs each epoch: training is under way on both ranks
        if " epoch 1/" in line:
            break
    else:
        raise AssertionError(f"the run ended before training: {launcher.wait()}")
    ranks = {}
    for child in subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split():
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        rank = next((e.split(b"=", 1)[1] for e in environ if e.startswith(b"RANK=")), None)
        if rank is not None:
            ranks[int(rank)] = int(child)
    assert set(ranks) == {0, 1}
    os.kill(ranks[1], signal.SIGKILL)
    started = time.monotonic()
    code = launcher.wait(timeout=120)  # bounded: the launcher stops rank 0 when rank 1 dies
    rest = launcher.stderr.read()
    assert code != 0 and time.monotonic() - started < 120
    errors = [line for line in rest.splitlines() if line.startswith("Error:")]
    # Rank 0 either hears first from its lost peer or is stopped by the launcher: one line either way.
    assert len(errors) == 1 and (
        errors[0] == "Error: terminated (SIGTERM); the previous report is unchanged"
        or errors[0].startswith("Error: another process of this data-parallel run stopped (")
    ), errors
    assert "Traceback" not in rest
    assert (out / "report.json").read_bytes() == before
    assert (out / ".reportgen.lock").read_text() == ""  # released
    again = invoke("build", "--ratings", tmp_path / "small.csv", "-o", out, "--engine", "sparse", "-q")
    assert again.exit_code == 0, again.output
