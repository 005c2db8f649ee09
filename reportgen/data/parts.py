"""A folder or glob of Parquet parts (`--ratings exports/ratings/`, `'exports/*.parquet'`) as one ratings table.

The parts are taken in the order of their paths relative to the folder (the glob's
fixed leading folders), compared as text, never in the file system's listing order,
so the rows, the split and the SHA-256 are the same wherever the folder is copied.
Hive partitions (`day=2026-01-01/part-0.parquet`) are columns like the file's own:
integers where every part's value is one, else text. Files and folders whose names
start with `_` or `.` (`_SUCCESS`, `.part-0.crc`, `_temporary/`) are not parts. A folder
and a glob are found by one walk (`os.scandir`, the glob's pieces matched by `fnmatch`):
each folder listed once, a link never followed (one to a folder the walk would enter is
refused, so a glob never leaves its folder nor loops), at most `MAX_ENTRIES` entries.
Every part is opened as `files` opens any input (a regular file; a symbolic link is
refused, not followed), and all must have the same columns of the same types.

The SHA-256 is over each part in that order: its relative path (UTF-8), a NUL byte,
its size in bytes as decimal digits, a NUL byte, then its bytes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from reportgen.data.blocks import checked_text
from reportgen.data.cells import require_columns
from reportgen.data.files import CHUNK, UnreadableFile, open_fd, open_regular, refusal, utf8_named
from reportgen.data.readers import own_layout, own_ratings
from reportgen.data.sources import SOURCE_FILE
from reportgen.data.tables import read_arrow
from reportgen.data.types import OwnData, Provenance, Ratings
from reportgen.errors import InputError

WILDCARDS = re.compile(r"[*?[]")
BATCH = 1 << 20  # rows per batch, as one file is read
MAX_ENTRIES = 1_000_000  # files and folders a folder or glob may hold below its fixed folders


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
    where, given = str(spec.ratings), Path(spec.ratings)
    base, parts = find_parts(given)
    label = (  # named without the folders above: `ratings/`, `exports/2026-*/*.parquet`
        f"{base.name}/" if given.is_dir() else "/".join(filter(None, (base.name, given.relative_to(base).as_posix())))
    )
    utf8_named(given, label)
    layout = own_layout(spec, where)
    keys, types = _partition_types(parts)
    schema, casts = _common_schema(where, parts, keys)
    found = list(schema) + keys
    wanted = [c for c in (layout.user, layout.item, layout.rating, layout.time) if c is not None]
    require_columns(where, wanted, found, settings=layout.settings())
    columns = [c for c in wanted + ([layout.title] if layout.title in found else []) if c in schema]
    read = read_arrow(lambda: _batches(parts, columns, keys, types, casts), layout)
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
        base, pattern = given, ["**", "*"]
    else:
        fixed = []
        for piece in given.parts:
            if WILDCARDS.search(piece):
                break
            fixed.append(piece)
        base = Path(*fixed) if fixed else Path(".")
        pattern = list(given.parts[len(fixed) :])
    matched = _walk(given, base, pattern) if base.is_dir() else []
    if not matched and not given.is_dir():
        raise InputError(f"{given}: no file matches this pattern")
    parts = []
    for relative, path in matched:
        if not path.name.lower().endswith(".parquet"):
            continue
        utf8_named(path, relative)  # the checksum hashes it in UTF-8
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


def _walk(given: Path, base: Path, pattern: list[str]) -> list[tuple[str, Path]]:
    """Every file below `base` whose path relative to it matches `pattern` (its pieces: `fnmatch` patterns,
    `**` any number of folders), with that relative path; names starting with `_` or `.` are skipped.

    Each folder is listed once and a link is never followed: one to a folder the pattern would
    enter is refused (a linked folder could lead outside `base`, or back into it for ever). The
    files come sorted by their relative paths, so any error names the same file on every copy.
    At most `MAX_ENTRIES` entries are looked at, else one error.
    """
    last = len(pattern) - 1
    seen = 0
    found: list[tuple[str, Path]] = []
    links: list[tuple[str, Path]] = []  # linked folders on the way: the first (by relative path) is named
    stack = [(base, "", _onwards(pattern, {0}))]
    while stack:
        folder, relative, states = stack.pop()
        for entry in _listing(folder):
            seen += 1
            if seen > MAX_ENTRIES:
                raise InputError(
                    f"{given}: more than {MAX_ENTRIES:,} files and folders to look through below {base}; "
                    "name a narrower folder or pattern"
                )
            if entry.name.startswith(("_", ".")):
                continue
            inner, matches = set(), False
            for at in states:
                if pattern[at] == "**":
                    inner.add(at)
                    matches = matches or at == last
                elif fnmatch.fnmatchcase(entry.name, pattern[at]):
                    matches = matches or at == last
                    if at < last:
                        inner.add(at + 1)
            path = Path(folder, entry.name)
            if inner and _is_folder(entry):
                if entry.is_symlink():
                    links.append((relative + entry.name, path))
                else:
                    stack.append((path, f"{relative}{entry.name}/", _onwards(pattern, inner)))
            elif matches:
                found.append((relative + entry.name, path))
    if links:
        raise UnreadableFile(min(links)[1], "is a symbolic link, not followed")
    return sorted(found)


def _listing(folder: Path) -> Iterator[os.DirEntry[str]]:
    """The entries of `folder`, one at a time; a folder that cannot be listed is one error."""
    try:
        with os.scandir(folder) as entries:
            yield from entries
    except OSError as exc:
        raise UnreadableFile(folder, f"cannot be listed ({exc.strerror or exc})") from exc


def _onwards(pattern: list[str], states: set[int]) -> frozenset[int]:
    """`states` (the pattern's pieces a name may match next) with those after a `**`, which may match no folder."""
    states = set(states)
    for at in sorted(states):
        while pattern[at] == "**" and at + 1 < len(pattern):
            at += 1
            states.add(at)
    return frozenset(states)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether `entry` is a folder, or a link to one (looked at, not followed); a broken or looping link is not."""
    try:
        return entry.is_dir()
    except OSError:
        return False


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


def _common_schema(where: str, parts: list[Part], keys: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts' one schema (column -> Arrow type), and the type to read a column as where the parts'
    types differ only as `same_kind` allows (text as large_string, bytes as large_binary); a column
    missing or of another kind in a part is refused."""
    first: dict[str, Any] | None = None
    casts: dict[str, Any] = {}
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
                casts[column] = _widest(same_kind(schema[column]))
            if same_kind(schema[column]) != same_kind(first[column]):
                raise InputError(
                    f"{where}: the parts differ: column '{column}' is {first[column]} in {first_part.relative} "
                    f"but {schema[column]} in {part.relative}"
                )
        clash = [k for k in keys if k in schema]
        if clash:
            raise InputError(f"{part.relative}: column '{clash[0]}' is in the file and a partition folder too")
    assert first is not None
    return first, casts


def same_kind(arrow_type: Any) -> Any:
    """The type a part's column is compared by: a Parquet text (UTF8) column as `string` and a bytes column
    as `binary`, whether a writer gave it as large_string (pandas 3), string (pandas 2), a view or a
    dictionary (a categorical, its indices as wide as its categories need)."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    return arrow_type


def _widest(kind: Any) -> Any:
    """The type every part's values of this kind are read as, where the parts differ: large, so nothing overflows."""
    import pyarrow as pa

    return {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}.get(kind, kind)


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


def _batches(
    parts: list[Part], columns: list[str], keys: list[str], numbers: dict[str, bool], casts: dict[str, Any]
) -> Iterator[Any]:
    """Each part's batches in order, its partition values added as columns, `casts` applied (one type a column)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in parts:
        values = dict(part.partitions)
        try:
            with _opened(part) as handle:
                read = pq.ParquetFile(handle).iter_batches(batch_size=BATCH, columns=columns)
                for batch in checked_text(read, lambda row, path=part.path: f"{path}: row {row}"):
                    n = batch.num_rows
                    arrays, names = list(batch.columns), list(batch.schema.names)
                    arrays = [
                        a.cast(casts[c]) if c in casts and a.type != casts[c] else a for a, c in zip(arrays, names)
                    ]
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
