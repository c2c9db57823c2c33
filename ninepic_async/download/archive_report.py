"""What :func:`~.archive.archive_events` returns: one :class:`EventArchiveReport` per event and
an :class:`ArchiveReport` over them (worst status first: ``failed`` > ``partial`` > ``ok``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._exceptions import NinePicError
from .report import DownloadReport

__all__ = ["ArchiveReport", "ArchiveStatus", "EventArchiveReport"]

ArchiveStatus = Literal["ok", "partial", "failed"]
"""An event's outcome: every announced photo on disk, some missing or failed, or not run at all."""
_SEVERITY: dict[ArchiveStatus, int] = {"ok": 0, "partial": 1, "failed": 2}


@dataclass(slots=True)
class EventArchiveReport:
    """One event of an archive: where it went, its counts and its status.

    ``folder`` is relative to the archive's ``out``. ``error`` says why a ``failed`` event did
    not run (or stopped); ``exception`` is that error itself. ``download`` is the event's
    :class:`DownloadReport` when its download ran to the end.
    """

    event_id: int
    folder: str
    name: str | None = None
    event_date: str | None = None
    status: ArchiveStatus = "failed"
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    missing: int = 0
    bytes: int = 0
    error: str | None = None
    download: DownloadReport | None = None
    exception: NinePicError | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class ArchiveReport:
    """An archive run: one :class:`EventArchiveReport` per event, in order, and the totals."""

    out: str
    events: list[EventArchiveReport] = field(default_factory=list)

    @property
    def status(self) -> ArchiveStatus:
        """The worst event status (``ok`` for an archive with no events)."""
        return max((e.status for e in self.events), key=_SEVERITY.__getitem__, default="ok")

    @property
    def complete(self) -> bool:
        """Whether every photo of every event is on disk."""
        return self.status == "ok"

    @property
    def downloaded(self) -> int:
        """Photos downloaded by this run, over all events."""
        return sum(e.downloaded for e in self.events)

    @property
    def skipped(self) -> int:
        """Photos already on disk, over all events."""
        return sum(e.skipped for e in self.events)

    @property
    def failed(self) -> int:
        """Photos that failed, over all events (events that did not run count none)."""
        return sum(e.failed for e in self.events)

    @property
    def bytes(self) -> int:
        """Bytes received by this run, over all events."""
        return sum(e.bytes for e in self.events)
