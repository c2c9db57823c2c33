"""OpenTelemetry tracing for a client (the optional extra: ``pip install 'ninepic-async[otel]'``).

```python
from ninepic_async.otel import instrument
instrument(client)                       # or instrument(client, tracer_provider=provider)
```
Each API call becomes a CLIENT span ``{method} {url.template}`` (``GET /api/v1/ext/{org_id}/event/
{event_id}/ping``) with its status code, retries (``ninepic.api.retries``, and one ``retry`` span
event each, with reason and delay) and error type; each photo a download fetches becomes an
INTERNAL span ``ninepic.download_file`` with its image id, outcome and size. Spans are children of
whatever span is current when the call or the download starts. Attributes never hold the API key,
a URL or a query string: routes are templates and error texts are scrubbed of both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

try:
    from opentelemetry import trace
except ImportError:  # pragma: no cover - exercised by a test that hides the package
    raise ImportError(
        "ninepic_async.otel needs OpenTelemetry: install the extra with pip install 'ninepic-async[otel]'"
    ) from None

from . import __version__
from ._constants import API_PREFIX
from ._exceptions import redact
from .instrumentation import ApiRetryReason

if TYPE_CHECKING:
    from .client import NinePicClient
    from .download.report import FileResult

__all__ = ["OpenTelemetryInstrumentation", "instrument", "scrub"]

_INSTRUMENTATION_NAME = "ninepic_async"
_URL_QUERY = re.compile(r"""(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'"<>]*)\?[^\s#'"<>]*""")


def scrub(text: str) -> str:
    """``text`` without the API key or the query string of any URL in it (presigned signatures)."""
    return _URL_QUERY.sub(r"\1?<query>", redact(text))


def _error_type(error: BaseException, status: int | None) -> str:
    return str(status) if status is not None and status >= 400 else type(error).__name__


class _ApiCallSpan:
    """An API call's span, ended with its outcome."""

    __slots__ = ("_retries", "_span")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._retries = 0

    def retry(self, reason: ApiRetryReason, delay_s: float) -> None:
        self._retries += 1
        self._span.add_event("retry", {"ninepic.retry.reason": reason, "ninepic.retry.delay_s": delay_s})

    def end(self, status: int | None, error: BaseException | None) -> None:
        span = self._span
        span.set_attribute("ninepic.api.retries", self._retries)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if isinstance(error, Exception):
            kind = _error_type(error, status)
            span.set_attribute("error.type", kind)
            span.set_status(trace.Status(trace.StatusCode.ERROR, kind))
        elif error is not None:
            span.set_attribute("ninepic.cancelled", True)  # a cancellation is not a failure of the API
        span.end()


class _FileSpan:
    """A downloaded photo's span, ended with its :class:`FileResult`."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def end(self, result: FileResult | None, error: BaseException | None) -> None:
        span = self._span
        if result is not None:
            span.set_attribute("ninepic.file.outcome", result.status)
            span.set_attribute("ninepic.file.size", result.bytes)
            if result.verified is not None:
                span.set_attribute("ninepic.file.verified", result.verified)
            if result.status == "failed":
                text = scrub(result.error or "failed")
                span.set_attribute("error.type", "download_failed")
                span.set_status(trace.Status(trace.StatusCode.ERROR, text))
        elif isinstance(error, Exception):
            span.set_attribute("ninepic.file.outcome", "aborted")
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(trace.Status(trace.StatusCode.ERROR, scrub(str(error))))
        else:
            span.set_attribute("ninepic.file.outcome", "cancelled")
        span.end()


class OpenTelemetryInstrumentation:
    """An :class:`~ninepic_async.instrumentation.Instrumentation` making OpenTelemetry spans for one
    client (``server.address`` / ``server.port`` are its API's)."""

    def __init__(
        self,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(_INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider)
        self._server: dict[str, str | int] = {}
        if server_address is not None:
            self._server["server.address"] = server_address
        if server_port is not None:
            self._server["server.port"] = server_port

    def api_call(self, method: str, route: str) -> _ApiCallSpan:
        """Start the CLIENT span of one API call (ended by the returned observer)."""
        template = API_PREFIX + route
        span = self._tracer.start_span(
            f"{method} {template}",
            kind=trace.SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.template": template, **self._server},
        )
        return _ApiCallSpan(span)

    def file_download(self, image_id: str) -> _FileSpan:
        """Start the span of one photo a download fetches (ended by the returned observer)."""
        span = self._tracer.start_span(
            "ninepic.download_file", kind=trace.SpanKind.INTERNAL, attributes={"ninepic.image_id": image_id}
        )
        return _FileSpan(span)


def instrument(
    client: NinePicClient, *, tracer_provider: trace.TracerProvider | None = None
) -> OpenTelemetryInstrumentation:
    """Trace ``client``'s API calls and downloads with OpenTelemetry (the global tracer provider
    unless ``tracer_provider`` is given); sets and returns ``client.instrumentation``. Undo with
    ``client.instrumentation = None``."""
    from yarl import URL

    base = URL(client.base_url)
    instrumentation = OpenTelemetryInstrumentation(
        server_address=base.host, server_port=base.port, tracer_provider=tracer_provider
    )
    client.instrumentation = instrumentation
    return instrumentation
