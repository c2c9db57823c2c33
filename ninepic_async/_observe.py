"""Where the transport's hooks land: the client's counters and its instrumentation, per API call.

:func:`observed` wraps :meth:`Transport.request`: it counts the call, starts the instrumentation's
observer and ends both with the outcome. Inside the retry loop, :func:`note_retry` and
:func:`note_pause_wait` find the running call through a context variable, so the loop needs one
line per hook and no extra parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from yarl import URL

from ._constants import API_PREFIX
from ._stats import ApiCounters
from .instrumentation import ApiCallObserver, ApiRetryReason, Instrumentation

__all__ = ["Observable", "note_pause_wait", "note_rate_limited", "note_retry", "observed", "route_template"]

_KNOWN_SEGMENTS = frozenset(
    {
        "events",
        "event",
        "ping",
        "details",
        "images",
        "bibs",
        "faces",
        "timeline",
        "days",
        "video-clipping",
        "search-by-selfie",
        "original-photos",
    }
)
_NAMED_AFTER = {
    "event": "{event_id}",
    "bibs": "{bib}",
    "faces": "{request_id}",
    "video-clipping": "{request_id}",
}


def route_template(base_url: URL, url: URL) -> str:
    """The path of ``url`` under ``{base_url}/api/v1/ext`` with every id replaced by its name
    (``/{org_id}/event/{event_id}/bibs/{bib}``): safe to export, few distinct values."""
    prefix = base_url.raw_path.rstrip("/") + API_PREFIX + "/"
    raw = url.raw_path
    if not raw.startswith(prefix):
        return "/{unknown}"
    names: list[str] = []
    previous = ""
    for index, segment in enumerate(raw[len(prefix) :].split("/")):
        if index == 0:
            name = "{org_id}"
        elif previous in _NAMED_AFTER and not (
            previous == "video-clipping" and segment == "search-by-selfie"
        ):
            name = _NAMED_AFTER[previous]
        else:
            name = segment if segment in _KNOWN_SEGMENTS else "{id}"
        names.append(name)
        previous = segment
    return "/" + "/".join(names)


class _Call:
    """One API call in flight: its counters' owner and its instrumentation observer (if any)."""

    __slots__ = ("counters", "observer")

    def __init__(self, counters: ApiCounters, observer: ApiCallObserver | None) -> None:
        self.counters = counters
        self.observer = observer


_CURRENT: ContextVar[_Call | None] = ContextVar("ninepic_api_call", default=None)


def note_retry(reason: ApiRetryReason, delay_s: float) -> None:
    """The running call sends its request again after ``delay_s`` seconds, because of ``reason``."""
    call = _CURRENT.get()
    if call is None:
        return
    call.counters.retries[reason] += 1
    if call.observer is not None:
        call.observer.retry(reason, delay_s)


def note_rate_limited() -> None:
    """The running call got a 429 (retried or not, it paused every call of the client)."""
    call = _CURRENT.get()
    if call is not None:
        call.counters.rate_limited += 1


def note_pause_wait(waited_s: float) -> None:
    """The running call waited ``waited_s`` seconds for the client-wide 429 pause before sending."""
    call = _CURRENT.get()
    if call is not None:
        call.counters.rate_limit_waits += 1
        call.counters.rate_limit_wait_s += waited_s


class Observable(Protocol):
    """What :func:`observed` needs of the transport it wraps."""

    base_url: URL
    counters: ApiCounters
    instrumentation: Instrumentation | None


class _Response(Protocol):
    @property
    def status(self) -> int: ...


S = TypeVar("S", bound=Observable)
P = ParamSpec("P")
R = TypeVar("R", bound=_Response)


def observed(
    request: Callable[Concatenate[S, str, URL, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, str, URL, P], Coroutine[Any, Any, R]]:
    """Count each call of ``request`` and tell the transport's instrumentation how it went."""

    @functools.wraps(request)
    async def wrapper(self: S, method: str, url: URL, /, *args: P.args, **kwargs: P.kwargs) -> R:
        counters = self.counters
        instrumentation = self.instrumentation
        observer = None
        if instrumentation is not None:
            observer = instrumentation.api_call(method, route_template(self.base_url, url))
        counters.calls += 1
        token = _CURRENT.set(_Call(counters, observer))
        try:
            response = await request(self, method, url, *args, **kwargs)
        except BaseException as exc:
            counters.calls_failed += 1
            if observer is not None:
                status = getattr(exc, "status", None)
                observer.end(status if isinstance(status, int) and status else None, exc)
            raise
        finally:
            _CURRENT.reset(token)
        counters.calls_ok += 1
        if observer is not None:
            observer.end(response.status, None)
        return response

    return wrapper
