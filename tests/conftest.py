"""Shared test data: a small ratings table with planted structure, and writers for the
two on-disk layouts reportgen reads (GroupLens ml-100k and recbole's copy)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from reportgen.analysis import diagnostics, ranking
from reportgen.analysis import quality as q
from reportgen.analysis.baselines import Baselines
from reportgen.analysis.factors import Component, Neighbour, Scored
from reportgen.analysis.findings import Analysis, BiasVsMean, Disagreement, ItemStat, ScatterPoint
from reportgen.analysis.stats import Histogram
from reportgen.data import sources
from reportgen.data.types import Provenance, Ratings
from reportgen.render.figures import draw, svg
from reportgen.report import DataFile, DatasetSummary, Report, Timings
from reportgen.train.config import TrainConfig
from reportgen.train.results import EpochStats, Metrics

# Items whose true bias is far above or below everyone else's: a trained model
# must put them at the two ends of the bias ranking.
GREAT = ("Planted Great A (2001)", "Planted Great B (2002)", "Planted Great C (2003)")
AWFUL = ("Planted Awful A (2001)", "Planted Awful B (2002)", "Planted Awful C (2003)")
IN_CI = os.environ.get("CI") == "true"
# report.json's `config` for the tutorial's settings at the default --top-n.
TUTORIAL_CONFIG = {
    "epochs": 5,
    "lr": 0.005,
    "wd": 0.1,
    "factors": 50,
    "bs": 64,
    "valid_pct": 0.2,
    "y_range": [0.0, 5.5],
    "seed": 42,
    "top_n": 1000,
}
PAGE_NOTES = "page-checks.txt"  # what the browser checks saw, per pytest-xdist worker
# The report's sections in page order (render.SECTIONS, with a previous run's "changes" left out).
PAGE_SECTIONS = [
    "run",
    "quality",
    "rating-metrics",
    "ranking",
    "who-fails",
    "calibration",
    "top-items",
    "bias",
    "pca",
    "scatter",
    "neighbours",
    "distributions",
    "citation",
]


# `make test` hands whole files to two pytest-xdist workers in collection order: the longest
# go first (the rest keep theirs), so that the workers finish at about the same time.
LONGEST_FIRST = ("test_browser.py", "test_distributed.py", "test_cron.py", "test_history_page.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Under pytest-xdist, print the page checks' notes that each worker left in its temp folder."""
    if not getattr(config, "workerinput", None) and getattr(config.option, "numprocesses", None):
        base = config._tmp_path_factory.getbasetemp()  # the workers' folders are popen-gw* inside it
        for found in sorted(base.glob(f"popen-gw*/{PAGE_NOTES}")):
            for line in found.read_text(encoding="utf-8").splitlines():
                terminalreporter.write_line(f"page checks: {line}")


@dataclass(frozen=True)
class Planted:
    frame: pd.DataFrame  # user, item, rating, title
    titles: dict[int, str]  # item id -> title


def planted_frame(n_users: int = 240, n_items: int = 60, density: float = 0.45, seed: int = 0) -> Planted:
    """Ratings 1–5 from `3 + user bias + item bias + taste·genre + noise`, with planted extremes.

    Every item has a mild random bias except the GREAT (+1.6) and AWFUL (−1.6)
    ones; every user rates a random ~45 % of items, so each item has ~100 ratings.
    """
    rng = np.random.default_rng(seed)
    titles = {i: f"Movie {i:03d} ({1950 + i % 50})" for i in range(1, n_items + 1)}
    for offset, title in enumerate(GREAT):
        titles[1 + offset] = title
    for offset, title in enumerate(AWFUL):
        titles[n_items - offset] = title
    item_bias = rng.normal(0, 0.25, n_items + 1)
    for item, title in titles.items():
        if title in GREAT:
            item_bias[item] = 1.6
        elif title in AWFUL:
            item_bias[item] = -1.6
    user_bias = rng.normal(0, 0.3, n_users + 1)
    genre = rng.choice([-1.0, 1.0], n_items + 1)
    taste = rng.normal(0, 0.6, n_users + 1)
    rows = []
    for user in range(1, n_users + 1):
        for item in range(1, n_items + 1):
            if rng.random() < density:
                value = 3 + user_bias[user] + item_bias[item] + taste[user] * genre[item] + rng.normal(0, 0.4)
                rows.append((user, item, int(np.clip(np.rint(value), 1, 5))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["title"] = frame["item"].map(titles)
    return Planted(frame=frame, titles=titles)


def as_ratings(frame: pd.DataFrame, name: str = "synthetic") -> Ratings:
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    return Ratings(frame=frame, provenance=Provenance(name, "path", "(in memory)", "(in memory)", digest))


def write_grouplens(
    folder: Path, frame: pd.DataFrame, titles: dict[int, str], genres: dict[int, tuple[str, ...]] | None = None
) -> Path:
    """A GroupLens-style folder: tab-separated u.data, |-separated latin-1 u.item with genre flags."""
    from reportgen.data.readers import GENRES

    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{u}\t{i}\t{r}\t{880000000 + n}"
        for n, (u, i, r) in enumerate(frame[["user", "item", "rating"]].itertuples(index=False))
    ]
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="ascii")
    genres = genres or {}
    items = [
        f"{i}|{t}|01-Jan-1995||http://example.invalid/{i}|"
        + "|".join("1" if g in genres.get(i, ("unknown",)) else "0" for g in GENRES)
        for i, t in sorted(titles.items())
    ]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    return folder


