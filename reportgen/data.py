"""Load stage: find MovieLens 100k and read it into a `Ratings` table.

The built-in dataset `ml-100k` is resolved in a fixed order (DESIGN.md):
an explicit `--data` folder or zip, fastai's download cache, the copy that the
`recbole==1.2.1` wheel carries as plain files, and last a download through
fastai's `untar_data`. Whatever was read, the `Provenance` says where from and
carries the SHA-256 of the ratings file's bytes, so `sha256sum` can confirm it.
"""

from __future__ import annotations

import configparser
import csv
import gzip
import hashlib
import importlib.util
import io
import logging
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.errors import DataNotFoundError, InputError

if TYPE_CHECKING:  # pandas is imported lazily: `reportgen datasets` must answer fast
    import pandas as pd

log = logging.getLogger(__name__)

ML100K = "ml-100k"
RATINGS_FILE = "u.data"
ITEMS_FILE = "u.item"
RECBOLE_DIR = ("dataset_example", "ml-100k")
RECBOLE_RATINGS = "ml-100k.inter"
RECBOLE_ITEMS = "ml-100k.item"
ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

# Where a dataset came from; the report and `reportgen datasets` use these words.
SOURCE_PATH = "path"
SOURCE_FASTAI_CACHE = "fastai-cache"
SOURCE_RECBOLE = "recbole"
SOURCE_DOWNLOAD = "download"
SOURCE_FILE = "file"  # a user's own ratings file (`--ratings`)

# Own files: the separator each extension implies, and the compressions understood.
TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": r"\s+", ".data": r"\s+"}
COMPRESSED = (".gz", ".zip")
ITEM_KEYS = ("title", "id")
DUPLICATE_POLICIES = ("last", "error")
MIN_ITEMS = 3
# u.item's 19 genre flags, in column order after the IMDb URL (GroupLens' u.genre).
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: "
    "History and Context. ACM Transactions on Interactive Intelligent Systems "
    "(TiiS) 5, 4, Article 19 (December 2015), 19 pages. "
    "https://doi.org/10.1145/2827872"
)


@dataclass(frozen=True)
class Provenance:
    """Where a ratings table came from."""

    name: str  # dataset name: "ml-100k", or the ratings file's name
    source: str  # one of the SOURCE_* words
    location: str  # the folder, zip or file that was read
    ratings_file: str  # the file whose bytes `sha256` hashes
    sha256: str
    items_file: str | None = None  # where titles came from, if not the ratings file
    columns: tuple[tuple[str, str], ...] = ()  # (role, column) for own files, e.g. ("user", "uid")


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
        return self.provenance.name == ML100K


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


@dataclass(frozen=True)
class Candidate:
    """One way of obtaining `ml-100k`, as `reportgen datasets` lists them."""

    source: str
    location: str
    available: bool
    note: str


Downloader = Callable[[], Path]


# --------------------------------------------------------------------------- locating


def fastai_data_dir() -> Path:
    """fastai's data folder, read the way `fastai.data.external.fastai_cfg` does.

    fastai itself honours `FASTAI_HOME` and the `data` key of its config.ini; we
    mirror that here rather than import fastai, which takes seconds.
    """
    home = Path(os.environ.get("FASTAI_HOME", "~/.fastai")).expanduser().absolute()
    parser = configparser.ConfigParser()
    parser.read(home / "config.ini", encoding="utf8")
    return home / parser["DEFAULT"].get("data", "data")


