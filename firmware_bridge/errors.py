"""Errors raised by :mod:`firmware_bridge`.

Every error derives from :class:`BridgeError`, so a caller can catch the whole package with one clause.
Subclasses carry the data a caller needs to react (the file, the version, the byte offset, ...) as
attributes, and their message is one sentence that names the file or device, says what went wrong and
what to do about it. Only the command line turns these errors into exit codes and printed messages.

Hierarchy::

    BridgeError
    └── JournalError                 .path
        ├── JournalNotFoundError
        ├── JournalExistsError
        ├── JournalClosedError
        ├── JournalIOError           .action, .reason
        └── JournalFormatError       .offset
            └── JournalVersionError  .version, .supported_version
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BridgeError",
    "JournalClosedError",
    "JournalError",
    "JournalExistsError",
    "JournalFormatError",
    "JournalIOError",
    "JournalNotFoundError",
    "JournalVersionError",
]


class BridgeError(Exception):
    """Base class for every :mod:`firmware_bridge` error."""


class JournalError(BridgeError):
    """A recording journal (``.ncr`` file) could not be written or read.

    Attributes
    ----------
    path : pathlib.Path
        The journal file concerned.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(message)
        self.path = Path(path)


class JournalNotFoundError(JournalError):
    """The journal file to read does not exist."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, f"journal file {os.fspath(path)} does not exist; check the path and try again")


class JournalExistsError(JournalError):
    """A new journal was asked for at a path that already exists; journals are never overwritten."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            path,
            f"{os.fspath(path)} already exists and recordings are never overwritten; "
            "choose a new file name or move the old recording away first",
        )


class JournalClosedError(JournalError):
    """A record was written to a journal that is already closed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            path, f"journal {os.fspath(path)} is already closed; open a new JournalWriter to keep recording"
        )


class JournalIOError(JournalError):
    """The operating system refused to create, write, sync or read a journal file.

    Attributes
    ----------
    action : str
        What was being done: ``"create"``, ``"write"``, ``"sync"``, ``"close"`` or ``"read"``.
    reason : str
        The operating system's explanation (for example ``"No space left on device"``).
    """

    def __init__(self, path: str | os.PathLike[str], action: str, reason: str) -> None:
        hint = (
            "check the file's owner and permissions"
            if action == "read"
            else "check that the disk is present, writable and not full"
        )
        super().__init__(path, f"cannot {action} journal {os.fspath(path)} ({reason}); {hint}")
        self.action = action
        self.reason = reason


class JournalFormatError(JournalError):
    """The file is not a NightCramp journal, or its header is damaged beyond use.

    A truncated or torn *tail* is not an error: the reader returns every complete record before it.

    Attributes
    ----------
    offset : int or None
        Byte offset of the problem in the (decompressed) file, when there is one.
    """

    def __init__(self, path: str | os.PathLike[str], message: str, *, offset: int | None = None) -> None:
        super().__init__(path, message)
        self.offset = offset


class JournalVersionError(JournalFormatError):
    """The journal was written in a newer (or invalid) format version than this code reads.

    Attributes
    ----------
    version : int
        The format version declared by the file.
    supported_version : int
        The newest format version this code reads.
    """

    def __init__(self, path: str | os.PathLike[str], version: int, supported_version: int) -> None:
        if version > supported_version:
            message = (
                f"{os.fspath(path)} is a version {version} journal but this NightCramp reads versions up to "
                f"{supported_version}; upgrade NightCramp to open it"
            )
        else:
            message = (
                f"{os.fspath(path)} declares journal format version {version}, which does not exist; "
                "the file is damaged or was not written by NightCramp"
            )
        super().__init__(path, message, offset=8)
        self.version = version
        self.supported_version = supported_version