TWINS = tuple(f"Twin {k} (2000)" for k in "ABCD")


@dataclass(frozen=True)
class PlantedTastes:
    frame: pd.DataFrame
    titles: dict[int, str]
    genres: dict[int, tuple[str, ...]]


def planted_tastes(n_users: int = 300, seed: int = 3) -> PlantedTastes:
    """Two planted taste directions: Drama against Action, and four Sci-Fi twins on their own.

    Item vectors: Drama (+1, 0), Action (−1, 0), the twins (0, +1.5); users' tastes
    are random in both directions. The twins are rated by almost everyone, so they
    are among the most-rated items and must be each other's nearest neighbours.
    """
    rng = np.random.default_rng(seed)
    titles, genres, vectors, density = {}, {}, {}, {}
    for i in range(1, 41):
        if i <= 4:
            titles[i], genres[i], vectors[i], density[i] = TWINS[i - 1], ("Sci-Fi",), (0.0, 1.5), 0.95
        elif i <= 22:
            titles[i], genres[i], vectors[i], density[i] = f"Drama {i:02d} (1990)", ("Drama",), (1.0, 0.0), 0.4
        else:
            titles[i], genres[i], vectors[i], density[i] = f"Action {i:02d} (1990)", ("Action",), (-1.0, 0.0), 0.4
    item_bias = {i: rng.normal(0, 0.2) for i in titles}
    rows = []
    for user in range(1, n_users + 1):
        taste, bias = rng.normal(0, 0.9, 2), rng.normal(0, 0.3)
        for item in titles:
            if rng.random() < density[item]:
                value = 3 + bias + item_bias[item] + taste @ np.array(vectors[item]) + rng.normal(0, 0.3)
                rows.append((user, item, int(np.clip(np.rint(value), 1, 5))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["title"] = frame["item"].map(titles)
    return PlantedTastes(frame=frame, titles=titles, genres=genres)


HOSTILE = "<script>alert(1)</script>"
INJECTION = "</title><img src=x onerror=alert(1)>"
TEMPLATE_LIKE = "{{ 7*7 }}"


_DRAWN: dict[str, dict[str, str]] = {}


def _drawn(result: Analysis, epochs: tuple[EpochStats, ...]) -> dict[str, str]:
    """The figures of a hand-made report, drawn once per distinct content (a copy each time).

    Drawing is most of what a hand-made report costs, and dozens of tests make the same one;
    the key is everything the figures are drawn from, so a different report is drawn anew.
    """
    key = repr((result, epochs))
    if key not in _DRAWN:
        _DRAWN[key] = draw(result, epochs)
    return dict(_DRAWN[key])


def hand_made_report(
    titles: tuple[str, ...] = ("Alpha (1990)", HOSTILE, "Gamma & Sons (1992)", INJECTION, TEMPLATE_LIKE),
    quality: q.Quality | None = None,
) -> Report:
    """A whole report from round, hand-made numbers (no training), with hostile titles by default."""
    quality = quality or hand_made_quality()
    stats = tuple(
        ItemStat(t, bias=0.5 - 0.25 * i, mean_rating=4.0 - 0.5 * i, count=100 - 10 * i) for i, t in enumerate(titles)
    )
    scatter = tuple(ScatterPoint(t, x=0.1 * i, y=-0.2 * i) for i, t in enumerate(titles))
    components = tuple(
        Component(
            index=c,
            explained_variance_ratio=[0.2, 0.1, 0.05][c],
            top=tuple(Scored(t, 1.0 - 0.1 * i) for i, t in enumerate(titles[:2])),
            bottom=tuple(Scored(t, -1.0 + 0.1 * i) for i, t in enumerate(titles[-2:])),
        )
        for c in range(3)
    )
    result = Analysis(
        top_n_requested=1000,
        top_items=titles,
        unknown_to_model=0,
        item_stats=stats,
        worst=tuple(reversed(stats)),
        best=stats,
        explained_variance_ratio=(0.2, 0.1, 0.05, 0.04),
        components=components,
        scatter_axes=(0, 2),
        scatter=scatter,
        baselines=Baselines(global_mean_rmse=1.125, bias_only_rmse=0.9375, model_rmse=0.92005, global_mean=3.5),
        bias_vs_mean=BiasVsMean(
            correlation=0.75,
            points=tuple((s.title, s.bias, s.mean_rating) for s in stats),
            high_mean_low_bias=(Disagreement(titles[1], -0.5, 4.5, 12, 4.25, "its raters are generous"),),
            low_mean_high_bias=(Disagreement(titles[2], 0.5, 2.5, 40, 2.75, "its raters are harsh"),),
        ),
        component_genres=(),
        neighbours={
            t: tuple(Neighbour(o, 0.9 - 0.1 * j) for j, o in enumerate(x for x in titles if x != t)) for t in titles[:2]
        },
        user_biases=Histogram(edges=(-1.0, 0.0, 1.0), counts=(400, 543)),
        ratings=Histogram(edges=(0.5, 1.5, 2.5, 3.5, 4.5, 5.5), counts=(6110, 11370, 27145, 34174, 21201)),
        quality=quality,
    )
    return Report(
        generated_at="2026-11-27T10:00:00+00:00",
        dataset=DatasetSummary(
            name="ml-100k",
            source="recbole",
            location="ml-100k",
            files=(
                DataFile("ratings", "ml-100k.inter", 2_079_769, "ab" * 32),
                DataFile("titles", "ml-100k.item", 85_017, "cd" * 32),
            ),
            n_ratings=100_000,
            n_users=943,
            n_items=1682,
            n_titles=1664,
        ),
        config=TrainConfig(),
        top_n=1000,
        metrics=Metrics(
            valid_mse=0.8465,
            valid_rmse=0.92005,
            n_train=80_000,
            n_valid=20_000,
            epochs=(EpochStats(1, 0.95, 0.93, 8.25), EpochStats(2, 0.70, 0.8465, 7.5)),
        ),
        analysis=result,
        timings=Timings(load=0.25, train=40.0, analyse=0.1, render=0.4, total=40.75),
        figures=_drawn(result, (EpochStats(1, 0.95, 0.93, 8.25), EpochStats(2, 0.70, 0.8465, 7.5))),
        versions={"python": "3.11.7", "reportgen": "0.1.0", "fastai": "2.8.12"},
    )


def assert_self_contained(html: str) -> None:
    """Nothing on the page makes a browser fetch anything (tests/test_browser.py watches a real one)."""
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("link") is None
    assert soup.find("base") is None
    assert all(not s.get("src") for s in soup.find_all("script"))
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:"), tag
    for tag in soup.find_all(["image", "use", "iframe", "object", "embed", "source", "video", "audio"]):
        ref = tag.get("href") or tag.get("xlink:href") or tag.get("data") or ""
        assert ref == "" or ref.startswith(("#", "data:")), tag
    css = " ".join(s.get_text() for s in soup.find_all("style")) + " ".join(
        t["style"] for t in soup.find_all(style=True)
    )
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", css)
    assert "@import" not in css


def invoke(*args: object, env: dict[str, str] | None = None) -> Any:
    """`reportgen ARGS…` in this process, through click's CliRunner (stdout and stderr apart)."""
    from click.testing import CliRunner

    from reportgen.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def assert_nothing_left(out: Path) -> None:
    """Besides the reports, at most the (released, empty) lock: no runs, no temporary files."""
    assert sorted(p.name for p in out.iterdir()) in (
        ["report.html", "report.json"],
        [".reportgen.lock", "report.html", "report.json"],
    )
    assert not (out / ".reportgen.lock").exists() or (out / ".reportgen.lock").read_text() == ""


QUALITY_HOSTILE = "<script>x</script>"


def hand_made_quality() -> q.Quality:
    """A `Quality` with round numbers, a sampled ranking and a hostile title among the most recommended."""

    def bucket(label: str, low: int, high: int | None, count: int, rmse: float | None) -> diagnostics.Bucket:
        return diagnostics.Bucket(label, low, high, count, rmse)

    spans = [("0", 0, 0), ("1–5", 1, 5), ("6–20", 6, 20), ("21–100", 21, 100), ("more than 100", 101, None)]
    users = diagnostics.Buckets(
        "users",
        tuple(
            bucket(name, a, b, c, r)
            for (name, a, b), c, r in zip(spans, [0, 40, 300, 900, 760], [None, 1.234, 1.01, 0.95, 0.9])
        ),
        0.95,
    )
    items = diagnostics.Buckets(
        "items",
        tuple(
            bucket(name, a, b, c, r)
            for (name, a, b), c, r in zip(spans, [5, 60, 200, 800, 935], [1.5, 1.111, 1.0, 0.96, 0.91])
        ),
        0.95,
    )
    return q.Quality(
        k=10,
        threshold=4.0,
        users_eligible=5000,
        users_evaluated=2000,
        sampled=True,
        seed=42,
        n_valid=2000,
        rating={
            "model": q.RatingMetrics(0.9123, 0.7111, 0.301),
            "bias": q.RatingMetrics(0.9456, 0.7444, 0.25),
            "global_mean": q.RatingMetrics(1.1234, 0.9444, -0.001),
        },
        ranking={
            "model": ranking.RankingMetrics(0.051, 0.061, 0.071, 0.031, 0.401),
            "popularity": ranking.RankingMetrics(0.101, 0.121, 0.141, 0.061, 0.601),
            "random": ranking.RankingMetrics(0.002, 0.003, 0.004, 0.001, 0.021),
        },
        coverage=ranking.Coverage(
            1682, 321, 321 / 1682, 81.5, 77.25, ((QUALITY_HOSTILE, 812), ("Star Wars (1977)", 640))
        ),
        by_user_activity=users,
        by_item_popularity=items,
        calibration=diagnostics.Calibration(
            bins=(
                diagnostics.CalibrationBin(1.0, 3.0, 500, 2.5, 2.75),
                diagnostics.CalibrationBin(3.0, 5.0, 1500, 3.9, 3.85),
                diagnostics.CalibrationBin(5.0, 7.0, 0, None, None),
            ),
            residuals=Histogram(edges=(-1.0, 0.0, 1.0), counts=(900, 1100)),
            mean_residual=0.012,
        ),
    )


PLACEHOLDER_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"></svg>'


@pytest.fixture
def undrawn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are built but not written out as SVG: each is a placeholder.

    For tests of what a run does around its report (locking, history, publishing, reading
    the input): writing SVG is most of a small run's time, and what the figures show is
    tested where they are the subject (test_render, test_browser, test_ml100k, test_cli,
    test_history_page). A test marked `drawn` keeps the real figures (byte-for-byte checks).
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
    from tests import browser as tools

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
    out, stdout = shared / "ml100k", shared / "ml100k.stdout"
    with open(shared / "ml100k.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not stdout.exists():
            result = CliRunner().invoke(cli, ["build", "--offline", "--output", str(out)])
            assert result.exit_code == 0, result.output
            stdout.write_text(result.stdout, encoding="utf-8")
    return {
        "out": out,
        "stdout": stdout.read_text(encoding="utf-8"),
        "doc": json.loads((out / "report.json").read_text(encoding="utf-8")),
        "html": (out / "report.html").read_text(encoding="utf-8"),
    }
