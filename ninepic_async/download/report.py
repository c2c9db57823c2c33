"""What a download run returns: one :class:`FileResult` per photo and a :class:`DownloadReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(slots=True)
class DownloadReport:
    """Totals of a run. ``bytes`` counts bytes received this run; ``failures`` lists every failed file."""

    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    elapsed_s: float = 0.0
    failures: list[FileResult] = field(default_factory=list)
    manifest_path: str | None = None

    def add(self, result: FileResult) -> None:
        """Count one outcome (byte totals are added by the pool as bytes arrive)."""
        if result.status == "ok":
            self.downloaded += 1
        elif result.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
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