def recbole_data_dir() -> Path | None:
    """The ml-100k folder inside an installed recbole wheel, found without importing it."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*RECBOLE_DIR)


def _is_grouplens_dir(folder: Path) -> bool:
    return (folder / RATINGS_FILE).is_file() and (folder / ITEMS_FILE).is_file()


def _is_recbole_dir(folder: Path | None) -> bool:
    return (
        folder is not None
        and (folder / RECBOLE_RATINGS).is_file()
        and (folder / RECBOLE_ITEMS).is_file()
    )


def candidates(data: Path | None = None) -> list[Candidate]:
    """Every way `ml-100k` could be obtained, in the order `load` tries them."""
    found: list[Candidate] = []
    if data is not None:
        found.append(Candidate(SOURCE_PATH, str(data), data.exists(), "--data PATH"))
    cache = fastai_data_dir() / ML100K
    found.append(
        Candidate(
            SOURCE_FASTAI_CACHE,
            str(cache),
            _is_grouplens_dir(cache),
            "fastai's download cache (FASTAI_HOME, default ~/.fastai)",
        )
    )
    recbole = recbole_data_dir()
    found.append(
        Candidate(
            SOURCE_RECBOLE,
            str(recbole) if recbole else "recbole==1.2.1 is not installed",
            _is_recbole_dir(recbole),
            "the copy inside the recbole==1.2.1 wheel (pip install --no-deps recbole==1.2.1)",
        )
    )
    found.append(
        Candidate(
            SOURCE_DOWNLOAD,
            ML100K_URL,
            True,
            "download through fastai's untar_data(URLs.ML_100k); needs the internet",
        )
    )
    return found


def download_with_fastai() -> Path:
    from fastai.data.external import URLs, untar_data

    return Path(untar_data(URLs.ML_100k))


# --------------------------------------------------------------------------- loading


def load(
    source: Path | OwnData | None = None,
    download: Downloader | None = download_with_fastai,
    *,
    item_key: str = "title",
    duplicates: str = "last",
) -> Ratings:
    """Read ratings: an own file, a GroupLens folder/zip, or the first source of ml-100k.

    `download=None` forbids the network step. `item_key` says what the model
    treats as one item; `duplicates` what to do with repeated (user, item) pairs:
    keep the `last` rating of each, or raise (`error`).
    """
    if isinstance(source, OwnData):
        raw = read_ratings_file(source)
    elif source is not None:
        raw = read_grouplens(source, source=SOURCE_PATH)
    else:
        raw = _load_ml100k(download)
    return finalise(raw, item_key=item_key, duplicates=duplicates)


def _load_ml100k(download: Downloader | None) -> Ratings:
    cache = fastai_data_dir() / ML100K
    if _is_grouplens_dir(cache):
        return read_grouplens(cache, source=SOURCE_FASTAI_CACHE)
    recbole = recbole_data_dir()
    if recbole is not None and _is_recbole_dir(recbole):
        return read_recbole(recbole)
    failure = "downloading is turned off (--offline)"
    if download is not None:
        log.info("ml-100k not found locally; downloading %s", ML100K_URL)
        try:
            return read_grouplens(download(), source=SOURCE_DOWNLOAD)
        except InputError:
            raise
        except Exception as exc:  # network errors come in many types; all mean the same here
            failure = f"the download failed ({type(exc).__name__}: {exc})"
    raise DataNotFoundError(
        f"cannot find MovieLens {ML100K} and {failure}; provide it one of these ways: "
        f"pass --data PATH (a GroupLens ml-100k folder or zip with {RATINGS_FILE} and "
        f"{ITEMS_FILE}); put it in fastai's cache at {cache}; run "
        "`pip install --no-deps recbole==1.2.1` (the Makefile does); "
        "or go online so fastai can download it"
    )


def read_grouplens(path: Path, source: str = SOURCE_PATH) -> Ratings:
    """Read a GroupLens `ml-100k` folder or zip: `u.data` (tab-separated) and `u.item`."""
    path = Path(path)
    if path.is_dir():
        ratings_path, items_path = path / RATINGS_FILE, path / ITEMS_FILE
        for required in (ratings_path, items_path):
            if not required.is_file():
                raise InputError(
                    f"{path}: no {required.name} found (expected a GroupLens ml-100k "
                    f"folder with {RATINGS_FILE} and {ITEMS_FILE})"
                )
        ratings_bytes = _read_bytes(ratings_path)
        items_bytes = _read_bytes(items_path)
        ratings_name, items_name = str(ratings_path), str(items_path)
    elif path.is_file() and zipfile.is_zipfile(path):
        (ratings_name, ratings_bytes), (items_name, items_bytes) = _read_from_zip(path)
    elif path.exists():
        raise InputError(f"{path}: not a folder or a zip file (expected a GroupLens ml-100k folder or zip)")
    else:
        raise InputError(f"{path}: no such file or folder")

    table = _read_text_table(ratings_bytes, ratings_name, sep="\t", header=None, encoding="ascii")
    if table.shape[1] < 3:
        raise InputError(
            f"{ratings_name}: expected tab-separated columns user, item, rating, timestamp; "
            f"found {table.shape[1]} column(s)"
        )
    ratings = _check_ratings(table, ratings_name, "line", columns=(0, 1, 2), integer_ids=True)

    items = _read_text_table(items_bytes, items_name, sep="|", header=None, encoding="latin-1")
    if items.shape[1] < 2:
        raise InputError(
            f"{items_name}: expected |-separated columns item id, title, …; found {items.shape[1]} column(s)"
        )
    ids = _as_ids(items[0], items_name, "line", "item id", integer=True)
    titles = dict(zip(ids, items[1].str.strip()))
    frame = _attach_titles(ratings, titles, ratings_name, items_name, missing="error")
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
        sha256=hashlib.sha256(ratings_bytes).hexdigest(),
        items_file=items_name,
    )
    return Ratings(frame=frame, provenance=provenance, item_genres=item_genres)


def read_recbole(folder: Path) -> Ratings:
    """Read the recbole copy of ML-100k and rebuild GroupLens' `Title (Year)` titles."""
    ratings_path, items_path = folder / RECBOLE_RATINGS, folder / RECBOLE_ITEMS
    ratings_bytes = _read_bytes(ratings_path)
    table = _read_text_table(ratings_bytes, str(ratings_path), sep="\t", header=0, encoding="utf-8")
    # recbole headers carry a type after a colon: `user_id:token`, `rating:float`.
    table.columns = [str(c).split(":", 1)[0] for c in table.columns]
    _require_columns(table, ["user_id", "item_id", "rating"], str(ratings_path))
    ratings = _check_ratings(table, str(ratings_path), "line", columns=("user_id", "item_id", "rating"), integer_ids=True)

    items = _read_text_table(_read_bytes(items_path), str(items_path), sep="\t", header=0, encoding="utf-8")
    items.columns = [str(c).split(":", 1)[0] for c in items.columns]
    _require_columns(items, ["item_id", "movie_title", "release_year"], str(items_path))
    ids = _as_ids(items["item_id"], str(items_path), "line", "item_id", integer=True)
    titles = dict(zip(ids, (grouplens_title(t, y) for t, y in zip(items["movie_title"], items["release_year"]))))
    frame = _attach_titles(ratings, titles, str(ratings_path), str(items_path), missing="error")
    classes = items["class"] if "class" in items.columns else [""] * len(ids)
    item_genres = {item: tuple(str(c).split()) for item, c in zip(ids, classes) if not _missing(c)}
    provenance = Provenance(
        name=ML100K,
        source=SOURCE_RECBOLE,
        location=str(folder),
        ratings_file=str(ratings_path),
        sha256=hashlib.sha256(ratings_bytes).hexdigest(),
        items_file=str(items_path),
    )
    return Ratings(frame=frame, provenance=provenance, item_genres=item_genres)


