"""Where MovieLens 100k comes from: the fixed order of places `ml-100k` is looked for.

An explicit `--data` folder or zip, fastai's download cache, the copy that the
`recbole==1.2.1` wheel carries as plain files, and last a download through
fastai's `untar_data` (ARCHITECTURE.md, "load stage"). Nothing here parses a
file or imports pandas, so `reportgen datasets` answers at once.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reportgen.errors import setting

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

CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: "
    "History and Context. ACM Transactions on Interactive Intelligent Systems "
    "(TiiS) 5, 4, Article 19 (December 2015), 19 pages. "
    "https://doi.org/10.1145/2827872"
)

Downloader = Callable[[], Path]


@dataclass(frozen=True)
class Candidate:
    """One way of obtaining `ml-100k`, as `reportgen datasets` lists them."""

    source: str
    location: str
    available: bool
    note: str


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


def is_grouplens_dir(folder: Path) -> bool:
    return (folder / RATINGS_FILE).is_file() and (folder / ITEMS_FILE).is_file()


def is_recbole_dir(folder: Path | None) -> bool:
    return folder is not None and (folder / RECBOLE_RATINGS).is_file() and (folder / RECBOLE_ITEMS).is_file()


def data_path_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a GroupLens folder or zip, or None if it can be tried.

    One check for `build --data` (which refuses with it) and `reportgen datasets`
    (which must not say it would read what `build` refuses). Only a regular
    file is opened, and only to read the zip's list of members.
    """
    import zipfile

    if path.is_dir():
        for name in (RATINGS_FILE, ITEMS_FILE):
            if not (path / name).is_file():
                return f"no {name} found (expected a GroupLens ml-100k folder with {RATINGS_FILE} and {ITEMS_FILE})"
        return None
    if not path.exists():
        return "no such file or folder"
    if not path.is_file():
        return "not a regular file or folder (expected a GroupLens ml-100k folder or zip)"
    try:
        with path.open("rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return "not a folder or a zip file (expected a GroupLens ml-100k folder or zip)"
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                names = {Path(n).name for n in archive.namelist() if n.count("/") <= 1}
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        return f"cannot read the zip ({getattr(exc, 'strerror', None) or exc})"
    for name in (RATINGS_FILE, ITEMS_FILE):
        if name not in names:
            return f"the zip has no {name} (expected a GroupLens ml-100k zip with {RATINGS_FILE} and {ITEMS_FILE})"
    return None


def candidates(data: Path | None = None) -> list[Candidate]:
    """Every way `ml-100k` could be obtained, in the order `load` tries them."""
    found: list[Candidate] = []
    if data is not None:
        problem = data_path_problem(data)
        note = "--data PATH" + (f": {problem}" if problem else "")
        found.append(Candidate(SOURCE_PATH, str(data), problem is None, note))
    cache = fastai_data_dir() / ML100K
    found.append(
        Candidate(
            SOURCE_FASTAI_CACHE,
            str(cache),
            is_grouplens_dir(cache),
            "fastai's download cache (FASTAI_HOME, default ~/.fastai)",
        )
    )
    recbole = recbole_data_dir()
    found.append(
        Candidate(
            SOURCE_RECBOLE,
            str(recbole) if recbole else "recbole==1.2.1 is not installed",
            is_recbole_dir(recbole),
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
    """Fetch ml-100k into fastai's cache (the last resort) and return its folder."""
    from fastai.data.external import URLs, untar_data

    return Path(untar_data(URLs.ML_100k))


def not_found_message(failure: str) -> str:
    """The one line that lists every way to provide ml-100k."""
    cache = fastai_data_dir() / ML100K
    return (
        f"cannot find MovieLens {ML100K} and {failure}; provide it one of these ways: "
        f"pass {setting('data')} PATH (a GroupLens ml-100k folder or zip with {RATINGS_FILE} and "
        f"{ITEMS_FILE}); put it in fastai's cache at {cache}; run "
        "`pip install --no-deps recbole==1.2.1` (the Makefile does); "
        "or go online so fastai can download it"
    )
