"""A download run's counters: :class:`DownloadMonitor` (live, read while it runs) and its frozen
snapshot :class:`DownloadStats` (also ``report.stats`` at the end).

The numbers have one owner each: the report counts files by outcome and bytes received, the URL
refresher its calls, the monitor the rest (files in flight, bytes resumed or skipped, retries);
the monitor's :meth:`~DownloadMonitor.snapshot` reads them all at one instant.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, get_args

from .._exceptions import RequestValidationError
from .policy import Setback

if TYPE_CHECKING:
    from .report import DownloadReport

__all__ = ["FILE_RETRY_REASONS", "DownloadMonitor", "DownloadStats", "FileRetryReason"]

FileRetryReason = Setback
"""Why a photo is fetched again: ``transient`` (connection error, 5xx, cut body, too slow, no new
bytes), ``progress`` (the same, after the attempt added bytes: it resumes), ``integrity`` (the
body was not the photo: restarts from byte 0), ``proactive_refresh`` (its URL was about to
expire), ``expired_refresh`` (the store said its URL expired)."""

FILE_RETRY_REASONS: tuple[FileRetryReason, ...] = get_args(Setback)


def _no_retries() -> dict[FileRetryReason, int]:
    return dict.fromkeys(FILE_RETRY_REASONS, 0)


@dataclass(frozen=True, slots=True)
class DownloadStats:
    """What one download run has done so far (a snapshot: ``monitor.snapshot()``, ``report.stats``).

    - ``files_announced``: photos the selection holds, once the API said (else None);
      ``files_ok`` / ``files_skipped`` / ``files_failed``: outcomes so far (as in the report);
      ``files_active``: photos a worker is fetching (or re-checking) now.
    - ``bytes_downloaded``: bytes received from the store this run; ``bytes_resumed``: bytes
      ``.part`` files of an earlier run already held when this run resumed them (not fetched
      again); ``bytes_skipped``: sizes of the photos skipped as already complete.
    - ``retries``: photo attempts made again, by :data:`FileRetryReason`.
    - ``url_refresh_calls``: ``original-photos`` calls made to renew presigned URLs;
      ``urls_refreshed`` / ``url_refresh_failures``: photos whose URL they renewed / could not.
    - ``slow_loop_writes``: writes on the event loop's thread that took longer than
      ``DOWNLOAD_SLOW_LOOP_WRITE_S``, each of which sent the run's writes to threads for a pause
      (see ``DownloadOptions.write_on_loop``): how often a slow disk held the loop.
    - ``elapsed_s``: seconds since the run started (to its end, once ended); ``running``.

    The API calls themselves (retries, 429 pauses) are counted on the client: ``client.stats``.
    """

    files_announced: int | None = None
    files_ok: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    files_active: int = 0
    bytes_downloaded: int = 0
    bytes_resumed: int = 0
    bytes_skipped: int = 0
    retries: Mapping[FileRetryReason, int] = field(default_factory=_no_retries)
    url_refresh_calls: int = 0
    urls_refreshed: int = 0
    url_refresh_failures: int = 0
    slow_loop_writes: int = 0
    elapsed_s: float = 0.0
    running: bool = False

    @property
    def files_done(self) -> int:
        """Photos with an outcome (ok, skipped or failed)."""
        return self.files_ok + self.files_skipped + self.files_failed

    @property
    def total_retries(self) -> int:
        """Retries of every reason."""
        return sum(self.retries.values())


class RefreshCounts(Protocol):
    """What the monitor reads of a run's URL refresher (:class:`~.urls.UrlRefresher`)."""

    calls: int
    urls_renewed: int
    urls_failed: int


class SlowWriteCounts(Protocol):
    """What the monitor reads of a run's loop writes (:class:`~.lanes.LoopWrites`)."""

    slow_writes: int


class DownloadMonitor:
    """A window onto ONE download run: pass ``monitor=DownloadMonitor()`` to a download function (or
    ``client.download_originals``) and call :meth:`snapshot` whenever you like, from the same event
    loop, while it runs and after it ends. A monitor watches one run: giving it to a second raises
    :class:`RequestValidationError`.

    Its attributes are plain numbers the run updates in place (no locks, no per-chunk work).
    """

    __slots__ = (
        "_ended_s",
        "_loop_writes",
        "_refresher",
        "_report",
        "_started_s",
        "bytes_resumed",
        "bytes_skipped",
        "files_active",
        "retries",
    )

    def __init__(self) -> None:
        self.files_active = 0
        self.bytes_resumed = 0
        self.bytes_skipped = 0
        self.retries: dict[FileRetryReason, int] = _no_retries()
        self._report: DownloadReport | None = None
        self._refresher: RefreshCounts | None = None
        self._loop_writes: SlowWriteCounts | None = None
        self._started_s: float | None = None
        self._ended_s: float | None = None

    def __repr__(self) -> str:
        state = "unused" if self._started_s is None else "running" if self._ended_s is None else "ended"
        return f"DownloadMonitor({state})"

    @property
    def started(self) -> bool:
        """Whether a run has started with this monitor (it cannot watch another)."""
        return self._started_s is not None

    def check_unused(self) -> None:
        """Raise :class:`RequestValidationError` if a run has already started with this monitor."""
        if self._started_s is not None:
            raise RequestValidationError("monitor", "already watches another download; give each run its own")

    def attach(self, report: DownloadReport, refresher: RefreshCounts | None) -> None:
        """Called by the run as it starts: from now on the monitor reads this run's owners."""
        self.check_unused()
        self._report, self._refresher = report, refresher
        self._started_s = time.monotonic()

    def watch_writes(self, loop_writes: SlowWriteCounts) -> None:
        """Called by the run once its destination is open: the monitor reads its slow writes."""
        self._loop_writes = loop_writes

    def detach(self) -> None:
        """Called by the run as it ends (finished, failed or cancelled): the figures stop moving."""
        if self._started_s is not None and self._ended_s is None:
            self._ended_s = time.monotonic()
            self.files_active = 0

    def snapshot(self) -> DownloadStats:
        """The run's figures at this instant (all zero before it starts)."""
        report = self._report
        if report is None or self._started_s is None:
            return DownloadStats()
        refresher = self._refresher
        end_s = time.monotonic() if self._ended_s is None else self._ended_s
        return DownloadStats(
            files_announced=report.announced,
            files_ok=report.downloaded,
            files_skipped=report.skipped,
            files_failed=report.failed,
            files_active=self.files_active,
            bytes_downloaded=report.bytes,
            bytes_resumed=self.bytes_resumed,
            bytes_skipped=self.bytes_skipped,
            retries=dict(self.retries),
            url_refresh_calls=0 if refresher is None else refresher.calls,
            urls_refreshed=0 if refresher is None else refresher.urls_renewed,
            url_refresh_failures=0 if refresher is None else refresher.urls_failed,
            slow_loop_writes=0 if self._loop_writes is None else self._loop_writes.slow_writes,
            elapsed_s=end_s - self._started_s,
            running=self._ended_s is None,
        )