def read_ratings_file(spec: OwnData) -> Ratings:
    """Read a user's own ratings export (CSV, TSV, whitespace text, Parquet, .gz or .zip)."""
    path = spec.ratings
    raw = _read_bytes(path)
    table, row_word = _read_any(path, raw, spec.sep, spec.encoding)
    roles = {"user": spec.user_col, "item": spec.item_col, "rating": spec.rating_col}
    _require_columns(table, list(roles.values()), str(path))
    ratings = _check_ratings(
        table, str(path), row_word, columns=(spec.user_col, spec.item_col, spec.rating_col), integer_ids=False, named=True
    )
    notes: list[str] = []
    items_file = None
    if spec.title_col in table.columns:
        roles["title"] = spec.title_col
        rated = table.loc[ratings.index, [spec.item_col, spec.title_col]]
        present = rated[~_blank(rated[spec.title_col])]
        # One title per item: the last one given for it, so the model never splits an item.
        titles = dict(zip(present[spec.item_col].astype(str).str.strip(), present[spec.title_col].astype(str).str.strip()))
        frame = _attach_titles(ratings, titles, str(path), str(path), missing="id", notes=notes)
    elif spec.items is not None:
        items_raw = _read_bytes(spec.items)
        items, items_row_word = _read_any(spec.items, items_raw, spec.sep, spec.encoding)
        _require_columns(items, [spec.item_col, spec.title_col], str(spec.items))
        roles["title"] = f"{spec.title_col} (from {spec.items.name})"
        items = items[~_blank(items[spec.title_col])]
        ids = _as_ids(items[spec.item_col], str(spec.items), items_row_word, f"column '{spec.item_col}'", integer=False)
        titles = dict(zip(ids, items[spec.title_col].astype(str).str.strip()))
        frame = _attach_titles(ratings, titles, str(path), str(spec.items), missing="id", notes=notes)
        items_file = str(spec.items)
    else:
        frame = ratings.assign(title=ratings["item"].astype(str))
    provenance = Provenance(
        name=path.name,
        source=SOURCE_FILE,
        location=str(path),
        ratings_file=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        items_file=items_file,
        columns=tuple(roles.items()),
    )
    return Ratings(frame=frame, provenance=provenance, row_word=row_word, notes=tuple(notes))


