"""Low-level file operations of the journal writer: exclusive private creation, complete writes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from firmware_bridge.errors import JournalExistsError, JournalIOError

__all__ = ["create_private", "os_reason", "write_all"]

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def os_reason(exc: OSError) -> str:
    """The operating system's explanation of ``exc``, for an error message."""
    return exc.strerror or str(exc)


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write all of ``data``, continuing after partial writes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable (POSIX); best effort, as some file systems refuse it."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_private(path: Path, first: bytes) -> int:
    """Create ``path`` with mode 0600, never replacing anything, write and fsync ``first``; return the fd.

    ``O_EXCL`` also refuses an existing symbolic link, so the journal cannot be redirected elsewhere.
    The umask can only remove permission bits, so the file is never readable by anyone but its owner.
    """
    try:
        fd = os.open(path, _CREATE_FLAGS, 0o600)
    except FileExistsError:
        raise JournalExistsError(path) from None
    except OSError as exc:
        raise JournalIOError(path, "create", os_reason(exc)) from exc
    try:
        write_all(fd, first)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)  # ours (created exclusively) and unusable
        raise JournalIOError(path, "create", os_reason(exc)) from exc
    _fsync_directory(path.parent)
    return fd
