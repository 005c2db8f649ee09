"""Opening input files safely: regular files only, text that looks like a table, hashed as streamed.

Every file the load stage reads passes here first, so a FIFO, a device, a sparse
or binary file, or a header no ratings table has is refused with one line,
quickly and in bounded memory, before a parser sees it. `open_fd` is the one way
a file is opened for reading (stat, a non-blocking open, fstat), here and in
`documents`. A .gz or .zip is read through the one decompression guard
(`Expansion`): however far a small file would expand, it is refused within one
64 MiB window of output.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import gzip
import hashlib
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from reportgen.errors import InputError, setting

CHUNK = 1 << 20  # bytes per read when hashing, counting lines or checking the encoding
HEAD = 1 << 16  # the first block, sniffed for NUL bytes and byte-order marks
MAX_HEADER_BYTES = 1 << 20  # a first line longer than this is no ratings header
MAX_COLUMNS = 2000  # nor is one with more columns than this
COMPRESSED = (".gz", ".zip")
# What a compressed file may expand to (`Expansion`). A real 25M-rating CSV (MovieLens 25M's ratings.csv)
# is about 650 MB and compresses 4 to 6 times under deflate; a table of random ids only 3 times (a
# 29M-row, 722 MB one: 243 MB as .gz). Deflate's own maximum is 1032 times, which only repetition
# reaches: blank lines, one long field, one row over and over.
MAX_RATIO = 100  # ten times the most regular real table, a tenth of deflate's maximum
WINDOW = 64 << 20  # the ratio is judged over each 64 MiB that comes out: a bomb costs at most one window
# Decompressed per read: zipfile reads as many compressed bytes ahead (gzip 128 KiB), so a window sees 256 steps.
STEP = 256 << 10
# The most bytes any one compressed file may expand to: six times a 25M-rating CSV, so every genuine
# export we know passes. A larger table can still be read uncompressed (no cap on plain files).
MAX_EXPANDED_BYTES = 4 << 30
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
NO_SUCH_FILE = "no such file"  # `UnreadableFile.problem` of a path where nothing is


class UnreadableFile(InputError):
    """A file refused before or while reading it: `path`, and `problem`, what is wrong, without the path."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular one is ("a folder", "a FIFO"…); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket or other special file"


def refusal(path: object, mode: int) -> UnreadableFile | None:
    """Why a file of this mode is not read (a folder, a FIFO, a device, a socket), or None for a regular file."""
    kind = special_kind(mode)
    if kind is None:
        return None
    return UnreadableFile(path, "is a folder, not a file" if kind == "a folder" else f"is {kind}, not a regular file")


def _os_problem(path: Path, exc: OSError, *, follow: bool) -> UnreadableFile:
    if isinstance(exc, FileNotFoundError):
        return UnreadableFile(path, NO_SUCH_FILE)
    if not follow and exc.errno == errno.ELOOP:
        return UnreadableFile(path, "is a symbolic link, not followed")
    return UnreadableFile(path, f"cannot read ({exc.strerror or exc})")


