"""The instrumentation interface: how a tracer (OpenTelemetry, or your own) observes a client.

Set ``client.instrumentation`` to an object with these two methods (``ninepic_async.otel.instrument``
does it for OpenTelemetry). The client calls :meth:`Instrumentation.api_call` as each API call
starts and the downloader calls :meth:`Instrumentation.file_download` as a worker takes a photo;
each returns an observer told of retries and of the end. Hooks run synchronously in the event
loop (never once per network chunk), so keep them cheap; an exception a hook raises reaches the
caller like any error of the call.

What a hook is given is safe to export: the method and the route *template* (``/{org_id}/event/
{event_id}/ping``), never the API key, a URL, or a query string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .download.report import FileResult

__all__ = ["ApiCallObserver", "ApiRetryReason", "FileObserver", "Instrumentation"]

ApiRetryReason = Literal["timeout", "connection", "server_error", "rate_limited"]
"""Why an API call is sent again: its attempt timed out, the connection failed, the API answered
5xx, or it answered 429 (the client then pauses every call; see ``ClientStats``)."""


class ApiCallObserver(Protocol):
    """One API call, from its first attempt to its outcome."""

    def retry(self, reason: ApiRetryReason, delay_s: float) -> None:
        """An attempt failed for ``reason``; the call is sent again after ``delay_s`` seconds."""

    def end(self, status: int | None, error: BaseException | None) -> None:
        """The call is over: ``status`` is the last HTTP status (None when no response arrived),
        ``error`` what it raised (None on success; a cancellation is an error too)."""


class FileObserver(Protocol):
    """One photo of a download, from the moment a worker takes it to its outcome."""

    def end(self, result: FileResult | None, error: BaseException | None) -> None:
        """The photo is done: ``result`` says how (``ok``/``skipped``/``failed``, size, error text),
        or the run stopped while it was in flight (``result`` None, ``error`` why)."""


class Instrumentation(Protocol):
    """Starts an observer per API call and per downloaded photo (see the module docstring)."""

    def api_call(self, method: str, route: str) -> ApiCallObserver:
        """An API call starts: ``method`` (``GET``/``POST``) and ``route``, the path template under
        ``/api/v1/ext`` (ids replaced by ``{org_id}``, ``{event_id}``, ``{bib}``, ``{request_id}``)."""

    def file_download(self, image_id: str) -> FileObserver:
        """A download worker starts fetching (or re-checking) photo ``image_id``."""
