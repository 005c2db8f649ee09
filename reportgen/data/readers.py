"""The three layouts read into `Ratings`: a GroupLens folder or zip, recbole's copy, an own export.

Each reader opens its files through `files` (regular files only, sniffed,
hashed by streaming), reads the ratings through `tables` (typed and checked),
and labels every rating with its item's title.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.data.blocks import checked_text
from reportgen.data.cells import as_ids, blank, require_columns
from reportgen.data.files import (
    COMPRESSED,
    compression,
    open_regular,
    open_text_source,
    open_zip_member,
    regular_file,
    sha256_file,
    sha256_stream,
)
from reportgen.data.sources import (
    ITEMS_FILE,
    ML100K,
    RATINGS_FILE,
    RECBOLE_ITEMS,
    RECBOLE_RATINGS,
    SOURCE_FILE,
    SOURCE_PATH,
    SOURCE_RECBOLE,
    data_path_problem,
)
from reportgen.data.tables import Layout, Opener, Read, read_arrow, read_strings, read_text, release_arrow_memory
from reportgen.data.titles import ids_as_titles, item_titles
from reportgen.data.types import OwnData, Provenance, Ratings
from reportgen.errors import InputError, setting

if TYPE_CHECKING:
    import pandas as pd

# Own files: the separator each extension implies.
TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": r"\s+", ".data": r"\s+"}
PARQUET_ROWS = 1 << 22  # rows read at once from a Parquet file: its row groups, a few at a time
# u.item's 19 genre flags, in column order after the IMDb URL (GroupLens' u.genre).
GENRES = tuple(
    "unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|Fantasy|Film-Noir|"
    "Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western".split("|")
)


def read_grouplens(path: Path, source: str = SOURCE_PATH) -> Ratings:
    """Read a GroupLens `ml-100k` folder or zip: `u.data` (tab-separated) and `u.item`."""
    path = Path(path)
    problem = data_path_problem(path)
    if problem:
        raise InputError(f"{path}: {problem}")
    if path.is_dir():
        ratings_path, items_path = path / RATINGS_FILE, path / ITEMS_FILE
        ratings_name, items_name = str(ratings_path), str(items_path)
        open_ratings: Opener = functools.partial(open_regular, ratings_path)
        open_items: Opener = functools.partial(open_regular, items_path)
        digest = sha256_file(ratings_path)
    else:
        (ratings_name, open_ratings), (items_name, open_items) = _zip_members(path)
        digest = _sha256_stream(open_ratings, path)

    layout = Layout(
        name=ratings_name,
        sep="\t",
        encoding="ascii",
        user=0,
        item=1,
        rating=2,
        header=False,
        integer_ids=True,
        named=False,
        expected="expected tab-separated columns user, item, rating, timestamp",
        time=3,
    )
    frame = _zip_errors(path, lambda: read_text(open_ratings, layout)).frame

    items = _zip_errors(path, lambda: read_strings(open_items, items_name, sep="|", encoding="latin-1", header=False))
    if items.shape[1] < 2:
        raise InputError(
            f"{items_name}: expected |-separated columns item id, title, …; found {items.shape[1]} column(s)"
        )
    ids = as_ids(items[0], _where(items_name, "line"), "item id", integer=True)
    titles = dict(zip(ids, items[1].str.strip()))
    notes: list[str] = []
    frame = label_items(frame, titles, ratings_name, items_name, missing="error", notes=notes)
    flags = items.iloc[:, 5 : 5 + len(GENRES)]
    item_genres = {}
    if flags.shape[1] == len(GENRES):  # older or trimmed u.item files carry no genres: fine
        for item, row in zip(ids, flags.itertuples(index=False)):
            item_genres[item] = tuple(g for g, flag in zip(GENRES, row) if str(flag).strip() == "1")
    provenance = Provenance(
        name=ML100K,
        source=source,
        location=str(path),
        ratings_file=ratings_name,
        sha256=digest,
        items_file=items_name,
    )
    return Ratings(frame=frame, provenance=provenance, item_genres=item_genres, notes=tuple(notes))


def read_recbole(folder: Path) -> Ratings:
    """Read the recbole copy of ML-100k and rebuild GroupLens' `Title (Year)` titles."""
    ratings_path, items_path = folder / RECBOLE_RATINGS, folder / RECBOLE_ITEMS
    layout = Layout(
        name=str(ratings_path),
        sep="\t",
        encoding="utf-8",
        user="user_id",
        item="item_id",
        rating="rating",
        integer_ids=True,
        named=False,
        typed_header=True,
        time="timestamp",
    )
    frame = read_text(lambda: open_regular(ratings_path), layout).frame

    items = read_strings(lambda: open_regular(items_path), str(items_path), sep="\t", encoding="utf-8", header=True)
    items.columns = [str(c).split(":", 1)[0] for c in items.columns]
    require_columns(str(items_path), ["item_id", "movie_title", "release_year"], items.columns)
    ids = as_ids(items["item_id"], _where(str(items_path), "line"), "item_id", integer=True)
    titles = dict(zip(ids, (grouplens_title(t, y) for t, y in zip(items["movie_title"], items["release_year"]))))
    notes: list[str] = []
    frame = label_items(frame, titles, str(ratings_path), str(items_path), missing="error", notes=notes)
    classes = items["class"] if "class" in items.columns else [""] * len(ids)
    item_genres = {item: tuple(str(c).split()) for item, c in zip(ids, classes) if not _missing(c)}
    provenance = Provenance(
        name=ML100K,
        source=SOURCE_RECBOLE,
        location=str(folder),
        ratings_file=str(ratings_path),
        sha256=sha256_file(ratings_path),
        items_file=str(items_path),
    )
    return Ratings(frame=frame, provenance=provenance, item_genres=item_genres, notes=tuple(notes))


