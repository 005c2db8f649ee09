"""The output folder: its lock, the runs it keeps, publishing by one link, pruning, and the previous report."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reportgen.errors import InputError, RunError
from reportgen.runs import outputs
from tests.helpers.commands import hold_lock

MOMENT = dt.datetime(2026, 11, 27, 19, 15, 0, tzinfo=dt.UTC)


def dead_pid() -> int:
    """The pid of a process that has certainly exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --------------------------------------------------------------------------- lock


def test_lock_records_the_holder_and_refuses_a_second_run(tmp_path: Path) -> None:
    with outputs.RunLock(tmp_path):
        assert (tmp_path / ".reportgen.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(outputs.LockedError) as err:
            with outputs.RunLock(tmp_path):
                pass
    assert str(err.value) == f"another reportgen run holds {tmp_path / '.reportgen.lock'} (pid {os.getpid()})"
    assert err.value.exit_code == 75
    assert (tmp_path / ".reportgen.lock").read_text() == ""  # released: names nobody


def test_a_lazy_lock_creates_nothing_until_taken_and_holds_an_existing_lock_file_at_once(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with outputs.RunLock(out, lazy=True) as lock:
        assert not lock.held and not (tmp_path / "new").exists()  # a new folder stays unmade...
        lock.take()  # ...until the run's input is good
        assert lock.held and (out / ".reportgen.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(outputs.LockedError):  # a second run finds the file there: refused on entering
            with outputs.RunLock(out, lazy=True):
                pass
    assert (out / ".reportgen.lock").read_text() == ""
    with outputs.RunLock(out, lazy=True) as lock:  # the file is there now: held from the start
        assert lock.held and (out / ".reportgen.lock").read_text() == f"{os.getpid()}\n"
        assert lock.take() is lock and lock.held  # taking it again changes nothing


def test_two_lazy_locks_on_a_new_folder_still_let_one_run_in(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with outputs.RunLock(out, lazy=True) as first, outputs.RunLock(out, lazy=True) as second:
        assert not first.held and not second.held  # both read their input
        first.take()
        with pytest.raises(outputs.LockedError):
            second.take()
    assert not second.held


def test_a_lazy_lock_refuses_a_planted_link_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".reportgen.lock").symlink_to(target)
    with pytest.raises(RunError, match="is a symbolic link to .*, not followed; remove it"):
        with outputs.RunLock(out, lazy=True):
            pass
    assert target.read_text() == "keep me"


def test_lock_waits_when_asked(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, 0.6)
    with outputs.RunLock(tmp_path, wait=10):  # blocks until the holder exits
        assert holder.poll() is not None
    holder.wait()


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pid = dead_pid()
    (tmp_path / ".reportgen.lock").write_text(f"{pid}\n")
    with caplog.at_level(logging.WARNING, logger="reportgen"):
        with outputs.RunLock(tmp_path):
            assert (tmp_path / ".reportgen.lock").read_text() == f"{os.getpid()}\n"
    assert (
        f"taking over the stale lock {tmp_path / '.reportgen.lock'} of pid {pid}, which is no longer running"
        in caplog.text
    )


# --------------------------------------------------------------------------- runs


def make_run(folder: Path, name: str) -> Path:
    run = folder / "runs" / name
    run.mkdir(parents=True)
    for file in outputs.PUBLISHED:
        (run / file).write_text(name)
    return run


def test_runs_are_named_by_utc_second_and_never_collide(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert outputs.run_name(MOMENT, runs) == "20261127T191500Z"
    make_run(tmp_path, "20261127T191500Z")
    make_run(tmp_path, "20261127T191500Z-1")
    assert outputs.run_name(MOMENT.astimezone(dt.timezone(dt.timedelta(hours=2))), runs) == "20261127T191500Z-2"


def publish_run(folder: Path, text: str, moment: dt.datetime = MOMENT) -> Path:
    staging = outputs.staging_folder(folder)
    for name in outputs.PUBLISHED:
        (staging / name).write_text(f"{text} {name}")
    run = outputs.commit_run(staging, moment)
    outputs.publish(run, folder)
    return run


def test_staging_is_renamed_then_published_by_one_link(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("a page from an older reportgen")  # replaced, not kept beside
    run = publish_run(tmp_path, "new")
    assert run == tmp_path / "runs" / "20261127T191500Z"
    for name in outputs.PUBLISHED:
        assert (tmp_path / name).read_text() == f"new {name}"
        assert os.readlink(tmp_path / name) == f"latest/{name}"
    assert os.readlink(tmp_path / "latest") == "runs/20261127T191500Z"
    assert outputs.latest_run(tmp_path) == run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "report.html", "report.json", "report.md", "runs"]
    second = publish_run(tmp_path, "newer", MOMENT + dt.timedelta(days=1))
    assert (tmp_path / "report.json").read_text() == "newer report.json" and outputs.latest_run(tmp_path) == second


def test_a_folder_in_the_way_stops_publishing_before_anything_changes(tmp_path: Path) -> None:
    first = publish_run(tmp_path, "old")
    (tmp_path / "report.html").unlink()
    (tmp_path / "report.html").mkdir()
    staging = outputs.staging_folder(tmp_path)
    for name in outputs.PUBLISHED:
        (staging / name).write_text(f"new {name}")
    run = outputs.commit_run(staging, MOMENT + dt.timedelta(days=1))
    with pytest.raises(RunError, match=r"report.html: is a folder, so the report cannot be published there"):
        outputs.publish(run, tmp_path)
    assert outputs.latest_run(tmp_path) == first and (tmp_path / "report.json").read_text() == "old report.json"


def test_pruning_never_follows_a_link_nor_deletes_the_published_run(tmp_path: Path) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    out = tmp_path / "out"
    published = publish_run(out, "current")
    (out / "runs" / "20200101T000000Z").symlink_to(outside)  # named like a run, but a link
    (out / "runs" / "20200102T000000Z").write_text("a file named like a run")
    assert outputs.runs(out) == [published]
    assert outputs.prune(out, keep=1) == []
    assert (outside / "keep.txt").read_text() == "mine" and published.is_dir()


def test_a_file_named_runs_is_set_aside_not_deleted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "runs").write_text("my notes")
    with caplog.at_level(logging.WARNING, logger="reportgen"):
        run = publish_run(tmp_path, "new")
    (aside,) = tmp_path.glob("runs.not-reportgen-*")
    assert aside.read_text() == "my notes" and outputs.latest_run(tmp_path) == run
    assert "was not a folder of runs; renamed it to" in caplog.text


def test_prune_keeps_the_newest_runs(tmp_path: Path) -> None:
    names = ["20261125T010000Z", "20261126T010000Z", "20261126T010000Z-1", "20261127T010000Z"]
    for name in names:
        make_run(tmp_path, name)
    (tmp_path / "runs" / "notes").mkdir()  # not a run: never touched
    outputs.prune(tmp_path, keep=2)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["20261126T010000Z-1", "20261127T010000Z", "notes"]


def test_under_the_lock_every_leftover_goes_whatever_its_pid_is_doing_now(tmp_path: Path) -> None:
    """Every writer in the folder holds its lock, so a leftover's pid alive again (pid reuse) is some other process."""
    dead, alive = dead_pid(), os.getpid()
    run = make_run(tmp_path, "20261127T191500Z")
    leftovers = [
        tmp_path / f".report.html.{dead}.abcd1234.tmp",
        tmp_path / f".report.json.{dead}.abcd1234.tmp",
        tmp_path / f".report.md.{dead}.abcd1234.tmp",
        tmp_path / f".index.html.{dead}.abcd1234.tmp",
        tmp_path / "runs" / f".staging-{dead}-abcd1234",
        tmp_path / f".report.html.{alive}.ffff0000.tmp",
        tmp_path / "runs" / f".staging-{alive}-ffff0000",
        tmp_path / "runs" / ".staging-1-ffff0000",  # init's pid: always alive
        run / f".report.json.{alive}.0123abcd.tmp",  # a killed render's, in the run it rendered
    ]
    for path in leftovers:
        path.mkdir() if "staging" in path.name else path.write_text("half")
    (run / "notes.tmp").write_text("the user's")
    assert sorted(outputs.remove_leftovers(tmp_path)) == sorted(leftovers)
    assert not any(p.exists() for p in leftovers)
    assert sorted(p.name for p in run.iterdir()) == sorted([*outputs.PUBLISHED, "notes.tmp"])


def test_without_a_lock_a_render_removes_only_what_dead_renders_left(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getpid()
    run = make_run(tmp_path, "20261127T191500Z")
    gone, live = run / f".report.json.{dead}.abcd1234.tmp", run / f".report.json.{alive}.ffff0000.tmp"
    for path in (gone, live):
        path.write_text("half")
    assert outputs.remove_dead_temporaries(run) == [gone]
    assert live.exists() and not gone.exists()


def test_previous_report_is_the_published_one_and_a_damaged_one_is_skipped(tmp_path: Path) -> None:
    assert outputs.previous_report(tmp_path) is None
    good = {"metrics": {"valid_mse": 1.0, "valid_rmse": 1.0}}
    (tmp_path / "report.json").write_text(json.dumps(good))
    found = outputs.previous_report(tmp_path)
    assert found is not None and found[0] == tmp_path / "report.json" and found[1].doc == good
    (tmp_path / "report.json").write_text('{"metrics": {"valid_rmse": "n/a"}}')
    assert outputs.previous_report(tmp_path) is None
    (tmp_path / "report.json").write_text('{"metrics": ')
    assert outputs.previous_report(tmp_path) is None
    with pytest.raises(InputError, match=r"cannot read it as a report.json"):
        outputs.previous_report(tmp_path, explicit=tmp_path / "report.json")
