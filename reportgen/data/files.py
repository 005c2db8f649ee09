"""Opening input files safely: regular files only, text that looks like a table, hashed as streamed.

Every file the load stage reads passes here first, so a FIFO, a device, a sparse
or binary file, or a header no ratings table has is refused with one line,
quickly and in bounded memory, before a parser sees it.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from reportgen.errors import InputError, setting

CHUNK = 1 << 20  # bytes per read when hashing, counting lines or checking the encoding
HEAD = 1 << 16  # the first block, sniffed for NUL bytes and byte-order marks
MAX_HEADER_BYTES = 1 << 20  # a first line longer than this is no ratings header
MAX_COLUMNS = 2000  # nor is one with more columns than this
COMPRESSED = (".gz", ".zip")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def regular_file(path: Path) -> Path:
    """`path` if it is a regular file (symlinks followed); refused without opening it otherwise.

    Opening a FIFO blocks until a writer appears, and a device such as /dev/zero
    never ends, so neither is ever opened.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        if stat.S_ISFIFO(mode):
            kind = "a FIFO"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = "a device"
        else:
            kind = "a socket or other special file"
        raise InputError(f"{path}: is {kind}, not a regular file")
    return Path(path)


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[IO[bytes]]:
    """A regular file opened for reading; OS refusals become one-line `InputError`s."""
    regular_file(path)
    try:
        handle = Path(path).open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        yield handle


def sha256_stream(stream: IO[bytes]) -> str:
    """The SHA-256 of what is left in a binary stream, read in chunks so memory stays flat: the one streamer."""
    digest = hashlib.sha256()
    while block := stream.read(CHUNK):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a regular file's bytes (what `sha256sum` prints)."""
    with open_regular(path) as handle:
        return sha256_stream(handle)


def compression(path: Path) -> str | None:
    """ ".gz" or ".zip" if the name says the file is compressed."""
    suffix = path.suffix.lower()
    return suffix if suffix in COMPRESSED else None


@contextlib.contextmanager
def open_text_source(path: Path) -> Iterator[IO[bytes]]:
    """The bytes of a file's table: the file itself, or the one member of its .gz or .zip."""
    kind = compression(path)
    with open_regular(path) as raw:
        try:
            if kind == ".gz":
                with gzip.GzipFile(fileobj=raw) as stream:
                    yield stream
            elif kind == ".zip":
                with zipfile.ZipFile(raw) as archive:
                    members = [m for m in archive.namelist() if not m.endswith("/")]
                    if len(members) != 1:
                        raise InputError(f"{path}: expected exactly one file in the zip, found {len(members)}")
                    with open_zip_member(archive, members[0], path) as stream:
                        yield stream
            else:
                yield raw
        except (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            raise InputError(f"{path}: cannot decompress ({exc})") from exc


def open_zip_member(archive: zipfile.ZipFile, member: str, path: Path) -> IO[bytes]:
    """A member of a zip, opened for reading; one line naming the zip when it cannot be read.

    A password-protected member or one compressed by a method Python cannot decompress
    (Deflate64, …) is bad input, said as such rather than as zipfile's RuntimeError or
    NotImplementedError.
    """
    info = archive.getinfo(member)
    if info.flag_bits & 0x1:
        raise InputError(f"{path}: {member} is encrypted (a password-protected zip); extract it first")
    try:
        return archive.open(info)
    except NotImplementedError as exc:
        raise InputError(f"{path}: cannot decompress {member} ({exc})") from exc


def is_wide(encoding: str) -> bool:
    """UTF-16/32: NUL bytes are normal, and a newline is not one byte."""
    return encoding.lower().replace("_", "-").startswith(("utf-16", "utf16", "utf-32", "utf32"))


def check_text_head(head: bytes, name: str, encoding: str, sep: str | None, *, at_end: bool) -> None:
    """Refuse what is not a delimited text table, from its first bytes only.

    `head` is the start of the (decompressed) file, up to MAX_HEADER_BYTES + 1
    bytes; `at_end` says whether it holds the whole file. Checks: a UTF-16
    byte-order mark when another encoding was asked for, NUL bytes (binary or
    sparse files), a first line longer than MAX_HEADER_BYTES, more than
    MAX_COLUMNS columns.
    """
    wide = is_wide(encoding)
    if not wide and head.startswith(UTF16_BOMS):
        raise InputError(
            f"{name}: not valid {encoding}: the file starts with a UTF-16 byte-order mark "
            f"(0x{head[0]:02x} 0x{head[1]:02x}); pass {setting('encoding')} utf-16 if that is the file's encoding"
        )
    if not wide:  # NUL bytes are normal in UTF-16/32
        nul = head.find(b"\0", 0, HEAD)
        if nul >= 0:
            raise InputError(f"{name}: not a text file (a NUL byte at offset {nul}); expected a table of ratings")
    try:
        text = head.decode(encoding, errors="replace")
    except LookupError as exc:
        raise InputError(f"{name}: unknown text encoding {encoding!r}") from exc
    end = text.find("\n")
    if end < 0 and not at_end or end > MAX_HEADER_BYTES:
        raise InputError(
            f"{name}: the first line is longer than {MAX_HEADER_BYTES // (1 << 20)} MiB; "
            "expected a table of ratings with a header"
        )
    first = text[: end if end >= 0 else len(text)]
    if sep is None:
        return
    if sep == r"\s+":
        columns = len(first.split())
    elif len(sep) == 1:
        columns = first.count(sep) + 1
    else:
        try:
            columns = len(re.split(sep, first))
        except re.error:
            return  # not a valid pattern: the parser says so
    if columns > MAX_COLUMNS:
        raise InputError(
            f"{name}: the first line has {columns} columns, more than {MAX_COLUMNS}; expected a table of ratings"
        )


def check_encoding(stream: IO[bytes], name: str, encoding: str) -> None:
    """Decode the whole stream incrementally; the first bad byte is named by its offset in the file."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as exc:
        raise InputError(f"{name}: unknown text encoding {encoding!r}") from exc
    consumed = 0
    while True:
        block = stream.read(CHUNK)
        pending = decoder.getstate()[0]
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            data = pending + block
            offset = consumed - len(pending) + exc.start
            hint = (
                f"; pass {setting('encoding')} latin-1 if that is the file's encoding"
                if encoding.lower() != "latin-1"
                else ""
            )
            byte = f"byte 0x{data[exc.start]:02x} at offset {offset}"
            raise InputError(f"{name}: not valid {encoding} ({byte}){hint}") from exc
        except UnicodeError as exc:  # not about one byte: a UTF-16 file without its byte-order mark
            raise InputError(
                f"{name}: not valid {encoding} ({exc}); pass {setting('encoding')} utf-16-le or utf-16-be for UTF-16 "
                "without a byte-order mark, or the file's own encoding (utf-8 for plain ASCII)"
            ) from exc
        if not block:
            return
        consumed += len(block)


def count_lines(stream: IO[bytes]) -> int:
    """Physical lines in a stream: newlines, plus one for a last line without its newline."""
    lines, last = 0, b""
    while block := stream.read(CHUNK):
        lines += block.count(b"\n")
        last = block[-1:]
    return lines + (1 if last not in (b"", b"\n") else 0)
