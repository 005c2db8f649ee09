"""Load stage: read ratings from the chosen source and apply the dataset policy.

The policy: what one item is (`item_key`), what to do with repeated (user, item)
pairs (`duplicates`), whether there is enough to learn from, and the rating
range the model squashes its predictions into. Finding ml-100k lives in
`sources`, opening files safely in `files`, typed tables in `tables` (a batch at
a time into codes: `blocks`), the three layouts in `readers`, a folder of Parquet
parts in `parts` and the types in `types` (ARCHITECTURE.md, "load stage");
the package `reportgen.data` is the one import point for what the other stages use.
Whatever was read, the `Provenance` says where from and carries the SHA-256 of
the ratings file's bytes, so `sha256sum` can confirm it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reportgen import machine
from reportgen.data import sources
from reportgen.data.database import read_database
from reportgen.data.parts import is_parts, read_parquet_parts
from reportgen.data.readers import (
    read_grouplens,
    read_ratings_file,
    read_recbole,
)
from reportgen.data.sources import (
    ML100K,
    ML100K_URL,
    SOURCE_DOWNLOAD,
    SOURCE_FASTAI_CACHE,
    SOURCE_PATH,
    Downloader,
    download_with_fastai,
)
from reportgen.data.titles import cap_titles, clean_titles, with_cut_note
from reportgen.data.types import DbData, OwnData, Ratings
from reportgen.errors import DataNotFoundError, InputError, setting

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd


log = logging.getLogger(__name__)

ITEM_KEYS = ("title", "id")
DUPLICATE_POLICIES = ("last", "error")
MIN_ITEMS = 3
KEY_BITS = 62  # a (user, item) key and its row, packed into one int64 to sort (`repeated_pairs`)
SORT_SLICE, MAX_SORT_THREADS = 1 << 20, 8  # that sort: a slice of at least 1M values per thread


def load(
    source: Path | OwnData | DbData | None = None,
    download: Downloader | None = download_with_fastai,
    *,
    item_key: str = "title",
    duplicates: str = "last",
) -> Ratings:
    """Read ratings: an own file, a database's query, a GroupLens folder/zip, or the first source of ml-100k.

    `download=None` forbids the network step. `item_key` says what the model
    treats as one item; `duplicates` what to do with repeated (user, item) pairs:
    keep the `last` rating of each, or raise (`error`).
    """
    if isinstance(source, OwnData):  # one file, or a folder or glob of Parquet parts
        raw = read_parquet_parts(source) if is_parts(source.ratings) else read_ratings_file(source)
    elif isinstance(source, DbData):
        raw = read_database(source)
    elif source is not None:
        raw = read_grouplens(source, source=SOURCE_PATH)
    else:
        raw = _load_ml100k(download)
    return finalise(raw, item_key=item_key, duplicates=duplicates)


def _load_ml100k(download: Downloader | None) -> Ratings:
    """The first of fastai's cache, the recbole copy and a download that has ml-100k."""
    cache = sources.fastai_data_dir() / ML100K
    if sources.is_grouplens_dir(cache):
        return read_grouplens(cache, source=SOURCE_FASTAI_CACHE)
    recbole = sources.recbole_data_dir()
    if recbole is not None and sources.is_recbole_dir(recbole):
        return read_recbole(recbole)
    failure = f"downloading is turned off ({setting('offline')})"
    if download is not None:
        log.info("ml-100k not found locally; downloading %s", ML100K_URL)
        try:
            fetched = download()
        except Exception as exc:  # network errors come in many types; all mean the same here
            failure = f"the download failed ({type(exc).__name__}: {exc})"
        else:
            return read_grouplens(fetched, source=SOURCE_DOWNLOAD)
    raise DataNotFoundError(sources.not_found_message(failure))


def finalise(ratings: Ratings, *, item_key: str = "title", duplicates: str = "last") -> Ratings:
    """Apply the item key and the duplicate policy, check there is enough to learn from."""
    import pandas as pd

    name = ratings.provenance.ratings_file
    frame = ratings.frame
    notes = list(ratings.notes)
    repeated = repeated_pairs(frame)
    n_repeated = int(repeated.sum())
    if n_repeated and duplicates == "error":
        first = frame.index[pd.Series(_pair_keys(frame)).duplicated(keep="first").to_numpy().argmax()]
        row = frame.loc[first]
        raise InputError(
            f"{name}: {n_repeated} duplicate (user, item) pair(s), first repeated at {ratings.row_word} {first} "
            f"(user {row['user']}, item {row['item']}); pass {setting('duplicates')} last to keep the last rating of each"
        )
    if n_repeated:
        frame = frame[~repeated]
        notes.append(f"{n_repeated} duplicate (user, item) pair(s): kept the last rating of each")

    if item_key == "id":
        labels, n_cut = _id_labels(frame["item"], frame["title"])
        frame = frame.assign(title=labels)
        if n_cut:
            notes = with_cut_note(notes, n_cut)
    elif item_key != "title":
        raise InputError(f"item key must be 'title' or 'id', not {item_key!r}")

    n_items = frame["title"].nunique()
    if n_items < MIN_ITEMS:
        raise InputError(f"{name}: only {n_items} distinct item(s); at least {MIN_ITEMS} are needed")
    single_users = int((_counts(frame["user"]) == 1).sum())
    single_items = int((_counts(frame["title"]) == 1).sum())
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


