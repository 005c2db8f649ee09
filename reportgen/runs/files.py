"""The one way reportgen opens, reads and removes anything inside the output folder: never through a link.

The output folder itself is the user's (it may be a link they made); everything below
it is reportgen's, and a symbolic link there is never followed, whoever planted it:
each path component is opened with `O_NOFOLLOW` relative to its parent's descriptor
(`dir_fd`), so a link swapped in anywhere on the way is refused, not followed. What is
read must be a plain file (a FIFO would hang, /dev/zero never ends) under a size cap;
what is removed is removed through its parent's descriptor by `shutil.rmtree`, which
never recurses through a link. A refused link raises `FollowError`, an `OSError`
saying what the link points to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from reportgen.data.documents import read_opened

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class FollowError(OSError):
    """A symbolic link (or something that is not a folder) where reportgen's own file or folder goes."""


def describe_link(path: Path) -> str:
    """`a symbolic link to /etc/passwd, not followed` (or `a symbolic link, not followed` if unreadable)."""
    try:
        return f"a symbolic link to {os.readlink(path)}, not followed"
    except OSError:
        return "a symbolic link, not followed"


def is_real_dir(path: Path) -> bool:
    """A folder, and not a link to one (`lstat`)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def opened_dir(root: Path, relative: str | PurePath = ".") -> Iterator[int]:
    """A descriptor of folder `root/relative`, each component of `relative` opened without following a link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in PurePath(relative).parts:
            if part in (".", ""):
                continue
            child = _child(fd, part)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _child(parent: int, name: str) -> int:
    """Folder `name` in `parent`; ELOOP (a link) or ENOTDIR (a link or a file where a folder goes) as `FollowError`."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FollowError(
                exc.errno, f"{name} is not a folder of reportgen's (a link or a file, not followed)"
            ) from exc
        raise


def open_in(root: Path, relative: str | PurePath, flags: int, mode: int = 0o644) -> int:
    """`os.open(root/relative, flags | O_NOFOLLOW)`, its folders opened without following links either.

    A link as the last component raises `FollowError` naming its target; so does one on the way.
    """
    relative = PurePath(relative)
    with opened_dir(root, relative.parent) as parent:
        try:
            return os.open(relative.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FollowError(exc.errno, f"{describe_link(root / relative)}") from exc
            raise


def read_in(root: Path, relative: str | PurePath, limit: int, what: str) -> bytes:
    """The bytes of plain file `root/relative`, never through a link (`FollowError`), read by the one bounded reader.

    `what` names the kind of file in messages ("a report.json"); a special or oversized file is `UnreadableFile`.
    """
    fd = open_in(root, relative, os.O_RDONLY | os.O_NONBLOCK)
    return read_opened(fd, Path(root) / relative, limit, what)


def entries(root: Path, relative: str | PurePath = ".") -> list[str]:
    """The names in folder `root/relative` (not followed if a link: `FollowError`)."""
    with opened_dir(root, relative) as fd:
        return sorted(os.listdir(fd))


def remove_in(root: Path, relative: str | PurePath) -> None:
    """Delete `root/relative` (a folder with all it holds, or a file or link itself), never through a link.

    The parent is reached without following links; a folder is removed by `shutil.rmtree`
    through that descriptor, which refuses a link and never recurses through one.
    """
    relative = PurePath(relative)
    with opened_dir(root, relative.parent) as parent:
        if stat.S_ISDIR(os.lstat(relative.name, dir_fd=parent).st_mode):
            shutil.rmtree(relative.name, dir_fd=parent)
        else:
            os.unlink(relative.name, dir_fd=parent)
