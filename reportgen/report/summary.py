"""What the report says about the data it read (`summarise`): names, sizes and checksums, never a folder.

The report is attached to reviews: a file is named by its name alone (a zip member as
`archive.zip!member`), a folder of Parquet parts by its name and how many, a database by
its name and the SHA-256 of its rows as read (data/sqlrows.py).
"""

from __future__ import annotations

from pathlib import Path

from reportgen.data.files import sha256_file
from reportgen.data.types import Ratings
from reportgen.report.types import DataFile, DatasetSummary


def summarise(ratings: Ratings) -> DatasetSummary:
    """What the report says about the data: file names, sizes and checksums, but no folder of this machine."""
    p = ratings.provenance
    if p.database is not None:  # no file: the database by name, the SHA-256 of the rows read
        files = [DataFile("ratings", p.database.name, None, p.sha256)]
    elif p.parts:  # a folder or glob of Parquet parts: by its name, how many parts and their size
        files = [DataFile("ratings", f"{p.name} ({p.parts} Parquet parts)", p.size, p.sha256)]
    else:
        files = [data_file("ratings", p.ratings_file, p.sha256)]
    if p.items_file and p.items_file != p.ratings_file:
        files.append(data_file("titles", p.items_file))
    return DatasetSummary(
        name=p.name,
        source=p.source,
        location=p.location if p.database is not None else Path(p.location.partition("!")[0]).name or p.location,
        files=tuple(files),
        columns=p.columns,
        database=p.database,
        n_ratings=ratings.n_ratings,
        n_users=ratings.n_users,
        n_items=ratings.n_items,
        n_titles=ratings.n_titles,
        item_key=ratings.item_key,
        duplicates_dropped=ratings.duplicates_dropped,
    )


def data_file(role: str, where: str, sha256: str | None = None) -> DataFile:
    """A file by name (zip members as `archive.zip!member`), with its size and SHA-256 (streamed, if not given)."""
    outer, _, member = where.partition("!")
    path = Path(outer)
    name = path.name + (f"!{member}" if member else "")
    if member or not path.is_file():
        return DataFile(role, name, None, sha256 or "")
    return DataFile(role, name, path.stat().st_size, sha256 or sha256_file(path))
