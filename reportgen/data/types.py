"""The load stage's types: a table of ratings, where it came from, and how to read an own export.

`Ratings.frame` has columns `user`, `item`, `rating`, `title`: ids and titles are
pandas `Categorical` with sorted categories (int codes, one string per distinct
value, so 25 million ratings stay small), `rating` is float64, `timestamp` (only
where the data has times: ML-100k, or an own file's `time_col`) int64 epoch
seconds, UTC, and the index is
the line (or Parquet or database row) each rating came from, for error messages. Hand-made
frames with plain columns are accepted by every consumer too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.data.sources import ML100K
from reportgen.errors import InputError, setting

if TYPE_CHECKING:  # pandas is imported lazily: `reportgen datasets` must answer fast
    import pandas as pd


@dataclass(frozen=True)
class Provenance:
    """Where a ratings table came from."""

    name: str  # dataset name: "ml-100k", or the ratings file's name
    source: str  # one of the sources.SOURCE_* words
    location: str  # the folder, zip or file that was read
    ratings_file: str  # the file whose bytes `sha256` hashes
    sha256: str
    items_file: str | None = None  # where titles came from, if not the ratings file
    columns: tuple[tuple[str, str], ...] = ()  # (role, column) for own files, e.g. ("user", "uid")
    database: DatabaseRead | None = None  # ratings read from a database (`sha256` then hashes the rows read)
    parts: int = 0  # a folder or glob of Parquet parts: how many (`sha256` is over them all, see `parts`)
    size: int | None = None  # the parts' bytes in all


@dataclass(frozen=True)
class DatabaseRead:
    """Ratings read from an SQL database, as a report may show it: never a host, port, user, password or folder."""

    kind: str  # "sqlite" or "postgresql"
    name: str  # the database's name; for SQLite the file's name alone
    query: str  # the query that was run, its ORDER BY included
    rows: int  # rows the query returned
    items_query: str | None = None  # the query titles came from (`items_query`)


@dataclass(frozen=True)
class Ratings:
    """One row per rating: columns `user`, `item`, `rating`, `title`.

    `title` is the label the model learns items by (see `item_key`); the index
    holds the line (or Parquet row) each rating came from, for error messages.
    """

    frame: pd.DataFrame
    provenance: Provenance
    item_key: str = "title"  # "title": items with one title are one item (the tutorial); "id": kept apart
    duplicates_dropped: int = 0
    row_word: str = "line"  # what the index counts: "line" of a text file, "row" of a Parquet file
    notes: tuple[str, ...] = ()  # warnings about the data, for the log and the report
    item_genres: dict[Any, tuple[str, ...]] = field(default_factory=dict)  # item id -> genres (MovieLens)

    @property
    def genres(self) -> dict[str, tuple[str, ...]]:
        """The model's items (labels) -> genres; items merged under one title pool theirs."""
        if not self.item_genres:
            return {}
        pooled: dict[str, set[str]] = {}
        for item, label in self.frame[["item", "title"]].drop_duplicates().itertuples(index=False):
            pooled.setdefault(label, set()).update(self.item_genres.get(item, ()))
        return {label: tuple(sorted(g)) for label, g in pooled.items()}

    @property
    def n_ratings(self) -> int:
        return len(self.frame)

    @property
    def n_users(self) -> int:
        return int(self.frame["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.frame["item"].nunique())

    @property
    def n_titles(self) -> int:
        """Distinct labels, i.e. the model's items; ML-100k has 18 titles shared by two ids."""
        return int(self.frame["title"].nunique())

    @property
    def is_movielens(self) -> bool:
        return self.provenance.name == ML100K and self.provenance.database is None


def check_ratings(value: object) -> None:
    """`InputError` unless `value` is a `Ratings` table: what a stage is handed by the Python API is checked."""
    if isinstance(value, Ratings):
        return
    what = type(value).__name__
    if what == "DataFrame":
        raise InputError(
            f"{setting('ratings')} must be the Ratings that load(...) returns, not a pandas DataFrame: read the "
            "file with load(OwnData(ratings=path)), or wrap the frame as Ratings(frame, Provenance(...))"
        )
    raise InputError(f"{setting('ratings')} must be the Ratings that load(...) returns, not {what}")


@dataclass(frozen=True)
class OwnData:
    """A user's own ratings export and how to read it (`build --ratings`)."""

    ratings: Path
    items: Path | None = None
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str = "rating"
    title_col: str = "title"
    sep: str | None = None  # default: by extension (, for .csv, tab for .tsv, whitespace for .txt/.data)
    encoding: str = "utf-8"
    time_col: str | None = None  # the rating's time (epoch seconds or ISO dates), for `split="time"`
    items_id_col: str | None = None  # the item id column of `items` (default: `item_col`'s name)


@dataclass(frozen=True)
class DbData:
    """Ratings in an SQL database and how to read them (`build --db URL --query SQL` or `--table NAME`).

    The URL may carry a password: it is left out of the repr and never shown but redacted.
    """

    url: str = field(repr=False)
    query: str | None = None  # a SELECT whose rows are ratings; or
    table: str | None = None  # a table (or view) read whole; `schema.table` names one in a schema
    items_query: str | None = None  # a SELECT of item id and title, the database twin of `items`
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str = "rating"
    title_col: str = "title"
    time_col: str | None = None
