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

from reportgen.runs import outputs
from reportgen.train import distributed
from tests.helpers import forked
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


def start_training(data: Path, out: Path) -> tuple[subprocess.Popen[str], dict[int, int]]:
    """`reportgen build --nproc 2` into `out`, returned once rank 0 has logged its first epoch, with its ranks' pids."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "reportgen", "build", "--ratings", str(data), "--nproc", "2", "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert launcher.stderr is not None
    for line in launcher.stderr:  # rank 0 logs each epoch: training is under way on both ranks
        if " epoch 1/" in line:
            break
    else:
        raise AssertionError(f"the run ended before training: {launcher.wait()}")
    ranks = forked.rank_pids(launcher.pid)
    assert set(ranks) == {0, 1}
    return launcher, ranks


def test_a_killed_rank_stops_the_run_and_leaves_the_previous_report(tmp_path: Path) -> None:
    data = planted_csv(tmp_path / "planted.csv", 200_000, seed=1)
    out = tmp_path / "out"
    first = invoke(
        "build", "--ratings", planted_csv(tmp_path / "small.csv", 20_000), "-o", out, "--engine", "sparse", "-q"
    )
    assert first.exit_code == 0, first.output
    before = (out / "report.json").read_bytes()
    launcher, ranks = start_training(data, out)
    os.kill(ranks[1], signal.SIGKILL)
    started = time.monotonic()
    code = launcher.wait(timeout=120)  # bounded: the launcher stops rank 0 when rank 1 dies
    rest = launcher.stderr.read()  # type: ignore[union-attr]
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


def test_ranks_die_with_a_launcher_killed_by_sigkill_and_nothing_is_published(tmp_path: Path) -> None:
    """kill -9 of `reportgen build --nproc 2` mid-training: the ranks die with it, the lock is free at once, and the
    previous report stays byte for byte (before, the ranks trained on, held the lock and published the killed run)."""
    data = planted_csv(tmp_path / "planted.csv", 200_000, seed=1)
    out = tmp_path / "out"
    first = invoke(
        "build", "--ratings", planted_csv(tmp_path / "small.csv", 20_000), "-o", out, "--engine", "sparse", "-q"
    )
    assert first.exit_code == 0, first.output
    before, published = snapshot(out), outputs.latest_run(out)
    launcher, ranks = start_training(data, out)
    launcher.kill()
    assert launcher.wait(timeout=60) == -signal.SIGKILL
    deadline = time.monotonic() + 5  # the promise: no rank outlives its launcher by 5 s
    while any(forked.is_running(pid) for pid in ranks.values()):
        assert time.monotonic() < deadline, {rank: forked.is_running(pid) for rank, pid in ranks.items()}
        time.sleep(0.05)
    assert snapshot(out) == before
    again = invoke("build", "--ratings", tmp_path / "small.csv", "-o", out, "--engine", "sparse", "-q")
    assert again.exit_code == 0, again.output  # the lock is free: no exit 75 naming a rank
    assert outputs.runs(out) == [published, outputs.latest_run(out)]  # the killed run kept nothing


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file below `out` (through reportgen's own links) by relative path, with its bytes, the lock aside."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != ".reportgen.lock"
    }


RANK = (
    "from reportgen.train.distributed import die_with_launcher\n"
    "die_with_launcher()\n"
    "print('training', flush=True)\n"
    "import time; time.sleep(300)\n"
)


def test_a_rank_dies_with_its_launcher_though_torch_starts_it_in_a_session_of_its_own() -> None:
    """The kernel's part: a 'rank' in its own session, as torch's launcher starts one, dies when its parent is killed."""
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys\n"
            f"os.environ[{distributed.LAUNCHER!r}] = str(os.getpid())\n"
            "rank = subprocess.Popen([sys.executable, '-c', sys.argv[1]], start_new_session=True)\n"
            "print(rank.pid, flush=True)\n"
            "rank.wait()\n",
            RANK,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdout is not None
    rank = int(launcher.stdout.readline())
    assert launcher.stdout.readline() == "training\n"  # the rank's own line: it is past die_with_launcher
    launcher.kill()
    launcher.wait(timeout=60)
    deadline = time.monotonic() + 5
    while forked.is_running(rank):
        assert time.monotonic() < deadline, f"the rank (pid {rank}) outlived its killed launcher by 5 s"
        time.sleep(0.05)


def test_a_rank_whose_launcher_died_before_it_started_ends_at_once_and_would_not_publish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A launcher gone before the rank could ask for the signal: the rank sees another parent and ends unheard."""
    orphan = subprocess.run(
        [sys.executable, "-c", RANK], env={**os.environ, distributed.LAUNCHER: "1"}, capture_output=True, text=True
    )
    assert (orphan.returncode, orphan.stdout) == (-signal.SIGKILL, "")
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(distributed.LAUNCHER, str(os.getppid()))
    assert not distributed.launcher_gone()
    monkeypatch.setenv(distributed.LAUNCHER, "1")  # rank 0 stands before publishing; its launcher is not its parent
    assert distributed.launcher_gone()
    monkeypatch.delenv("WORLD_SIZE")
    assert not distributed.launcher_gone()  # a stray variable outside a world means nothing
