"""A folder or glob of Parquet parts (`--ratings exports/ratings/`, `'exports/*.parquet'`) as one ratings table.

The parts are taken in the order of their paths relative to the folder (the glob's
fixed leading folders), compared as text, never in the file system's listing order,
so the rows, the split and the SHA-256 are the same wherever the folder is copied.
Hive partitions (`day=2026-01-01/part-0.parquet`) are columns like the file's own:
integers where every part's value is one, else text. Files and folders whose names
start with `_` or `.` (`_SUCCESS`, `.part-0.crc`, `_temporary/`) are not parts. Every
part is opened as `files` opens any input (a regular file; a symbolic link is refused,
not followed), and all must have the same columns of the same types.

The SHA-256 is over each part in that order: its relative path (UTF-8), a NUL byte,
its size in bytes as decimal digits, a NUL byte, then its bytes.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from reportgen.data.cells import require_columns
from reportgen.data.files import CHUNK, UnreadableFile, open_fd, open_regular, refusal
from reportgen.data.readers import own_layout, own_ratings
from reportgen.data.sources import SOURCE_FILE
from reportgen.data.tables import read_arrow
from reportgen.data.types import OwnData, Provenance, Ratings
from reportgen.errors import InputError

WILDCARDS = re.compile(r"[*?[]")
BATCH = 1 << 20  # rows per batch, as one file is read


@dataclass(frozen=True)
class Part:
    relative: str  # the path below the parts' folder, with `/`
    path: Path
    size: int
    partitions: tuple[tuple[str, str], ...]  # (key, value) of each `key=value` folder on the way


def is_parts(path: Path) -> bool:
    """Whether `--ratings` names a folder of parts or a glob pattern (a path that is not there, with a wildcard)."""
    return path.is_dir() or (not os.path.lexists(path) and bool(WILDCARDS.search(str(path))))


def read_parquet_parts(spec: OwnData) -> Ratings:
    """The parts of a folder or glob, in their stable order, as one own ratings table."""
    where = str(spec.ratings)
    base, parts = find_parts(Path(spec.ratings))
    layout = own_layout(spec, where)
    keys, types = _partition_types(parts)
    schema = _common_schema(where, parts, keys)
    found = list(schema) + keys
    wanted = [c for c in (layout.user, layout.item, layout.rating, layout.time) if c is not None]
    require_columns(where, wanted, found, settings=layout.settings())
    columns = [c for c in wanted + ([layout.title] if layout.title in found else []) if c in schema]
    read = read_arrow(lambda: _batches(parts, columns, keys, types), layout)
    given = Path(spec.ratings)  # named without the folders above: `ratings/`, `exports/2026-*/*.parquet`
    label = (
        f"{base.name}/" if given.is_dir() else "/".join(filter(None, (base.name, given.relative_to(base).as_posix())))
    )
    provenance = Provenance(
        name=label,
        source=SOURCE_FILE,
        location=str(base),
        ratings_file=where,
        sha256=parts_sha256(parts),
        parts=len(parts),
        size=sum(p.size for p in parts),
    )
    return own_ratings(spec, read, provenance, row_word="row")


def find_parts(given: Path) -> tuple[Path, list[Part]]:
    """The folder the parts are named from, and the parts in the order of their relative paths."""
    if given.is_dir():
        base, paths = given, _walk(given)
    else:
        fixed = []
        for piece in given.parts:
            if WILDCARDS.search(piece):
                break
            fixed.append(piece)
        base = Path(*fixed) if fixed else Path(".")
        matched = glob.glob(str(given), recursive=True)
        if not matched:
            raise InputError(f"{given}: no file matches this pattern")
        paths = [Path(p) for p in matched if p.lower().endswith(".parquet")]
    parts = []
    for path in paths:
        relative = path.relative_to(base).as_posix()
        if any(piece.startswith(("_", ".")) for piece in relative.split("/")):
            continue
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise UnreadableFile(path, "is a symbolic link, not followed")
        refused = refusal(path, mode)
        if refused is not None:
            raise refused
        folders = relative.split("/")[:-1]
        pairs = (folder.partition("=") for folder in folders)
        partitions = tuple((key, unquote(value)) for key, equals, value in pairs if equals and key)
        parts.append(Part(relative, path, os.lstat(path).st_size, partitions))
    if not parts:
        raise InputError(f"{given}: no Parquet file (*.parquet) {'in it' if given.is_dir() else 'matches'}")
    parts.sort(key=lambda p: p.relative)
    return base, parts


def parts_sha256(parts: list[Part]) -> str:
    """The SHA-256 of the parts (see the module's docstring)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.relative.encode("utf-8") + b"\0" + str(part.size).encode() + b"\0")
        with open_regular(part.path, follow=False) as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    return digest.hexdigest()


def _walk(folder: Path) -> list[Path]:
    """Every `*.parquet` below `folder`; a linked folder is refused, never followed."""
    found = []
    for root, folders, files in os.walk(folder, followlinks=False):
        for name in folders:
            if not name.startswith(("_", ".")) and os.path.islink(os.path.join(root, name)):
                raise UnreadableFile(Path(root, name), "is a symbolic link, not followed")
        folders[:] = [f for f in folders if not f.startswith(("_", "."))]
        found += [Path(root, f) for f in files if f.lower().endswith(".parquet")]
    return found


def _partition_types(parts: list[Part]) -> tuple[list[str], dict[str, bool]]:
    """The partition keys (every part must have the same) and whether each key's values are all integers."""
    keys = [k for k, _ in parts[0].partitions]
    for part in parts[1:]:
        if [k for k, _ in part.partitions] != keys:
            raise InputError(
                f"{parts[0].relative} and {part.relative}: different partition folders "
                f"({', '.join(keys) or 'none'} against {', '.join(k for k, _ in part.partitions) or 'none'})"
            )
    numbers = {k: all(re.fullmatch(r"-?\d{1,18}", dict(p.partitions)[k]) for p in parts) for k in keys}
    return keys, numbers


def _common_schema(where: str, parts: list[Part], keys: list[str]) -> dict[str, Any]:
    """The parts' one schema (column -> Arrow type); a column missing or of another type in a part is refused."""
    first: dict[str, Any] | None = None
    for part in parts:
        schema = dict(zip(*_schema(part)))
        if first is None:
            first, first_part = schema, part
        for column in sorted(set(first) | set(schema)):
            if column not in schema or column not in first:
                has, lacks = (first_part, part) if column in first else (part, first_part)
                raise InputError(
                    f"{where}: the parts differ: {has.relative} has column '{column}', {lacks.relative} has not"
                )
            if schema[column] != first[column]:
                raise InputError(
                    f"{where}: the parts differ: column '{column}' is {first[column]} in {first_part.relative} "
                    f"but {schema[column]} in {part.relative}"
                )
        clash = [k for k in keys if k in schema]
        if clash:
            raise InputError(f"{part.relative}: column '{clash[0]}' is in the file and a partition folder too")
    assert first is not None
    return first


def _schema(part: Part) -> tuple[list[str], list[Any]]:
    import pyarrow.parquet as pq

    try:
        with _opened(part) as handle:
            schema = pq.ParquetFile(handle).schema_arrow
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise InputError(f"{part.path}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc
    return list(schema.names), list(schema.types)


def _opened(part: Part) -> Any:
    return os.fdopen(open_fd(part.path, follow=False), "rb")


def _batches(parts: list[Part], columns: list[str], keys: list[str], numbers: dict[str, bool]) -> Iterator[Any]:
    """Each part's batches in order, its partition values added as columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in parts:
        values = dict(part.partitions)
        try:
            with _opened(part) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=BATCH, columns=columns):
                    n = batch.num_rows
                    arrays, names = list(batch.columns), list(batch.schema.names)
                    for key in keys:
                        if numbers[key]:
                            arrays.append(pa.array(np.full(n, int(values[key]), dtype=np.int64)))
                        else:
                            indices = pa.array(np.zeros(n, dtype=np.int32))
                            arrays.append(pa.DictionaryArray.from_arrays(indices, pa.array([values[key]])))
                        names.append(key)
                    yield pa.RecordBatch.from_arrays(arrays, names=names)
        except InputError:
            raise
        except Exception as exc:  # a damaged part
            raise InputError(f"{part.path}: cannot read the Parquet file ({type(exc).__name__}: {exc})") from exc
