"""The files reportgen reads whole: JSON and TOML documents and the kept weights, each bounded.

An earlier run's report.json (the comparison, `--compare-with`, the history page,
`reportgen render`), a `--config` file, the kept model's model.json and
model.safetensors are all read here and only here: a regular file only (`files.open_fd`:
a FIFO or a device is refused at once, never opened blocking), at most a stated number
of bytes, JSON and TOML nested at most `MAX_DEPTH` deep, every number finite. What
breaks a bound is one `files.UnreadableFile` naming the file and what is wrong, so
nothing after the reader meets a RecursionError, an infinity or a read without end.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from reportgen.data.files import CHUNK, UnreadableFile, open_fd, refusal, size_text

MAX_DEPTH = 32  # report.json nests 6 deep, model.json 2, a config file 2: deeper is no file of ours
# The most bytes read from each kind of file, far above what reportgen writes, far below what hurts:
REPORT_BYTES = 16 << 20  # a report.json is at most 1 MB at any data (the writer's promise)
CONFIG_BYTES = 1 << 20  # a --config file holds a few dozen settings
MODEL_JSON_BYTES = 256 << 20  # the vocabularies: MovieLens 25M's 222,000 ids take 2 MB
PREVIEW = 24  # characters of an offending number quoted in a message


class _NotFinite:
    """What the parser makes of a number no finite float can be (1e400, NaN, 10**400): `literal`, as written.

    Kept in the document, not raised at once, so that the tree walk names where it is.
    """

    def __init__(self, literal: str) -> None:
        self.literal = literal if len(literal) <= PREVIEW else f"{literal[:PREVIEW]}… ({len(literal)} characters)"


def _float(literal: str) -> float | _NotFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NotFinite(literal)


def _int(literal: str) -> int | _NotFinite:
    """An integer a float can hold: anything larger is an infinity to every reader of the value."""
    if len(literal.lstrip("-")) > 309:  # more digits than sys.float_info.max: not even converted
        return _NotFinite(literal)
    value = int(literal)
    return value if abs(value) <= sys.float_info.max else _NotFinite(literal)


def read_bytes(path: Path, limit: int, what: str, *, follow: bool = True) -> bytes:
    """A regular file's bytes, at most `limit` of them; `UnreadableFile` for anything else.

    `what` names the kind of file in the message ("a report.json"); `follow=False`
    refuses a symbolic link rather than reading where it points.
    """
    return read_opened(open_fd(path, follow=follow), path, limit, what)


def read_opened(fd: int, path: object, limit: int, what: str) -> bytes:
    """The bytes behind `fd` (opened O_NONBLOCK by the caller, closed here), refused unless a regular file within `limit`.

    The one bounded read: `read_bytes` opens by path, `runs.files.read_in` inside the output folder without following links.
    """
    try:
        refused = refusal(path, os.fstat(fd).st_mode)
        if refused is not None:
            raise refused
        size = os.fstat(fd).st_size
        blocks, total = [], 0
        while size <= limit and total <= limit and (block := os.read(fd, min(CHUNK, limit + 1 - total))):
            blocks.append(block)
            total += len(block)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    if max(size, total) > limit:
        raise UnreadableFile(
            path, f"is {max(size, total):,} bytes, more than {size_text(limit)}, the most read from {what}"
        )
    return b"".join(blocks)


def _text(data: bytes, name: object) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc


def _check_tree(doc: Any, name: object) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or holding a number that is not finite, named by key path.

    Walked without recursion; only containers are stacked, so a long list of strings costs one pass.
    """
    stack: list[tuple[Any, int, str]] = [([doc], 0, "")]  # the document as the one child of a root
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise UnreadableFile(name, f"nests deeper than {MAX_DEPTH} levels, which no file of reportgen's does")
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in pairs:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1, _at(where, key, value, depth)))
            elif isinstance(child, _NotFinite) or (
                isinstance(child, int) and not isinstance(child, bool) and abs(child) > sys.float_info.max
            ):
                literal = child.literal if isinstance(child, _NotFinite) else _NotFinite(str(child)).literal
                place = _at(where, key, value, depth) or "the document"
                raise UnreadableFile(name, f"{place}: {literal} is not a finite number")


def _at(where: str, key: object, parent: Any, depth: int) -> str:
    """The key path of a child: `metrics.valid_mse`, `items[3].bias`; "" for the document itself."""
    if depth == 0:
        return ""
    if isinstance(parent, list):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def loads_json(text: str | bytes, name: object) -> Any:
    """A JSON document, checked: finite numbers only, nested at most MAX_DEPTH; `UnreadableFile` naming `name`."""
    if isinstance(text, bytes):
        text = _text(text, name)
    try:
        doc = json.loads(text, parse_float=_float, parse_int=_int, parse_constant=_NotFinite)  # NaN, Infinity
    except json.JSONDecodeError as exc:
        raise UnreadableFile(name, f"is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise UnreadableFile(name, f"nests deeper than {MAX_DEPTH} levels, which no file of reportgen's does") from None
    _check_tree(doc, name)
    return doc


def read_json(path: Path, limit: int, what: str, *, follow: bool = True) -> Any:
    """The JSON document in `path` (`read_bytes`, then `loads_json`)."""
    return loads_json(read_bytes(path, limit, what, follow=follow), path)


def read_toml(path: Path, limit: int = CONFIG_BYTES) -> dict[str, Any]:
    """The TOML document in `path`, checked like JSON: a regular file, bounded, finite, nested at most MAX_DEPTH."""
    import tomllib

    text = _text(read_bytes(path, limit, "a config file"), path)
    try:
        doc = tomllib.loads(text, parse_float=_float)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4,300 digits
        raise UnreadableFile(path, f"is not valid TOML ({exc})") from None
    except RecursionError:
        raise UnreadableFile(path, f"nests deeper than {MAX_DEPTH} levels, which no file of reportgen's does") from None
    _check_tree(doc, path)
    return doc
