"""``--progress json``: a download's progress as JSON Lines events on stderr, for wrappers and services.

One JSON object per line, each with a ``type`` (schema version :data:`SCHEMA_VERSION`; new
fields and types may be added, existing ones keep their meaning):

- ``{"type": "start", "schema": 1, "command": "download", "label": "event 456"}``
- ``{"type": "planned", "files": 120}`` (``null`` while the selection's size is unknown)
- ``{"type": "file_started", "image_id": ..., "size": 2048 | null, "offset": 0}``
- ``{"type": "file_finished", "image_id": ..., "status": "ok"|"skipped"|"failed", "file": ...,
  "bytes": ..., "error": ...}``
- ``{"type": "retry", "scope": "file", "image_id": ..., "delay_s": ..., "error": ...}``
- ``{"type": "retry", "scope": "api", "reason": "connection"|"timeout"|"rate_limited"|"server_error",
  "retry": 2, "max_retries": 5, "delay_s": 1.6, "status": 503 | null, "message": "API unreachable, ..."}``
- ``{"type": "summary", "downloaded", "skipped", "failed", "not_found", "missing", "unverified",
  "announced", "bytes", "elapsed_s", "manifest", "exit_status"}``: the last line of a run that ended
  (none when it was interrupted or failed as a whole: then the last line is an ``error``)
- ``{"type": "note" | "warning" | "error", "message": ...}`` and ``{"type": "log", "level", "logger",
  "message"}``: what would otherwise be human lines on stderr

``BytesReceived`` is not reported (one per network chunk); ``file_finished`` carries the bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..download import BytesReceived, DownloadEvent, FileFinished, FileRetrying, FileStarted, PlannedEvent
from ..retry_notice import RetryNotice
from .output import Output

if TYPE_CHECKING:
    from ..download import DownloadReport

__all__ = ["SCHEMA_VERSION", "JsonProgress", "api_retry_event", "summary_event"]

SCHEMA_VERSION = 1


def api_retry_event(notice: RetryNotice) -> dict[str, Any]:
    """The ``retry`` event (scope ``api``) of one API retry notice."""
    return {
        "type": "retry",
        "scope": "api",
        "reason": notice.reason,
        "retry": notice.retry,
        "max_retries": notice.max_retries,
        "delay_s": round(notice.delay_s, 3),
        "status": notice.status,
        "message": notice.describe(),
    }


def summary_event(report: DownloadReport, exit_status: int) -> dict[str, Any]:
    """The closing ``summary`` event: the report's totals and the exit status the command returns."""
    return {
        "type": "summary",
        "downloaded": report.downloaded,
        "skipped": report.skipped,
        "failed": report.failed,
        "not_found": report.not_found,
        "missing": report.missing,
        "unverified": report.unverified,
        "announced": report.announced,
        "bytes": report.bytes,
        "elapsed_s": round(report.elapsed_s, 3),
        "manifest": report.manifest_path,
        "exit_status": exit_status,
    }


class JsonProgress:
    """The downloader's ``on_event`` callback for ``--progress json`` (a context manager, like the bar)."""

    def __init__(self, output: Output, *, label: str, command: str = "download") -> None:
        self.output = output
        self.label = label
        self.command = command

    def __enter__(self) -> JsonProgress:
        self.output.event(
            {"type": "start", "schema": SCHEMA_VERSION, "command": self.command, "label": self.label}
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __call__(self, event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived):
            return
        if isinstance(event, FileStarted):
            self.output.event(
                {
                    "type": "file_started",
                    "image_id": event.image_id,
                    "size": event.size,
                    "offset": event.offset_bytes,
                }
            )
        elif isinstance(event, FileFinished):
            r = event.result
            self.output.event(
                {
                    "type": "file_finished",
                    "image_id": r.image_id,
                    "status": r.status,
                    "file": r.file,
                    "bytes": r.bytes,
                    "error": r.error,
                }
            )
        elif isinstance(event, FileRetrying):
            self.output.event(
                {
                    "type": "retry",
                    "scope": "file",
                    "image_id": event.image_id,
                    "delay_s": round(event.delay_s, 3),
                    "error": event.error,
                }
            )
        elif isinstance(event, PlannedEvent):
            self.output.event({"type": "planned", "files": event.total_files})

    def api_retry(self, notice: RetryNotice) -> None:
        """An API request will be sent again (listing, URL refresh): a ``retry`` event of scope ``api``."""
        self.output.event(api_retry_event(notice))