def finalise(ratings: Ratings, *, item_key: str = "title", duplicates: str = "last") -> Ratings:
    """Apply the item key and the duplicate policy, check there is enough to learn from."""
    import pandas as pd

    name = ratings.provenance.ratings_file
    frame = ratings.frame
    notes = list(ratings.notes)
    repeated = frame.duplicated(["user", "item"], keep="last")
    n_repeated = int(repeated.sum())
    if n_repeated and duplicates == "error":
        first = frame.index[frame.duplicated(["user", "item"], keep="first").to_numpy().argmax()]
        row = frame.loc[first]
        raise InputError(
            f"{name}: {n_repeated} duplicate (user, item) pair(s), first repeated at {ratings.row_word} {first} "
            f"(user {row['user']}, item {row['item']}); pass --duplicates last to keep the last rating of each"
        )
    if n_repeated:
        frame = frame[~repeated]
        notes.append(f"{n_repeated} duplicate (user, item) pair(s): kept the last rating of each")

    if item_key == "id":
        ids = frame["item"].astype(str)
        labels = frame["title"].astype(str)
        frame = frame.assign(title=labels.where(labels == ids, labels + " [" + ids + "]"))
    elif item_key != "title":
        raise InputError(f"--item-key must be 'title' or 'id', not {item_key!r}")

    n_items = frame["title"].nunique()
    if n_items < MIN_ITEMS:
        raise InputError(f"{name}: only {n_items} distinct item(s); at least {MIN_ITEMS} are needed")
    single_users = int((frame.groupby("user").size() == 1).sum())
    single_items = int((frame.groupby("title").size() == 1).sum())
    singles = [f"{n} {what}" for n, what in ((single_users, "user(s)"), (single_items, "item(s)")) if n]
    if singles:
        notes.append(f"{' and '.join(singles)} have a single rating; the model learns little about them")
    return Ratings(
        frame=pd.DataFrame(frame),
        provenance=ratings.provenance,
        item_key=item_key,
        duplicates_dropped=n_repeated,
        row_word=ratings.row_word,
        notes=tuple(notes),
        item_genres=ratings.item_genres,
    )


def default_y_range(ratings: Ratings) -> tuple[float, float]:
    """The tutorial's (0, 5.5) for ML-100k; (min, max + 10 % of the span) for own data."""
    if ratings.is_movielens:
        return (0.0, 5.5)
    low, high = float(ratings.frame["rating"].min()), float(ratings.frame["rating"].max())
    return (low, high + 0.1 * (high - low or 1.0))


def check_range(ratings: Ratings, y_range: tuple[float, float]) -> None:
    """Every rating must lie inside the range the model's predictions are squashed into."""
    low, high = y_range
    rating = ratings.frame["rating"]
    outside = (rating < low) | (rating > high)
    if outside.any():
        first = ratings.frame.index[outside.to_numpy().argmax()]
        raise InputError(
            f"{ratings.provenance.ratings_file}: {int(outside.sum())} rating(s) outside --y-range {low:g} {high:g}, "
            f"first at {ratings.row_word} {first}: {rating.loc[first]:g}"
        )


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


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _blank(column: pd.Series) -> pd.Series:
    """True where a cell is missing, NaN or only whitespace."""
    return column.isna() | (column.astype(str).str.strip() == "")


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder, not a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _read_from_zip(path: Path) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    """Find u.data and u.item in a zip, at its root or in one folder (`ml-100k/u.data`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name: n for n in archive.namelist() if n.count("/") <= 1}
            found = []
            for wanted in (RATINGS_FILE, ITEMS_FILE):
                if wanted not in names:
                    raise InputError(
                        f"{path}: the zip has no {wanted} (expected a GroupLens ml-100k zip "
                        f"with {RATINGS_FILE} and {ITEMS_FILE})"
                    )
                found.append((f"{path}!{names[wanted]}", archive.read(names[wanted])))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read the zip ({exc})") from exc
    return found[0], found[1]


def _read_any(path: Path, raw: bytes, sep: str | None, encoding: str) -> tuple[pd.DataFrame, str]:
    """A table of strings from an own file, by extension; index = line (or row) numbers."""
    import pandas as pd

    suffixes = [s.lower() for s in path.suffixes]
    name = str(path)
    if suffixes and suffixes[-1] in COMPRESSED:
        raw = _decompress(raw, name, suffixes[-1])
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".parquet":
        try:
            table = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise InputError(f"{name}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc
        if table.empty:
            raise InputError(f"{name}: the file has no rows")
        table.index = pd.RangeIndex(1, len(table) + 1)
        return table, "row"
    if sep is None:
        if kind not in TEXT_SEPARATORS and not (path.suffixes and path.suffixes[-1].lower() in COMPRESSED):
            raise InputError(
                f"{name}: cannot tell the format from the extension {kind or '(none)'!r}; use .csv, .tsv, "
                ".txt/.data, .parquet, or .gz/.zip of a CSV, or pass --sep"
            )
        sep = TEXT_SEPARATORS.get(kind, ",")
    return _read_text_table(raw, name, sep=sep, header=0, encoding=encoding), "line"


def _decompress(raw: bytes, name: str, suffix: str) -> bytes:
    try:
        if suffix == ".gz":
            return gzip.decompress(raw)
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(f"{name}: expected exactly one file in the zip, found {len(members)}")
            return archive.read(members[0])
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(f"{name}: cannot decompress ({exc})") from exc


def _read_text_table(raw: bytes, name: str, *, sep: str, header: int | None, encoding: str) -> pd.DataFrame:
    """Parse delimited text into strings; the index is each row's line number in the file."""
    import pandas as pd

    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        hint = "; pass --encoding latin-1 if that is the file's encoding" if encoding.lower() != "latin-1" else ""
        raise InputError(
            f"{name}: not valid {encoding} (byte 0x{raw[exc.start]:02x} at offset {exc.start}){hint}"
        ) from exc
    except LookupError as exc:
        raise InputError(f"--encoding: unknown encoding {encoding!r}") from exc
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=header,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE if header is None else csv.QUOTE_MINIMAL,
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{name}: the file is empty") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{name}: cannot parse ({' '.join(str(exc).split())})") from exc
    first_line = 1 if header is None else 2
    table.index = pd.RangeIndex(first_line, first_line + len(table))
    table = table[~table.apply(_blank).all(axis=1)]  # blank lines carry no rating
    if table.empty:
        raise InputError(f"{name}: no ratings below the header" if header is not None else f"{name}: the file is empty")
    return table