def regular_file(path: Path) -> Path:
    """`path` if it is a regular file (symlinks followed); refused without opening it otherwise.

    Opening a FIFO blocks until a writer appears, and a device such as /dev/zero
    never ends, so neither is ever opened.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _os_problem(path, exc, follow=True) from exc
    refused = refusal(path, mode)
    if refused is not None:
        raise refused
    utf8_named(Path(path))
    return Path(path)


def utf8_named(path: Path, name: str | None = None) -> None:
    """`UnreadableFile` where `name` (the file's own name unless given), which the report shows, is not
    valid UTF-8: Python holds such bytes as surrogates that report.json cannot write, after the whole run."""
    try:
        (path.name if name is None else name).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnreadableFile(path, "is not named in valid UTF-8, in which the report names it; rename it") from exc


def open_fd(path: Path, *, follow: bool = True) -> int:
    """A read-only descriptor of `path`, a regular file, or `UnreadableFile` (one line).

    Checked twice: by `stat` before opening (a device is never opened), and by
    `fstat` on what was opened, with O_NONBLOCK so that a FIFO swapped in between
    is refused at once instead of waiting for a writer. `follow=False`: a
    symbolic link (the last part of the path) is refused, not followed.
    """
    path = Path(path)
    try:
        mode = (os.stat(path) if follow else os.lstat(path)).st_mode
    except OSError as exc:
        raise _os_problem(path, exc, follow=follow) from exc
    if not follow and stat.S_ISLNK(mode):
        raise UnreadableFile(path, "is a symbolic link, not followed")
    refused = refusal(path, mode)
    if refused is not None:
        raise refused
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_problem(path, exc, follow=follow) from exc
    refused = refusal(path, os.fstat(fd).st_mode)
    if refused is not None:
        os.close(fd)
        raise refused
    return fd


@contextlib.contextmanager
def open_regular(path: Path, *, follow: bool = True) -> Iterator[IO[bytes]]:
    """A regular file opened for reading (`open_fd`); OS refusals become one-line `InputError`s."""
    with os.fdopen(open_fd(path, follow=follow), "rb") as handle:
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


class Expansion(io.RawIOBase):
    """The decompressed bytes of a .gz or a zip member, refused past the limits while they stream.

    After every `WINDOW` bytes out, the compressed bytes read for them (`consumed()`,
    a position in the compressed file) must be at least 1/`MAX_RATIO` of them; and
    no more than `MAX_EXPANDED_BYTES` come out in all. So a bomb is refused after
    one window, however far it would expand, and whatever came before it.
    """

    def __init__(self, stream: IO[bytes], name: str, consumed: Callable[[], int]) -> None:
        super().__init__()
        self.stream, self.name, self.consumed = stream, name, consumed
        self.expanded = 0
        self.window_end, self.window_start = WINDOW, consumed()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # A step at a time, so the compressed bytes read ahead for one step stay small beside a window.
        n = self.stream.readinto(memoryview(buffer)[:STEP])  # type: ignore[attr-defined]
        self.expanded += n
        if self.expanded > MAX_EXPANDED_BYTES:
            raise too_large(self.name)
        if self.expanded >= self.window_end:
            now = self.consumed()
            if (self.expanded - self.window_end + WINDOW) > MAX_RATIO * max(1, now - self.window_start):
                raise too_compressed(self.name)
            self.window_end, self.window_start = self.expanded + WINDOW, now
        return n


def size_text(n: int) -> str:
    """A limit in bytes as people say it: `4 GiB`, `64 MiB`; `65,620 bytes` where it is no round number."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,} bytes"


def too_large(name: str) -> InputError:
    return InputError(
        f"{name}: expands to more than {size_text(MAX_EXPANDED_BYTES)}, the most reportgen decompresses "
        "from one file; decompress it yourself if it really is a table of ratings"
    )


def too_compressed(name: str) -> InputError:
    return InputError(
        f"{name}: expands more than {MAX_RATIO} times its compressed size, which no table of ratings does "
        "(they compress 3 to 10 times); refused as a decompression bomb"
    )


@contextlib.contextmanager
def open_zip_member(path: Path, member: str | None = None) -> Iterator[IO[bytes]]:
    """The bytes of `member` of a zip (None: its one file), guarded like every compressed input (`Expansion`).

    The one way a zip member is opened. A password-protected member, or one compressed by
    a method Python cannot decompress, is bad input said as such. A zip states each member's sizes, and zipfile never gives more than the stated
    size, so a member stated past the limits is refused before any is decompressed.
    """
    with open_regular(path) as raw, zipfile.ZipFile(raw) as archive:
        if member is None:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(f"{path}: expected exactly one file in the zip, found {len(members)}")
            member = members[0]
        info = archive.getinfo(member)
        if info.flag_bits & 0x1:
            raise InputError(f"{path}: {member} is encrypted (a password-protected zip); extract it first")
        if info.file_size > MAX_EXPANDED_BYTES:
            raise too_large(str(path))
        if info.file_size >= WINDOW and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise too_compressed(str(path))
        try:
            opened = archive.open(info)
        except NotImplementedError as exc:  # Deflate64 and other methods Python cannot decompress
            raise InputError(f"{path}: cannot decompress {member} ({exc})") from exc
        with opened as stream:
            guarded = Expansion(stream, str(path), lambda: raw.tell() - info.header_offset)
            with io.BufferedReader(guarded, CHUNK) as reader:
                yield reader


@contextlib.contextmanager
def open_text_source(path: Path) -> Iterator[IO[bytes]]:
    """The bytes of a file's table: the file itself, or the one member of its .gz or .zip (guarded)."""
    kind = compression(path)
    try:
        if kind == ".zip":
            with open_zip_member(path) as stream:
                yield stream
            return
        with open_regular(path) as raw:
            if kind == ".gz":
                with gzip.GzipFile(fileobj=raw) as unpacked:
                    with io.BufferedReader(Expansion(unpacked, str(path), raw.tell), CHUNK) as stream:
                        yield stream
            else:
                yield raw
    except (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot decompress ({exc})") from exc


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


class Tally(io.RawIOBase):
    """A binary stream passed through as it is read: its lines counted, an empty line noticed, its bytes hashed.

    So one pass over a file serves the parser, the line count (a row's line is known)
    and the SHA-256 (`hashed`: only where the stream is the file's own bytes).
    """

    def __init__(self, stream: IO[bytes], *, hashed: bool = False) -> None:
        super().__init__()
        self.stream, self.newlines, self.empty, self.last = stream, 0, False, b""
        self.digest = hashlib.sha256() if hashed else None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        block = self.stream.read(-1 if size is None else size)
        if block:
            self.newlines += block.count(b"\n")
            if not self.empty:
                joined = self.last[-2:] + block[:2]
                self.empty = b"\n\n" in block or b"\n\r\n" in block or b"\n\n" in joined or b"\n\r\n" in joined
            self.last = block[-2:]
            if self.digest is not None:
                self.digest.update(block)
        return block

    def readinto(self, buffer: Any) -> int:
        block = self.read(len(buffer))
        memoryview(buffer)[: len(block)] = block
        return len(block)

    @property
    def lines(self) -> int:
        """Physical lines so far: newlines, plus one for a last line without its newline."""
        return self.newlines + (1 if self.last[-1:] not in (b"", b"\n") else 0)

    def sha256(self) -> str:
        assert self.digest is not None
        return self.digest.hexdigest()


def count_lines(stream: IO[bytes]) -> tuple[int, bool]:
    """Physical lines in a stream (newlines, plus one for a last line without its newline), and whether one is empty.

    An empty line (`\\n\\n` or `\\n\\r\\n`, within a block or across two) is found in the same pass.
    """
    tally = Tally(stream)
    while tally.read(CHUNK):
        pass
    return tally.lines, tally.empty
