"""Load stage: ratings from MovieLens 100k, the user's own file or database, as one checked `Ratings` table.

The public face of the stage; its modules, lowest first (a module imports only those
before it, tests/test_architecture.py holds the order):

- `files`: opening input files safely (regular files only, .gz/.zip under one decompression guard, text sniffed),
  the one SHA-256 streamer
- `documents`: the one bounded reader of JSON, TOML and the kept weights (report.json, --config, model.json)
- `titles`: the one title cleaner (control characters out, length capped)
- `sources`: where ML-100k comes from, in order (`--data`, fastai's cache, the recbole wheel, a download)
- `types`: `Ratings` and its frame contract, `Provenance`, `OwnData`
- `times`: rating times as int64 epoch seconds (epoch numbers, ISO dates and date-times, Parquet timestamps)
- `cells`: single cells checked (blank, ids, the line a value stands on)
- `tables`: typed, checked columns in bounded memory (pyarrow's fast read, the careful read that names a bad line)
- `readers`: the three layouts (GroupLens, recbole, own exports) into `Ratings`
- `dburl`: a database URL as text: the one redactor of every line that shows one
- `dbsession`: a database read's session, and every driver failure as one line without a secret
- `database`: ratings from an SQL database (SQLite, PostgreSQL) through SQLAlchemy, read-only, streamed, hashed by row
- `dataset`: the dataset policy (item key, duplicates, enough to learn from) and `load`

Importing this package loads neither pandas nor pyarrow: `reportgen datasets` answers fast.
"""

from reportgen.data.dataset import DUPLICATE_POLICIES, ITEM_KEYS, MIN_ITEMS, finalise, load
from reportgen.data.sources import CITATION, ML100K, Downloader, candidates, data_path_problem, download_with_fastai
from reportgen.data.types import DatabaseRead, DbData, OwnData, Provenance, Ratings

__all__ = [
    "CITATION",
    "DatabaseRead",
    "DbData",
    "DUPLICATE_POLICIES",
    "ITEM_KEYS",
    "MIN_ITEMS",
    "ML100K",
    "Downloader",
    "OwnData",
    "Provenance",
    "Ratings",
    "candidates",
    "data_path_problem",
    "download_with_fastai",
    "finalise",
    "load",
]