def read_ratings_file(spec: OwnData) -> Ratings:
    """Read a user's own ratings export (CSV, TSV, whitespace text, Parquet, .gz or .zip)."""
    path = regular_file(spec.ratings)
    kind, sep = _format(path, spec.sep)
    layout = own_layout(spec, str(path), sep)
    if kind == ".parquet":
        read = read_arrow(_parquet_batches(path, layout), layout)
    else:
        read = read_text(functools.partial(open_text_source, path), layout, hashed=compression(path) is None)
    where = Provenance(path.name, SOURCE_FILE, str(path), str(path), read.sha256 or sha256_file(path))
    return own_ratings(spec, read, where, row_word="row" if kind == ".parquet" else "line")


def own_layout(spec: OwnData, name: str, sep: str | None = None) -> Layout:
    """How an own export's columns are read, its roles' columns checked to be distinct."""
    check_distinct_columns(spec, name)
    if spec.items_id_col is not None and spec.items is None:
        raise InputError(
            f"{setting('items_id_col')} needs {setting('items')} FILE: it names that file's item id column"
        )
    return Layout(
        name,
        sep or ",",
        spec.encoding,
        spec.user_col,
        spec.item_col,
        spec.rating_col,
        spec.title_col,
        time=spec.time_col,
    )


def own_ratings(spec: OwnData, read: Read, provenance: Provenance, *, row_word: str) -> Ratings:
    """An own export's table labelled with titles (its own, the --items file's, or the ids), with its provenance."""
    release_arrow_memory()  # the Arrow batches are gone now
    name = provenance.ratings_file
    frame, has_title = read.frame, read.has_title
    roles = {"user": spec.user_col, "item": spec.item_col, "rating": spec.rating_col}
    if spec.time_col is not None:
        roles["time"] = spec.time_col
    notes: list[str] = []
    items_file = None
    if has_title:
        roles["title"] = spec.title_col
        frame = label_items(frame, None, name, name, missing="id", notes=notes)
    elif spec.items is not None:
        items, items_row_word = _items_table(spec)
        roles["title"] = f"{spec.title_col} (from {spec.items.name})"
        items = items[~blank(items[spec.title_col])]
        where, id_col = _where(str(spec.items), items_row_word), spec.items_id_col or spec.item_col
        ids = as_ids(items[id_col], where, f"column '{id_col}'", integer=False)
        titles = dict(zip(ids, items[spec.title_col].astype(str).str.strip()))
        frame = label_items(frame, titles, name, str(spec.items), missing="id", notes=notes)
        items_file = str(spec.items)
    else:
        frame = frame.assign(title=ids_as_titles(frame["item"], notes))  # the id is the label
    provenance = dataclasses.replace(provenance, items_file=items_file, columns=tuple(roles.items()))
    return Ratings(frame=frame, provenance=provenance, row_word=row_word, notes=tuple(notes))