# --------------------------------------------------------------------------- helpers


def _codes(column: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes (any width) of a column and how many distinct values they index (categorical or not)."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), len(column.cat.categories)
    codes, uniques = pd.factorize(column)
    return codes, len(uniques)


def _pair_keys(frame: pd.DataFrame) -> np.ndarray:
    """One int64 per (user, item) pair: equal pairs, equal keys (a new array, the caller's to change)."""
    import numpy as np

    users, _ = _codes(frame["user"])
    items, n_items = _codes(frame["item"])
    keys = users.astype(np.int64)
    keys *= max(n_items, 1)  # in place: one int64 array for the whole table
    keys += items
    return keys


def repeated_pairs(frame: pd.DataFrame) -> np.ndarray:
    """True for each rating whose (user, item) pair comes again in a later row: what `duplicates="last"` drops.

    Each pair's key and its row are packed into one int64 (the key in the high bits)
    and sorted in place: equal pairs end up side by side, in the order of their rows,
    so all but the last of each run are repeats. A sort walks memory in order; one
    hash table of 100M pairs misses the CPU's cache on nearly every rating and takes
    several times as long (and twice the memory). Where key and row do not fit in
    `KEY_BITS` bits together, pandas' hash table does it.
    """
    import numpy as np
    import pandas as pd

    keys = _pair_keys(frame)
    n = len(keys)
    row_bits = max(1, (n - 1).bit_length())
    if n == 0 or int(keys.max()).bit_length() + row_bits > KEY_BITS:
        return pd.Series(keys, copy=False).duplicated(keep="last").to_numpy()
    keys <<= row_bits
    keys |= np.arange(n, dtype=np.int64)
    _sort_in_place(keys)  # by pair, then by row
    last = np.empty(n, dtype=bool)  # the last row of each run of one pair
    last[-1] = True
    for start in range(0, n - 1, SORT_SLICE):  # a slice at a time: no second int64 array of every pair
        end = min(start + SORT_SLICE, n - 1)
        np.not_equal(keys[start + 1 : end + 1] >> row_bits, keys[start:end] >> row_bits, out=last[start:end])
    keys &= (1 << row_bits) - 1  # the rows, in that order
    repeated = np.zeros(n, dtype=bool)
    repeated[keys[~last]] = True
    return repeated


def _sort_in_place(values: np.ndarray) -> None:
    """Sort distinct int64s in place on every core: a slice per core at once (numpy lets go of the GIL
    while it sorts), then one merge of the sorted slices (timsort finds them as runs). Distinct values
    have one order, so the result is the same whatever the number of cores."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    slices = min(machine.cores(), MAX_SORT_THREADS, len(values) // SORT_SLICE)
    if slices < 2:
        values.sort()
        return
    cuts = np.linspace(0, len(values), slices + 1).astype(np.int64)
    with ThreadPoolExecutor(slices) as pool:
        list(pool.map(lambda i: values[cuts[i] : cuts[i + 1]].sort(), range(slices)))
    values.sort(kind="stable")  # a merge of `slices` sorted runs


def _counts(column: pd.Series) -> np.ndarray:
    """How many ratings each value that occurs has."""
    import numpy as np

    codes, n = _codes(column)
    counts = np.bincount(codes if not len(codes) or codes.min() >= 0 else codes[codes >= 0], minlength=n)
    return counts[counts > 0]


def _id_labels(item: pd.Series, title: pd.Series) -> tuple[pd.Categorical, int]:
    """`Title [id]` where an item's title is not its id, so items sharing a title stay apart.

    The id shown is cleaned and cut as it is where it is the label (`titles`); the label is
    cut like every title (`titles.cap_titles`: a long id makes a long label); the second
    value is how many labels were cut. Computed once per distinct (item, title) pair, so
    the cost is one pass over the ratings.
    """
    import numpy as np
    import pandas as pd

    item_codes, _ = _codes(item)
    title_codes, n_titles = _codes(title)
    item_codes = item_codes.astype(np.int64)
    pair_codes, pairs = pd.factorize(item_codes * max(n_titles, 1) + title_codes)
    item_values = _values(item)[pairs // max(n_titles, 1)]
    title_values = _values(title)[pairs % max(n_titles, 1)]
    ids = np.array([str(v) for v in item_values], dtype=object)
    labels = np.array([str(v) for v in title_values], dtype=object)
    shown = cap_titles(clean_titles(pd.Series(ids, dtype=object)))[0].to_numpy()  # an id as it labels an item
    joined, n_cut = cap_titles(pd.Series(np.where(labels == shown, labels, labels + " [" + shown + "]"), dtype=object))
    label_codes, uniques = pd.factorize(joined.to_numpy(), sort=True)
    categorical = pd.Categorical.from_codes(label_codes[pair_codes], categories=pd.Index(uniques, dtype="str"))
    return categorical, n_cut


def _values(column: pd.Series) -> np.ndarray:
    """The distinct values `_codes` indexes, in code order."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.categories, dtype=object)
    return np.asarray(pd.factorize(column)[1], dtype=object)
