"""What a download run returns: one :class:`FileResult` per photo and a :class:`DownloadReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._constants import DOWNLOAD_MAX_KEPT_FAILURES
from .stats import DownloadStats

__all__ = ["DownloadReport", "FileResult", "FileStatus", "PlannedFile"]

FileStatus = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class FileResult:
    """Outcome of one photo.

    ``file`` is relative to the destination (``None`` when nothing was saved), ``bytes`` the
    file's size for ok/skipped, ``error`` why it failed, ``path`` the API's object path of a
    failed_urls entry when it gave one.
    """

    image_id: str
    status: FileStatus
    file: str | None = None
    bytes: int = 0
    error: str | None = None
    path: str | None = None
    retryable: bool = True
    """For a failure: False when the API or the store said the photo does not exist (no URL
    for it, HTTP 404/410), so running again will not fetch it; True when a rerun may."""
    verified: bool | None = None
    """With ``verify``: True when the bytes were checked against the ETag's MD5 (or, for a file
    already on disk, the manifest's SHA-256); False when there was nothing to check against (a
    multipart ETag): *unverified*. None without ``verify``."""


@dataclass(slots=True)
class DownloadReport:
    """Totals of a run. ``bytes`` counts bytes received this run; ``failures`` lists failed files
    (the first ``DOWNLOAD_MAX_KEPT_FAILURES``; ``failed`` counts them all).

    ``announced``: photos the selection said it holds (None if it never said); ``missing``:
    announced photos the listing never delivered (counted, not in ``failures``: they have no id).
    ``not_found``: failed photos that do not exist (a rerun will not fetch them).
    ``unverified``: files ``verify`` could not check (no plain-MD5 ETag). :attr:`complete` is
    True when every announced photo is on disk. ``stats``: the run's final :class:`DownloadStats`
    (retries by reason, URL refreshes, bytes resumed and skipped...).
    """

    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    not_found: int = 0
    """Of ``failed``: photos the API or store said do not exist (``FileResult.retryable`` False)."""
    missing: int = 0
    unverified: int = 0
    announced: int | None = None
    bytes: int = 0
    elapsed_s: float = 0.0
    failures: list[FileResult] = field(default_factory=list)
    manifest_path: str | None = None
    stats: DownloadStats = field(default_factory=DownloadStats)

    @property
    def complete(self) -> bool:
        """Whether every photo the selection announced is on disk (nothing failed or missing)."""
        return self.failed == 0 and self.missing == 0

    def add(self, result: FileResult) -> None:
        """Count one outcome (byte totals are added by the pool as bytes arrive)."""
        if result.verified is False:
            self.unverified += 1
        if result.status == "ok":
            self.downloaded += 1
        elif result.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            if not result.retryable:
                self.not_found += 1
            if len(self.failures) < DOWNLOAD_MAX_KEPT_FAILURES:
                self.failures.append(result)


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A line of a dry run: what a download would do for one photo, without doing it.

    ``action`` is ``download``, ``skip`` (already complete in the destination) or ``failed``
    (the API gave no URL: ``error``/``path`` say why). ``resume_from_bytes`` > 0 when a
    ``.part`` file would be resumed. URLs are deliberately not included.
    """

    image_id: str
    filename: str | None
    action: Literal["download", "skip", "failed"]
    resume_from_bytes: int = 0
    error: str | None = None
    path: str | None = None