def _require_columns(frame: pd.DataFrame, required: list[str], name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}"
        )


def _as_ids(column: pd.Series, name: str, row_word: str, what: str, *, integer: bool) -> pd.Series:
    """Ids as int64 (GroupLens, recbole) or stripped strings (own files); none may be empty."""
    import pandas as pd

    empty = _blank(column)
    if empty.any():
        raise InputError(f"{name}: {row_word} {column.index[empty.to_numpy().argmax()]}: {what} is empty")
    if not integer:
        return column.astype(str).str.strip()
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    if bad.any():
        first = column.index[bad.to_numpy().argmax()]
        raise InputError(f"{name}: {row_word} {first}: {what} {column.loc[first]!r} is not an integer id")
    return numbers.astype("int64")


def _check_ratings(
    table: pd.DataFrame, name: str, row_word: str, *, columns: tuple, integer_ids: bool, named: bool = False
) -> pd.DataFrame:
    """user, item and rating columns, checked row by row; errors name the line and value.

    `named`: the columns are the user's choice, so messages name them too.
    """
    import numpy as np
    import pandas as pd

    def label(column: object, role: str) -> str:
        return f"{role} (column '{column}')" if named else role

    user_col, item_col, rating_col = columns
    user = _as_ids(table[user_col], name, row_word, label(user_col, "user"), integer=integer_ids)
    item = _as_ids(table[item_col], name, row_word, label(item_col, "item"), integer=integer_ids)
    raw = table[rating_col]
    empty = _blank(raw)
    if empty.any():
        raise InputError(f"{name}: {row_word} {raw.index[empty.to_numpy().argmax()]}: {label(rating_col, 'rating')} is empty")
    rating = pd.to_numeric(raw, errors="coerce")
    bad = ~np.isfinite(rating.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        first = raw.index[bad.argmax()]
        raise InputError(f"{name}: {row_word} {first}: {label(rating_col, 'rating')} {raw.loc[first]!r} is not a number")
    return pd.DataFrame({"user": user, "item": item, "rating": rating})


def _attach_titles(
    ratings: pd.DataFrame,
    titles: dict,
    ratings_name: str,
    items_name: str,
    *,
    missing: str,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Label every rating with its item's title, as the tutorial's merge does.

    `missing="error"` (MovieLens) refuses rated items without a title;
    `missing="id"` (own files) labels them with their id and adds a note.
    """
    title = ratings["item"].map(titles)
    unknown = title.isna()
    if unknown.any():
        ids = sorted(ratings.loc[unknown, "item"].unique().tolist(), key=str)
        if missing == "error":
            shown = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            raise InputError(f"{ratings_name}: item(s) {shown} have no title in {items_name}")
        title = title.where(~unknown, ratings["item"].astype(str))
        if notes is not None:
            notes.append(f"{len(ids)} rated item(s) have no title in {Path(items_name).name}; their id is the label")
    return ratings.assign(title=title.astype(str))
