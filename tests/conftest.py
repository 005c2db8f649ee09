"""The suite's fixtures and pytest hooks, and nothing else: the builders, the planted data and
the page checks they use live in tests/helpers/ (test files import them from there)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import pytest

from reportgen.data import sources
from reportgen.render.figures import svg
from tests.helpers.browser import IN_CI, PAGE_NOTES
from tests.helpers.pages import PLACEHOLDER_SVG
from tests.helpers.planted import Planted, planted_frame, write_grouplens

TESTS = Path(__file__).resolve().parent
# `make test` hands whole files to two pytest-xdist workers in collection order: the longest
# go first (the rest keep theirs), so that the workers finish at about the same time. Each is
# named by its path below tests/. pytest-randomly shuffles the files, and the tests inside each,
# before this hook runs (its hook wraps every other): this stable sort then moves only these
# files to the front, so every other file, and every test within a file, runs in the seed's order.
LONGEST_FIRST = (
    "render/test_browser.py",
    "train/test_distributed.py",
    "cli/test_cron.py",
    "render/test_history_page.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [name for name in LONGEST_FIRST if not (TESTS / name).is_file()]
    assert not missing, f"LONGEST_FIRST names test files that are not there: {missing}"
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> int:
        name = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        return rank.get(name, len(rank))

    items.sort(key=order)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Under pytest-xdist, print the page checks' notes that each worker left in its temp folder."""
    if not getattr(config, "workerinput", None) and getattr(config.option, "numprocesses", None):
        base = config._tmp_path_factory.getbasetemp()  # the workers' folders are popen-gw* inside it
        for found in sorted(base.glob(f"popen-gw*/{PAGE_NOTES}")):
            for line in found.read_text(encoding="utf-8").splitlines():
                terminalreporter.write_line(f"page checks: {line}")


@pytest.fixture
def undrawn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are built but not written out as SVG: each is a placeholder.

    For tests of what a run does around its report (locking, history, publishing, reading
    the input): writing SVG is most of a small run's time, and what the figures show is
    tested where they are the subject (render/test_html, render/test_browser, pipeline/test_ml100k,
    cli/test_commands, render/test_history_page). A test marked `drawn` keeps the real figures (byte-for-byte checks).
    """
    if request.node.get_closest_marker("drawn"):
        return

    def placeholder(fig: Any) -> str:
        fig.clear()
        return PLACEHOLDER_SVG

    monkeypatch.setattr(svg, "to_svg", placeholder)


@pytest.fixture(scope="session")
def browser() -> Any:
    """One headless Chromium (Debian's, never a downloaded build) for the whole session (every page test shares it)."""
    from tests.helpers import browser as tools

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        tools.missing("Playwright (Python)", "run `make test`, which installs the `test` extra")
    executable = tools.chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=tools.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def planted() -> Planted:
    return planted_frame()


@pytest.fixture
def planted_dir(tmp_path: Path, planted: Planted) -> Path:
    return write_grouplens(tmp_path / "ml-planted", planted.frame, planted.titles)


@pytest.fixture(scope="session")
def recbole_ml100k() -> Path:
    """The real ML-100k inside the recbole wheel. CI installs it, so there it must exist."""
    folder = sources.recbole_data_dir()
    if folder is None or not (folder / sources.RECBOLE_RATINGS).is_file():
        if IN_CI:
            pytest.fail("recbole==1.2.1 (the ML-100k data carrier) is not installed; `make test` installs it")
        pytest.skip("ML-100k not available: run `make test`, which installs recbole==1.2.1 --no-deps")
    return folder


@pytest.fixture(scope="session")
def ml100k_report(recbole_ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `reportgen build --offline` on the real ML-100k at default settings, for the whole session.

    Under pytest-xdist the workers share it: the first that needs it builds it in the
    session's common folder, the others wait on a lock and read what it wrote.
    """
    from click.testing import CliRunner

    from reportgen.cli import cli

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # pytest-N/, one per session
    out, stdout, log = shared / "ml100k", shared / "ml100k.stdout", shared / "ml100k.log"
    with open(shared / "ml100k.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not stdout.exists():
            result = CliRunner().invoke(cli, ["build", "--offline", "--output", str(out)])
            assert result.exit_code == 0, result.output
            log.write_text(result.stderr, encoding="utf-8")
            stdout.write_text(result.stdout, encoding="utf-8")
    return {
        "out": out,
        "stdout": stdout.read_text(encoding="utf-8"),
        "log": log.read_text(encoding="utf-8"),
        "doc": json.loads((out / "report.json").read_text(encoding="utf-8")),
        "html": (out / "report.html").read_text(encoding="utf-8"),
    }


NIGHTS = (("fast", "--seed", "7"), ("time",))  # the second and third night: `--preset fast --seed 7`, `--split time`


@pytest.fixture(scope="session")
def ml100k_nights(ml100k_report: dict, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Three nightly runs on ML-100k into one output folder: the session's default build (copied), then
    `--preset fast --seed 7`, then `--split time`. Each night's page, report.json, report.md and log (stderr),
    oldest first; shared by the pytest-xdist workers like `ml100k_report`."""
    import shutil

    from click.testing import CliRunner

    from reportgen.cli import cli

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, done = shared / "ml100k-nights", shared / "ml100k-nights.json"
    with open(shared / "ml100k-nights.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.copytree(ml100k_report["out"], out, symlinks=True)
            logs = [ml100k_report["log"]]
            for night in NIGHTS:
                options = ["--preset", night[0], *night[1:]] if night[0] == "fast" else ["--split", night[0]]
                result = CliRunner().invoke(cli, ["build", "--offline", "--output", str(out), *options])
                assert result.exit_code == 0, result.output
                logs.append(result.stderr)
            runs = sorted(p.name for p in (out / "runs").iterdir() if not p.name.startswith("."))
            done.write_text(json.dumps({"runs": runs, "logs": logs}), encoding="utf-8")
    saved = json.loads(done.read_text(encoding="utf-8"))
    nights = []
    for run, log in zip(saved["runs"], saved["logs"]):
        folder = out / "runs" / run
        nights.append(
            {
                "folder": folder,
                "page": folder / "report.html",
                "html": (folder / "report.html").read_text(encoding="utf-8"),
                "doc": json.loads((folder / "report.json").read_text(encoding="utf-8")),
                "md": (folder / "report.md").read_text(encoding="utf-8"),
                "log": log,
            }
        )
    return nights