def label_items(
    frame: pd.DataFrame,
    titles: dict | None,
    ratings_name: str,
    items_name: str,
    *,
    missing: str,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Label every rating with its item's title, as the tutorial's merge does; one title per item.

    `titles` maps item id -> title; None takes them from the frame's own `title`
    column (blank: none), the last one given for each item, so the model never
    splits an item. `missing="error"` (MovieLens) refuses rated items without a
    title; `missing="id"` (own files) labels them with their id and adds a note.
    Works on the item codes, so the cost is one pass over the ratings.
    """
    import numpy as np
    import pandas as pd

    item = frame["item"].astype("category")
    categories, codes = item.cat.categories, item.cat.codes.to_numpy()
    if titles is None:
        given = frame["title"]
        has = given.notna().to_numpy()
        last = pd.Series(np.flatnonzero(has)).groupby(codes[has]).max()  # the last titled row of each item
        label = pd.Series(pd.NA, index=range(len(categories)), dtype=object)
        label.iloc[last.index.to_numpy()] = given.iloc[last.to_numpy()].astype(str).to_numpy()
    else:
        label = pd.Series(categories.map(titles), dtype=object)
    unknown = label.isna().to_numpy()
    if unknown.any():
        ids = sorted(categories[unknown].tolist(), key=str)
        if missing == "error":
            shown = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            raise InputError(f"{ratings_name}: item(s) {shown} have no title in {items_name}")
        label[unknown] = categories[unknown].astype(str)
        if notes is not None:
            notes.append(f"{len(ids)} rated item(s) have no title in {Path(items_name).name}; their id is the label")
    return frame.assign(item=item, title=item_titles(label.astype(str), codes, notes))


def grouplens_title(title: object, year: object) -> str:
    """GroupLens' form of a recbole title: `Title (Year)`.

    recbole split the trailing year off every title. Item 267 is `unknown` in
    GroupLens, spelt `unkonwn` (title and year) in recbole; item 1412's "year" is
    `V`, which rebuilds GroupLens' `… (1995) (V)`.
    """
    title = "" if _missing(title) else str(title).strip()
    year = "" if _missing(year) else str(year).strip()
    if title == "unkonwn":
        title = "unknown"
    if year in ("", "unkonwn"):
        return title
    return f"{title} ({year})"


# --------------------------------------------------------------------------- helpers


def _format(path: Path, sep: str | None) -> tuple[str, str | None]:
    """The inner format of an own file (by extension) and its separator."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in COMPRESSED
    if compressed:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".parquet":
        return kind, None
    if sep is None:
        if kind not in TEXT_SEPARATORS and not compressed:
            raise InputError(
                f"{path}: cannot tell the format from the extension {kind or '(none)'!r}; use .csv, .tsv, "
                f".txt/.data, .parquet, or .gz/.zip of a CSV, or pass {setting('sep')}"
            )
        sep = TEXT_SEPARATORS.get(kind, ",")
    return kind, "\t" if sep == r"\t" else sep  # `--sep '\t'` as the shell passes it: a tab


def _parquet_batches(path: Path, layout: Layout) -> Callable[[], Iterator[Any]]:
    """The columns a rating needs, a row group at a time, straight from the file (a compressed one through memory).

    The columns are checked at once; what is returned starts the batches again from the first row at each call.
    """
    import pyarrow.parquet as pq

    name = layout.name
    try:
        if compression(path):
            with open_text_source(path) as stream:
                source: Any = io.BytesIO(stream.read())
        else:
            source = path
        parquet = pq.ParquetFile(source)
        names = parquet.schema_arrow.names
        require_columns(name, layout.settings(), names, settings=layout.settings())
        if parquet.metadata.num_rows == 0:
            raise InputError(f"{name}: the file has no rows")
        wanted = [layout.user, layout.item, layout.rating] + [c for c in (layout.title, layout.time) if c in names]
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise InputError(f"{name}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc

    def groups() -> Iterator[Any]:
        try:
            chosen: list[int] = []  # a few row groups at a time, decoded on every core
            rows, last = 0, parquet.num_row_groups - 1
            for group in range(parquet.num_row_groups):
                chosen.append(group)
                rows += parquet.metadata.row_group(group).num_rows
                if rows >= PARQUET_ROWS or group == last:
                    yield from parquet.read_row_groups(chosen, columns=wanted).to_batches()
                    chosen, rows = [], 0
        except Exception as exc:  # a damaged row group
            raise InputError(f"{name}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc

    return lambda: checked_text(groups(), lambda row: f"{name}: row {row}")  # text that is not UTF-8: its row


def _items_table(spec: OwnData) -> tuple[pd.DataFrame, str]:
    """The --items file as a table with its id and title columns, and its row word for messages."""
    import pandas as pd

    assert spec.items is not None
    path = regular_file(spec.items)
    kind, sep = _format(path, spec.sep)
    columns = {spec.items_id_col or spec.item_col: "items_id_col", spec.title_col: "title_col"}
    if kind == ".parquet":  # an items table is small: pandas reads it whole
        import pyarrow.parquet as pq

        try:
            whole = pq.read_table(path)
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise InputError(f"{path}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc
        for _ in checked_text(whole.to_batches(), lambda row: f"{path}: row {row}"):
            pass
        table = whole.to_pandas()
        if table.empty:
            raise InputError(f"{path}: the file has no rows")
        require_columns(str(path), columns, table.columns, settings=columns)
        table.index = pd.RangeIndex(1, len(table) + 1)
        return table, "row"
    opener = functools.partial(open_text_source, path)
    table = read_strings(
        opener, str(path), sep=sep or ",", encoding=spec.encoding, header=True, required=columns, settings=columns
    )
    return table, "line"


def _zip_members(path: Path) -> tuple[tuple[str, Opener], tuple[str, Opener]]:
    """u.data and u.item in a zip, at its root or in one folder (`ml-100k/u.data`), as openers.

    `sources.data_path_problem` has made sure both are there.
    """

    try:
        with open_regular(path) as raw, zipfile.ZipFile(raw) as archive:
            names = {Path(n).name: n for n in archive.namelist() if n.count("/") <= 1}
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read the zip ({exc})") from exc
    found = [
        (f"{path}!{names[wanted]}", functools.partial(open_zip_member, path, names[wanted]))
        for wanted in (RATINGS_FILE, ITEMS_FILE)
    ]
    return found[0], found[1]


def _zip_errors(path: Path, read: Any) -> Any:
    """Run `read`, turning a damaged zip's errors into one line naming the zip."""
    try:
        return read()
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read the zip ({exc})") from exc


def _sha256_stream(open_stream: Opener, zip_path: Path) -> str:
    """The SHA-256 of a zip member's bytes, streamed."""
    try:
        with open_stream() as stream:
            return sha256_stream(stream)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{zip_path}: cannot read the zip ({exc})") from exc


def check_distinct_columns(spec: OwnData, name: str) -> None:
    """User, item and rating each need a column of their own: one column in two roles is a mistake."""
    roles = (("user_col", spec.user_col), ("item_col", spec.item_col), ("rating_col", spec.rating_col))
    for i, (first, column) in enumerate(roles):
        for second, other in roles[i + 1 :]:
            if column == other:
                raise InputError(
                    f"{name}: {setting(first)} and {setting(second)} both name column {column!r}; "
                    "the user, the item and the rating each need a column of their own"
                )


def _where(name: str, row_word: str) -> Any:
    return lambda row, column: f"{name}: {row_word} {row}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
