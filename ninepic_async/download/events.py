"""Progress events a download emits through its ``on_event`` callback.

The callback is called synchronously from the download tasks, so keep it cheap (a progress
bar update); :class:`BytesReceived` arrives once per network chunk. An exception raised by
the callback aborts the run and reaches the caller as itself (unwrapped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from .report import FileResult

__all__ = [
    "BytesReceived",
    "DownloadEvent",
    "EventCallback",
    "FileFinished",
    "FileRetrying",
    "FileStarted",
    "PlannedEvent",
]


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """How many photos the selection holds (skipped ones included), once known; ``None`` if unknown."""

    total_files: int | None


@dataclass(frozen=True, slots=True)
class FileStarted:
    """The store answered for ``image_id``: ``size`` is the full object size in bytes if known,
    ``offset_bytes`` how much of it a resumed ``.part`` already holds. Sent once per file."""

    image_id: str
    size: int | None
    offset_bytes: int = 0


@dataclass(frozen=True, slots=True)
class BytesReceived:
    """``n`` more bytes of ``image_id`` arrived and were queued for writing."""

    image_id: str
    n: int


@dataclass(frozen=True, slots=True)
class FileRetrying:
    """An attempt at ``image_id`` failed in a way worth another (cut body, 5xx, expired URL, ...):
    the next starts after ``delay_s`` seconds, resuming what the ``.part`` holds."""

    image_id: str
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class FileFinished:
    """A photo is done: downloaded, skipped or failed."""

    result: FileResult


DownloadEvent = Union[PlannedEvent, FileStarted, BytesReceived, FileRetrying, FileFinished]  # noqa: UP007
EventCallback = Callable[[DownloadEvent], object]
