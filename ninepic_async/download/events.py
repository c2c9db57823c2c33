"""Progress events a download emits through its ``on_event`` callback.

The callback is called synchronously from the download tasks, so keep it cheap (a progress
bar update); :class:`BytesReceived` arrives once per network chunk, every other event at most
once per photo attempt or API call. An exception raised by the callback aborts the run and
reaches the caller as itself (unwrapped). For counters rather than a stream, pass a
:class:`~.stats.DownloadMonitor` (and read ``client.stats`` for the API calls).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from .archive_report import EventArchiveReport
from .report import FileResult
from .stats import FileRetryReason

__all__ = [
    "ArchiveEvent",
    "ArchiveEventCallback",
    "ArchivePlanned",
    "BytesReceived",
    "DownloadEvent",
    "EventArchiveFinished",
    "EventArchiveStarted",
    "EventCallback",
    "FileFinished",
    "FileRetrying",
    "FileStarted",
    "PlannedEvent",
    "UrlsRefreshed",
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
class FileFinished:
    """A photo is done: downloaded, skipped or failed."""

    result: FileResult


@dataclass(frozen=True, slots=True)
class FileRetrying:
    """An attempt at ``image_id`` failed (``error`` says how) and the photo is fetched again after
    ``delay_s`` seconds, resuming what the ``.part`` holds; ``reason`` is one of
    :data:`~.stats.FileRetryReason`. Counted in ``DownloadStats.retries``."""

    image_id: str
    reason: FileRetryReason
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class UrlsRefreshed:
    """One ``original-photos`` call renewed presigned URLs: ``renewed`` of the ``requested`` photos
    got a fresh URL (the others fail with the API's reason)."""

    requested: int
    renewed: int


DownloadEvent = Union[  # noqa: UP007
    PlannedEvent, FileStarted, BytesReceived, FileFinished, FileRetrying, UrlsRefreshed
]
EventCallback = Callable[[DownloadEvent], object]


# --- an archive's events (archive_events: around each event's own download events) ---------


@dataclass(frozen=True, slots=True)
class ArchivePlanned:
    """The events the archive will download, in order (after the date filter)."""

    event_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EventArchiveStarted:
    """Event ``event_id`` (``number`` of ``total``, from 1) starts downloading into ``folder``;
    its per-file events follow until :class:`EventArchiveFinished`."""

    event_id: int
    folder: str
    name: str | None
    number: int
    total: int


@dataclass(frozen=True, slots=True)
class EventArchiveFinished:
    """Event ``report.event_id`` is done (ok, partial or failed: see ``report.status``)."""

    report: EventArchiveReport
    number: int
    total: int


ArchiveEvent = Union[ArchivePlanned, EventArchiveStarted, EventArchiveFinished]  # noqa: UP007
ArchiveEventCallback = Callable[[Union[DownloadEvent, ArchiveEvent]], object]  # noqa: UP007
"""``on_event`` of :func:`archive_events`: archive events and, between an event's start and
finish, that event's per-file download events."""
