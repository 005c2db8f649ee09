"""`reportgen ARGS…` as a user runs it, in this process, and what a failed command must leave behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def invoke(*args: object, env: dict[str, str] | None = None) -> Any:
    """`reportgen ARGS…` in this process, through click's CliRunner (stdout and stderr apart)."""
    from click.testing import CliRunner

    from reportgen.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


# Yesterday's published report in an output folder, which a failed run must leave as it is.
PREVIOUS_HTML = b"<p>yesterday's report \xe2\x9c\x93</p>\n"
PREVIOUS_JSON = b'{"valid_rmse": 0.92}\n'


def previous_report(folder: Path) -> Path:
    """`folder` (made if need be) holding yesterday's report.html and report.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_bytes(PREVIOUS_HTML)
    (folder / "report.json").write_bytes(PREVIOUS_JSON)
    return folder


def assert_nothing_left(out: Path) -> None:
    """Besides the reports, at most the (released, empty) lock: no runs, no temporary files."""
    assert sorted(p.name for p in out.iterdir()) in (
        ["report.html", "report.json"],
        [".reportgen.lock", "report.html", "report.json"],
    )
    assert not (out / ".reportgen.lock").exists() or (out / ".reportgen.lock").read_text() == ""


def hold_lock(folder: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding `folder`'s run lock (its pid written, as a run's) for `seconds`; returns once it holds it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT); "
            "fcntl.flock(fd,fcntl.LOCK_EX); os.write(fd,b'%d' % os.getpid()); print('held',flush=True); "
            "time.sleep(float(sys.argv[2]))",
            str(Path(folder) / ".reportgen.lock"),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder
