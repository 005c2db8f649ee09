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
import hashlib
import importlib.util
import io
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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

CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: "
    "History and Context. ACM Transactions on Interactive Intelligent Systems "
    "(TiiS) 5, 4, Article 19 (December 2015), 19 pages. "
    "https://doi.org/10.1145/2827872"
)


@dataclass(frozen=True)
class Provenance:
    """Where a ratings table came from."""

    name: str  # dataset name, e.g. "ml-100k"
    source: str  # one of the SOURCE_* words
    location: str  # the folder or zip that was read
    ratings_file: str  # the file whose bytes `sha256` hashes
    sha256: str


@dataclass(frozen=True)
class Ratings:
    """One row per rating: columns `user`, `item`, `rating`, `title`."""

    frame: pd.DataFrame
    provenance: Provenance

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
        """Distinct titles: the tutorial models titles, and ML-100k has a few duplicates."""
        return int(self.frame["title"].nunique())


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


def load(data: Path | None = None, download: Downloader | None = download_with_fastai) -> Ratings:
    """Read `ml-100k` from `data`, else the first source that has it (see module doc).

    `download=None` forbids the network step, as tests and offline users may want.
    """
    if data is not None:
        return read_grouplens(data, source=SOURCE_PATH)
    cache = fastai_data_dir() / ML100K
    if _is_grouplens_dir(cache):
        return read_grouplens(cache, source=SOURCE_FASTAI_CACHE)
    recbole = recbole_data_dir()
    if recbole is not None and _is_recbole_dir(recbole):
        return read_recbole(recbole)
    failure = "downloading is turned off"
    if download is not None:
        log.info("ml-100k not found locally; downloading %s", ML100K_URL)
        try:
            return read_grouplens(download(), source=SOURCE_DOWNLOAD)
        except InputError:
            raise
        except Exception as exc:  # network errors come in many types; all mean the same here
            failure = f"the download failed ({type(exc).__name__}: {exc})".replace("\n", " ")
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

    frame = _parse_grouplens(ratings_bytes, ratings_name, items_bytes, items_name)
    provenance = Provenance(
        name=ML100K,
        source=source,
        location=str(path),
        ratings_file=ratings_name,
        sha256=hashlib.sha256(ratings_bytes).hexdigest(),
    )
    return Ratings(frame=frame, provenance=provenance)


def read_recbole(folder: Path) -> Ratings:
    """Read the recbole copy of ML-100k and rebuild GroupLens' `Title (Year)` titles."""
    import pandas as pd

    ratings_path, items_path = folder / RECBOLE_RATINGS, folder / RECBOLE_ITEMS
    ratings_bytes = _read_bytes(ratings_path)
    raw = _read_table(ratings_bytes, str(ratings_path), sep="\t", header=0)
    # recbole headers carry a type after a colon: `user_id:token`, `rating:float`.
    raw.columns = [str(c).split(":", 1)[0] for c in raw.columns]
    _require_columns(raw, ["user_id", "item_id", "rating"], str(ratings_path))
    ratings = raw.rename(columns={"user_id": "user", "item_id": "item"})[["user", "item", "rating"]]
    ratings = _check_ratings(ratings, str(ratings_path), first_data_line=2)

    items = _read_table(_read_bytes(items_path), str(items_path), sep="\t", header=0)
    items.columns = [str(c).split(":", 1)[0] for c in items.columns]
    _require_columns(items, ["item_id", "movie_title", "release_year"], str(items_path))
    titles = pd.DataFrame(
        {
            "item": _as_int(items["item_id"], str(items_path), "item_id", first_data_line=2),
            "title": [
                grouplens_title(t, y) for t, y in zip(items["movie_title"], items["release_year"])
            ],
        }
    )
    frame = _attach_titles(ratings, titles, str(ratings_path), str(items_path))
    provenance = Provenance(
        name=ML100K,
        source=SOURCE_RECBOLE,
        location=str(folder),
        ratings_file=str(ratings_path),
        sha256=hashlib.sha256(ratings_bytes).hexdigest(),
    )
    return Ratings(frame=frame, provenance=provenance)


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


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
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
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: cannot read the zip ({exc})") from exc
    return found[0], found[1]


def _read_table(raw: bytes, name: str, **kwargs: object) -> pd.DataFrame:
    import pandas as pd

    if not raw.strip():
        raise InputError(f"{name}: the file is empty")
    try:
        return pd.read_csv(io.BytesIO(raw), quoting=csv.QUOTE_NONE, **kwargs)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not in the expected text encoding ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{name}: cannot parse ({str(exc).strip()})") from exc


def _parse_grouplens(ratings_bytes: bytes, ratings_name: str, items_bytes: bytes, items_name: str) -> pd.DataFrame:
    import pandas as pd

    raw = _read_table(ratings_bytes, ratings_name, sep="\t", header=None)
    if raw.shape[1] < 3:
        raise InputError(
            f"{ratings_name}: expected tab-separated columns user, item, rating, timestamp; "
            f"found {raw.shape[1]} column(s)"
        )
    ratings = raw.iloc[:, :3].set_axis(["user", "item", "rating"], axis=1)
    ratings = _check_ratings(ratings, ratings_name, first_data_line=1)

    items = _read_table(items_bytes, items_name, sep="|", header=None, encoding="latin-1")
    if items.shape[1] < 2:
        raise InputError(f"{items_name}: expected |-separated columns item id, title, …; found {items.shape[1]}")
    titles = pd.DataFrame(
        {
            "item": _as_int(items.iloc[:, 0], items_name, "item id", first_data_line=1),
            "title": items.iloc[:, 1].astype(str).str.strip(),
        }
    )
    return _attach_titles(ratings, titles, ratings_name, items_name)


def _require_columns(frame: pd.DataFrame, required: list[str], name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}"
        )


def _as_int(column: pd.Series, name: str, what: str, first_data_line: int) -> pd.Series:
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(
            f"{name}: line {row + first_data_line}: {what} {column.iloc[row]!r} is not an integer id"
        )
    return numbers.astype("int64")


def _check_ratings(ratings: pd.DataFrame, name: str, first_data_line: int) -> pd.DataFrame:
    """Ids must be integers and ratings numbers; keep pandas' own dtype for the rating."""
    import pandas as pd

    user = _as_int(ratings["user"], name, "user", first_data_line)
    item = _as_int(ratings["item"], name, "item", first_data_line)
    rating = pd.to_numeric(ratings["rating"], errors="coerce")
    if rating.isna().any():
        row = int(rating.isna().to_numpy().argmax())
        raise InputError(
            f"{name}: line {row + first_data_line}: rating {ratings['rating'].iloc[row]!r} is not a number"
        )
    return pd.DataFrame({"user": user, "item": item, "rating": rating})


def _attach_titles(ratings: pd.DataFrame, titles: pd.DataFrame, ratings_name: str, items_name: str) -> pd.DataFrame:
    """Join titles on the item id, as the tutorial's merge does; every item needs one."""
    titles = titles.drop_duplicates("item", keep="last")
    frame = ratings.merge(titles, on="item", how="left", validate="many_to_one")
    unknown = frame["title"].isna()
    if unknown.any():
        ids = sorted(frame.loc[unknown, "item"].unique().tolist())
        shown = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        raise InputError(f"{ratings_name}: item(s) {shown} have no title in {items_name}")
    return frame.reset_index(drop=True)
