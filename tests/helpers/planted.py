"""Ratings tables with planted structure, and writers for the two on-disk layouts reportgen reads
(GroupLens ml-100k and recbole's copy): what a trained model must find is known in advance."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.data.types import Provenance, Ratings

# Items whose true bias is far above or below everyone else's: a trained model
# must put them at the two ends of the bias ranking.
GREAT = ("Planted Great A (2001)", "Planted Great B (2002)", "Planted Great C (2003)")
AWFUL = ("Planted Awful A (2001)", "Planted Awful B (2002)", "Planted Awful C (2003)")


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


def not_utf8_parquet(path: Path, bad: dict[str, tuple[int, bytes]], rows: int = 90) -> Path:
    """A Parquet file of `rows` ratings (row groups of 30) whose text columns hold bytes that are not UTF-8:
    `bad` maps a column to (the 0-based row, its bytes). Arrow writes such a `string` column unchecked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def text(column: str, values: list[str]) -> pa.Array:
        raw = [v.encode() for v in values]
        if column in bad:
            raw[bad[column][0]] = bad[column][1]
        return pa.Array.from_buffers(pa.string(), len(raw), pa.array(raw, pa.binary()).buffers())

    table = {
        "user": text("user", [f"u{r // 6}" for r in range(rows)]),
        "item": text("item", [f"i{r % 6}" for r in range(rows)]),
        "rating": pa.array([float(1 + r % 5) for r in range(rows)]),
        "title": text("title", [f"Film {r % 6}" for r in range(rows)]),
    }
    pq.write_table(pa.table(table), path, row_group_size=30)
    return path


def unblock_readers(fifo: Path) -> None:
    """Should a regression open the FIFO, a writer appears and closes it, so the test fails (the reader sees an
    empty file, not the refusal it expects) instead of hanging; a wall-clock bound would only fail a busy machine."""

    def writer() -> None:
        for _ in range(300):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                time.sleep(0.1)  # no reader (the fix): nothing to unblock

    threading.Thread(target=writer, daemon=True).start()
