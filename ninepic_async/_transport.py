"""One API request: auth header, the one retry loop, redirects, envelope decode, status -> exception.

Every call of :class:`NinePicClient` goes through :meth:`Transport.call`. The key travels per
request in ``X-API-Key`` and only to the API's own origin: redirects are followed by hand when
they stay on that origin and refused otherwise. It is added by a per-request aiohttp middleware,
so trace hooks of a caller's session never see it (see :func:`_with_key`). A 429
pauses every task of the client (a monotonic "not before" time), so concurrent callers back off
together instead of hammering; a call may opt out (``RequestOptions.respect_shared_pause``).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import anyio
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _retry
from ._constants import (
    API_CONNECTION_LIMIT,
    API_KEY_HEADER,
    API_PREFIX,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MAX_RATE_LIMIT_RETRIES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    ERROR_EXCERPT_CHARS,
    MAX_REDIRECTS,
    MAX_RESPONSE_BYTES,
    REQUEST_ID_HEADERS,
    USER_AGENT,
)
from ._exceptions import (
    REDACTED,
    APIConnectionError,
    APIResponseDecodeError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    ProxyError,
    RateLimitError,
    TLSCertificateError,
    forget_secret,
    redact,
    register_secret,
    status_error_class,
)
from ._logging import get_logger
from ._network import Network, proxy_display
from ._observe import note_pause_wait, note_rate_limited, note_retry, observed
from ._options import RequestOptions
from ._stats import ApiCounters
from ._timeouts import TIMEOUT_ERRORS
from .instrumentation import Instrumentation
from .retry_notice import RETRY_RECORD_ATTR, RetryNotice

__all__ = ["RawResponse", "Transport", "decoder_for"]

_NETWORK_ERRORS: tuple[type[Exception], ...] = (*TIMEOUT_ERRORS, aiohttp.ClientError)
"""A failed exchange with the API (timeouts included, whichever class raised them)."""

log = get_logger(__name__)

T = TypeVar("T")

# Looked up at call time so tests can replace them (record delays, fake the clock).
_sleep = asyncio.sleep
_monotonic = time.monotonic

_OTHER_LOOP = (
    "this NinePicClient is already used in another event loop: create one client per event loop, "
    "inside the running loop (e.g. in your app's startup hook or inside the function given to "
    "asyncio.run), and close it there (async with) before that loop ends"
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
JSONParams = Mapping[str, "str | int"]
FormFactory = Callable[[], aiohttp.FormData]


class _Envelope(msgspec.Struct):
    """``{"responseType", "message", "data"}``, every field kept raw.

    Raw fields make this decode fail only when the body is not a JSON object, so an odd
    ``message`` (a huge number, say) can never make an error envelope pass for a flat body.
    """

    responseType: msgspec.Raw = msgspec.Raw()  # wire name
    message: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()


_ENVELOPE_DECODER = msgspec.json.Decoder(_Envelope)
_ANY_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[Any, Any] = {}
_UNREADABLE = object()
# What a JSON decoder raises on hostile input: bad JSON or shape, nesting deeper than its
# recursion limit, invalid UTF-8 inside a string (raised lazily, during the typed pass).
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def decoder_for(tp: type[T]) -> msgspec.json.Decoder[T]:
    """The one cached JSON decoder of response type ``tp``."""
    decoder = _DECODERS.get(tp)
    if decoder is None:
        decoder = _DECODERS[tp] = msgspec.json.Decoder(tp)
    result: msgspec.json.Decoder[T] = decoder
    return result


def _excerpt(body: bytes) -> str:
    return body[: ERROR_EXCERPT_CHARS * 4].decode("utf-8", "replace")[:ERROR_EXCERPT_CHARS]


def _json_bytes(body: bytes) -> bytes:
    """The body without a UTF-8 byte order mark (some servers send one; JSON parsers refuse it)."""
    return body[len(codecs.BOM_UTF8) :] if body.startswith(codecs.BOM_UTF8) else body


def _loads(data: bytes) -> Any:
    """Schema-less decode that never raises: ``_UNREADABLE`` for anything that is not sane JSON."""
    if not data:
        return _UNREADABLE
    try:
        return _ANY_DECODER.decode(data)
    except _DECODE_ERRORS:
        return _UNREADABLE


def _redacted(value: Any) -> Any:
    """``value`` (decoded JSON) with every string passed through :func:`redact` (bodies may echo the key).

    Iterative, because a hostile body may nest as deep as the JSON decoder allows.
    """
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = redact(item)
        elif isinstance(item, list):
            stack.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            container[key] = item = {redact(str(k)): v for k, v in item.items()}
            stack.extend((item, k) for k in item)
    return root[0]


def _problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _slots_for(session: aiohttp.ClientSession) -> asyncio.Semaphore | None:
    """One permit per connection the session's pool may open to the API host (None: no limit)."""
    connector = session.connector
    if connector is None:
        return None
    limits = [n for n in (connector.limit, connector.limit_per_host) if n]
    return asyncio.Semaphore(min(limits)) if limits else None


def _decode_problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "invalid UTF-8 in a JSON string"
    return str(exc)


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _message_text(value: Any) -> str | None:
    """A human message from an error body's ``message``/``detail`` (FastAPI lists flattened)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                text = str(item.get("msg", item))
                parts.append(f"{where}: {text}" if where else text)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return None


def _announce_retry(notice: RetryNotice, message: str, *args: object) -> None:
    """Log the retry at INFO with ``notice`` attached (for the CLI) and count it under its reason."""
    log.info(message, *args, extra={RETRY_RECORD_ATTR: notice})
    note_retry(notice.reason, notice.delay_s)


def _proxy_refused(proxy: URL, status: int, reason: str) -> ProxyError:
    """The proxy answered ``status`` instead of forwarding (407: its credentials)."""
    if status == 407:
        return ProxyError(
            proxy_display(proxy),
            "it wants credentials (HTTP 407) and refused the ones given, if any: put them in the "
            "proxy URL, http://user:password@host:port",
        )
    return ProxyError(proxy_display(proxy), f"it refused to connect to the host (HTTP {status} {reason})")


def _connection_error(
    default: type[APIConnectionError], method: str, url: URL, exc: BaseException, network: Network
) -> APIConnectionError:
    """The error for a failed exchange: a refused certificate or a failing proxy named as such."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
        return TLSCertificateError(url.host or str(url), getattr(cause, "verify_message", None) or str(cause))
    proxy = network.proxy_for(url)
    if proxy is not None and isinstance(exc, aiohttp.ClientHttpProxyError):
        return _proxy_refused(proxy, exc.status, exc.message)
    if proxy is not None and isinstance(exc, aiohttp.ClientProxyConnectionError):
        problem = exc.os_error.strerror or str(exc.os_error)
        return ProxyError(proxy_display(proxy), f"cannot connect to it ({problem})")
    if proxy is not None and isinstance(exc, aiohttp.ClientConnectorDNSError) and exc.host == proxy.host:
        problem = exc.os_error.strerror or str(exc.os_error)
        return ProxyError(proxy_display(proxy), f"its host name does not resolve ({problem})")
    return default(f"{method} {url}: {_problem(exc)}")


async def _with_key(
    api_key: str, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Put the key header on ``request`` for the send only (an aiohttp client middleware).

    The key is added after the trace hooks of a caller's session saw the request start, is
    masked in what their ``on_request_headers_sent`` gets, and is gone again before the
    response (its ``request_info``) or the end/exception hooks reach anyone.
    """
    traces = getattr(request, "_traces", None)
    if traces:
        request._traces = [_MaskedTrace(trace) for trace in traces]  # type: ignore[misc]
    request.headers[API_KEY_HEADER] = api_key
    try:
        return await handler(request)
    finally:
        request.headers.popall(API_KEY_HEADER, None)


class _MaskedTrace:
    """One aiohttp trace of a request, passing the sent headers on with the key masked."""

    def __init__(self, trace: Any) -> None:
        self._trace = trace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trace, name)

    async def send_request_headers(self, method: str, url: URL, headers: CIMultiDict[str]) -> None:
        masked = CIMultiDict(headers)
        if API_KEY_HEADER in masked:
            masked[API_KEY_HEADER] = REDACTED
        await self._trace.send_request_headers(method, url, masked)


@dataclass(frozen=True)
class RawResponse:
    """A fully read API response (the body is bounded by ``max_response_bytes``)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    method: str
    url: str

    @property
    def request_id(self) -> str | None:
        """The first request-id header of the response (REQUEST_ID_HEADERS), if any."""
        return _request_id(self.headers)


class Transport:
    """Sends API requests for one client: session, key, retries, shared 429 pause, decoding."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_rate_limit_retries: int = DEFAULT_MAX_RATE_LIMIT_RETRIES,
        network: Network | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        deadline_s: float | None = None,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the session belongs to
        self._slots: asyncio.Semaphore | None = None  # one per pooled connection (see _connection_slot)
        self._closed = False
        self._key_registered = False
        self._register_key()
        self.options = RequestOptions(
            timeout_s=timeout_s,
            retry=_retry.APIRetry(max_retries, max_rate_limit_retries, deadline_s),
        )
        """Options of calls made without their own (the client passes its own to every call)."""
        self.network = network or Network()
        self.max_response_bytes = max_response_bytes
        self._not_before = 0.0  # monotonic time before which no request of this client is sent
        self.counters = ApiCounters()
        self.instrumentation: Instrumentation | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.base_url)!r})"

    # --- key and session ---------------------------------------------------------------------
    def _register_key(self) -> None:
        if not self._key_registered:
            register_secret(self._api_key)
            self._key_registered = True

    def _forget_key(self) -> None:
        if self._key_registered:
            forget_secret(self._api_key)
            self._key_registered = False

    def session(self) -> aiohttp.ClientSession:
        """The API session; created on first use, inside the running event loop (and only that loop)."""
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not None and self._loop is not loop:
            raise ConfigurationError(_OTHER_LOOP)
        if self._session is None:
            if self._closed:
                raise APIConnectionError("the client is closed; create a new NinePicClient")
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self.options.timeout_s,
                    sock_connect=min(self.options.timeout_s, DEFAULT_CONNECT_TIMEOUT_S),
                ),
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(ssl=self.network.ssl, limit=API_CONNECTION_LIMIT),
            )
        if self._loop is not loop:
            self._loop = loop
            self._slots = _slots_for(self._session)
        return self._session

    def reopen(self) -> None:
        """Allow use again after :meth:`close` (``async with`` a second time)."""
        self._closed = False
        self._register_key()

    async def close(self) -> None:
        """Close the session if this transport created it (a caller's is left open); forget the key.

        The key stays registered for redaction while another open client uses it too.
        """
        self._closed = True
        self._forget_key()
        if self._owns_session and self._session is not None:
            session = self._session
            loop = asyncio.get_running_loop()
            if self._loop is not None and self._loop is not loop:
                if not self._loop.is_closed():
                    raise ConfigurationError(_OTHER_LOOP)
                # Its loop is gone and took the connections with it: nothing left to close.
                self._session = None
                session.detach()
                return
            self._session = None
            await session.close()

    # --- URLs ---------------------------------------------------------------------------
    def url(self, *segments: str | int) -> URL:
        """``{base}/api/v1/ext/<segments...>``, each segment percent-encoded (``/`` too)."""
        path = "/".join(quote(str(segment), safe="") for segment in segments)
        return URL(f"{str(self.base_url).rstrip('/')}{API_PREFIX}/{path}", encoded=True)

    # --- the client-wide pause -------------------------------------------------------------
    def pause_for(self, delay_s: float) -> None:
        """Hold back every request of this client for ``delay_s`` seconds from now."""
        self._not_before = max(self._not_before, _monotonic() + delay_s)

    @property
    def paused_for_s(self) -> float:
        """Seconds left of the client-wide pause (0 when none)."""
        return max(0.0, self._not_before - _monotonic())

    async def wait_for_pause(self, retry: _retry.APIRetry | None = None, what: str = "") -> None:
        """Sleep until the client-wide pause (which may grow meanwhile) is over.

        With a ``retry`` policy whose deadline falls inside the pause, raise APITimeoutError at once.
        """
        started: float | None = None
        while True:
            now = _monotonic()
            remaining = self._not_before - now
            if remaining <= 0:
                if started is not None:
                    note_pause_wait(_monotonic() - started)
                return
            if retry is not None and not retry.fits(now, remaining):
                raise APITimeoutError(
                    f"{what}: the {retry.deadline_s} s deadline ends during this client's 429 pause "
                    f"({remaining:.2f} s left); pass respect_shared_pause=False to call during a pause"
                )
            if started is None:
                started = _monotonic()
            await _sleep(remaining)

    async def _back_off(
        self, retry: _retry.APIRetry, delay_s: float, what: str, cause: BaseException
    ) -> None:
        """Sleep ``delay_s`` before the next attempt, or raise APITimeoutError if the deadline ends first."""
        if not retry.fits(_monotonic(), delay_s):
            raise APITimeoutError(
                f"{what}: gave up at the {retry.deadline_s} s deadline (last: {_problem(cause)})"
            ) from cause
        await _sleep(delay_s)

    # --- connections --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connection_slot(self, retry: _retry.APIRetry, what: str) -> AsyncIterator[None]:
        """Hold one of the pool's connections for an attempt; waiting for one is not a failure.

        aiohttp would count a wait for a free pooled connection against the attempt's connect
        timeout (and we would retry it as a connection error); queueing here first keeps the
        attempt's timeout for the exchange itself. Only the call's deadline bounds this wait.
        """
        slots = self._slots
        if slots is None:
            yield
            return
        remaining = retry.remaining_s(_monotonic())
        acquired = False
        with anyio.move_on_after(math.inf if remaining is None else remaining):
            await slots.acquire()
            acquired = True
        if not acquired:
            raise APITimeoutError(
                f"{what}: the {retry.deadline_s} s deadline ended waiting for a free connection"
            )
        try:
            yield
        finally:
            slots.release()

    # --- requests -------------------------------------------------------------------------
    @observed
    async def request(
        self,
        method: str,
        url: URL,
        *,
        params: JSONParams | None = None,
        json: Any = None,
        form: FormFactory | None = None,
        options: RequestOptions | None = None,
    ) -> RawResponse:
        """Send one API request with retries; return the 2xx response or raise an APIError.

        ``form`` is a factory because a multipart body can be sent only once (each retry rebuilds it).
        ``options`` (default: :attr:`options`) give the attempt timeout, the retry policy with its
        deadline, and whether to wait out the client-wide 429 pause.
        """
        opts = self.options if options is None else options
        body = None if json is None else _ENCODER.encode(json)
        what = f"{method} {url}"
        retry = opts.retry.start(_monotonic())
        while True:
            if opts.respect_shared_pause:
                await self.wait_for_pause(retry, what)  # 429 wait point: the client-wide pause
            try:
                async with self._connection_slot(retry, what):
                    timeout = self._attempt_timeout(opts, retry)
                    response = await self._send(
                        method, url, params=params, body=body, form=form, attempt_timeout=timeout
                    )
            except _NETWORK_ERRORS as exc:
                following = retry.increment(exc=exc)
                if following is None:
                    if retry.remaining_s(_monotonic()) == 0.0:
                        raise APITimeoutError(
                            f"{what}: gave up at the {retry.deadline_s} s deadline (last: {_problem(exc)})"
                        ) from exc
                    error_cls = APITimeoutError if isinstance(exc, TIMEOUT_ERRORS) else APIConnectionError
                    raise _connection_error(error_cls, method, url, exc, self.network) from exc
                delay_s = retry.backoff_s()
                notice = RetryNotice(
                    "timeout" if isinstance(exc, TIMEOUT_ERRORS) else "connection",
                    following.retries,
                    retry.max_retries,
                    delay_s,
                    method,
                    str(url),
                    error=type(exc).__name__,
                )
                _announce_retry(
                    notice,
                    "%s failed (%s); retry %d of %d in %.2f s",
                    what,
                    type(exc).__name__,
                    following.retries,
                    retry.max_retries,
                    delay_s,
                )
                await self._back_off(retry, delay_s, what, exc)  # retry wait point: after an error
                retry = following
                continue
            if response.status < 400:
                return response
            retry_after = response.headers.get("Retry-After")
            if response.status == 429:
                following = retry.increment(status=429)
                delay_s = retry.backoff_s(retry_after, throttled=True)
                # Every task of this client waits, even when this one gives up: the server asked us to.
                self.pause_for(delay_s)
                note_rate_limited()
                if following is None:
                    raise self._status_error(response)
                notice = RetryNotice(
                    "rate_limited",
                    following.throttles,
                    retry.max_rate_limit_retries,
                    delay_s,
                    method,
                    str(url),
                    429,
                )
                _announce_retry(
                    notice,
                    "%s: HTTP 429; pausing every request of this client for %.2f s (retry %d of %d)",
                    what,
                    delay_s,
                    following.throttles,
                    retry.max_rate_limit_retries,
                )
                if not opts.respect_shared_pause:  # the others wait out the pause at the loop's top
                    await self._back_off(retry, delay_s, what, self._status_error(response))  # 429 wait point
                retry = following
                continue
            following = retry.increment(status=response.status)
            if following is None:
                raise self._status_error(response)
            delay_s = retry.backoff_s(retry_after)
            notice = RetryNotice(
                "server_error",
                following.retries,
                retry.max_retries,
                delay_s,
                method,
                str(url),
                response.status,
            )
            _announce_retry(
                notice,
                "%s: HTTP %d; retry %d of %d in %.2f s",
                what,
                response.status,
                following.retries,
                retry.max_retries,
                delay_s,
            )
            await self._back_off(retry, delay_s, what, self._status_error(response))  # retry wait point
            retry = following

    def _attempt_timeout(self, opts: RequestOptions, retry: _retry.APIRetry) -> aiohttp.ClientTimeout:
        """One attempt's timeout: ``timeout_s`` (cut to what is left of the deadline) from now on,
        ``sock_connect`` for opening a connection (not for waiting on the pool)."""
        total = opts.timeout_s
        remaining = retry.remaining_s(_monotonic())
        if remaining is not None:
            total = min(total, remaining)
        return aiohttp.ClientTimeout(total=total, sock_connect=min(total, DEFAULT_CONNECT_TIMEOUT_S))

    async def _send(
        self,
        method: str,
        url: URL,
        *,
        params: JSONParams | None,
        body: bytes | None,
        form: FormFactory | None,
        attempt_timeout: aiohttp.ClientTimeout,
    ) -> RawResponse:
        """One attempt: send, follow same-origin redirects by hand, read the bounded body."""
        session = self.session()
        origin = self.base_url.origin()
        current_method, current_url, current_params = method, url, params
        with_body = True
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": "application/json"}
            kwargs: dict[str, Any] = {
                "params": current_params,
                "headers": headers,
                "allow_redirects": False,
                "raise_for_status": False,
                "timeout": attempt_timeout,
                "middlewares": (functools.partial(_with_key, self._api_key),),
            }
            if self.network.ssl is not True:
                kwargs["ssl"] = self.network.ssl  # also over a caller's session
            proxy = self.network.proxy_for(current_url)
            if proxy is not None:
                kwargs["proxy"] = proxy
            if with_body and form is not None:
                kwargs["data"] = form()
            elif with_body and body is not None:
                kwargs["data"] = body
                headers["Content-Type"] = "application/json"
            started = _monotonic()
            log.debug("-> %s %s params=%s", current_method, current_url, dict(current_params or {}))
            async with session.request(current_method, current_url, **kwargs) as resp:
                if resp.status == 407 and proxy is not None:  # the proxy's answer, not the API's
                    raise _proxy_refused(proxy, resp.status, resp.reason or "")
                location = resp.headers.get("Location")
                if resp.status in _REDIRECT_STATUSES and location:
                    target = resp.url.join(URL(location))
                    if target.origin() != origin:
                        raise APIStatusError(
                            resp.status,
                            f"refused to follow a redirect to another origin ({target.origin()}): the API "
                            f"key is only sent to {origin}; set base_url to the API's final address",
                            method=current_method,
                            url=str(current_url),
                            request_id=_request_id(resp.headers),
                        )
                    log.debug("redirect %d -> %s (same origin)", resp.status, target)
                    if resp.status == 303 or (resp.status in (301, 302) and current_method == "POST"):
                        current_method, with_body = "GET", False
                    current_url, current_params = target, None
                    continue
                data = await self._read_body(resp, current_method)
                log.debug(
                    "<- %d %s %s (%d bytes, %.3f s)",
                    resp.status,
                    current_method,
                    resp.url,
                    len(data),
                    _monotonic() - started,
                )
                return RawResponse(
                    status=resp.status,
                    headers=resp.headers,
                    body=data,
                    method=current_method,
                    url=str(resp.url),
                )
        raise APIStatusError(0, f"more than {MAX_REDIRECTS} redirects", method=method, url=str(url))

    async def _read_body(self, resp: aiohttp.ClientResponse, method: str) -> bytes:
        """The body, streamed with a cap of ``max_response_bytes``; never buffered unbounded.

        A success body over the cap is refused (APIResponseDecodeError, not retried). An error
        body is only needed for its message, so it is cut at the cap and the status still
        decides (a huge 503 page is retried like any 503).
        """
        limit = self.max_response_bytes
        is_error = resp.status >= 400
        declared = resp.content_length
        if declared is not None and declared > limit and not is_error:
            raise APIResponseDecodeError(
                f"{method} {resp.url}: response of {declared} bytes exceeds the {limit}-byte limit",
                status=resp.status,
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_any():
            if total + len(chunk) > limit:
                if is_error:
                    chunks.append(chunk[: limit - total])
                    log.debug("%s %s: HTTP %d body cut at %d bytes", method, resp.url, resp.status, limit)
                    break
                raise APIResponseDecodeError(
                    f"{method} {resp.url}: response exceeds the {limit}-byte limit", status=resp.status
                )
            total += len(chunk)
            chunks.append(chunk)
        return b"".join(chunks)

    # --- decoding -----------------------------------------------------------------------
    def _status_error(self, response: RawResponse) -> APIStatusError:
        """The exception for an error status, with the server's message and request id."""
        message: str | None = None
        body = _loads(_json_bytes(response.body))
        body = None if body is _UNREADABLE else _redacted(body)
        if isinstance(body, dict):
            message = _message_text(body.get("message")) or _message_text(body.get("detail"))
        if message is None:
            message = _excerpt(response.body).strip() or None
        cls = status_error_class(response.status)
        error = cls(
            response.status,
            message or "",
            method=response.method,
            url=response.url,
            request_id=response.request_id,
            body=body,
        )
        if isinstance(error, RateLimitError):
            error.retry_after_s = _retry.parse_retry_after(response.headers.get("Retry-After"))
        return error

    def unwrap(self, response: RawResponse) -> bytes:
        """The JSON of ``data`` (envelope) or the whole body (older flat bodies).

        Raises APIStatusError for ``responseType == "error"`` (even with a 2xx status) and
        APIResponseDecodeError when the body is not JSON.
        """
        body = _json_bytes(response.body)
        try:
            envelope = _ENVELOPE_DECODER.decode(body)
        except msgspec.ValidationError:
            return body  # JSON but not an object: let the typed decode explain
        except _DECODE_ERRORS as exc:
            raise APIResponseDecodeError(
                f"{response.method} {response.url}: HTTP {response.status} response is not JSON "
                f"({_decode_problem(exc)})",
                status=response.status,
                body_excerpt=_excerpt(response.body),
            ) from exc
        raw = bytes(envelope.data)
        raw_type = bytes(envelope.responseType)
        response_type = _loads(raw_type) if raw_type else None
        if response_type is None and not raw:
            return body  # older flat body
        if isinstance(response_type, str) and response_type.strip().lower() == "error":
            message = _message_text(_loads(bytes(envelope.message))) or ""
            decoded = _loads(body)
            raise status_error_class(response.status)(
                response.status,
                message or "the API answered responseType=error",
                method=response.method,
                url=response.url,
                request_id=response.request_id,
                body=None if decoded is _UNREADABLE else _redacted(decoded),
            )
        if not raw or raw.strip() == b"null":
            return b"{}"
        return raw

    def decode(self, response: RawResponse, tp: type[T]) -> T:
        """Decode a response (envelope or flat) into ``tp``; wrong shapes raise APIResponseDecodeError."""
        data = self.unwrap(response)
        try:
            return decoder_for(tp).decode(data)
        except _DECODE_ERRORS as exc:
            what = f"unexpected {tp.__name__} response"
            if not isinstance(exc, msgspec.ValidationError):  # valid-looking envelope, unreadable inside
                what = f"HTTP {response.status} {tp.__name__} response is not JSON"
            raise APIResponseDecodeError(
                f"{response.method} {response.url}: {what} ({_decode_problem(exc)})",
                status=response.status,
                body_excerpt=_excerpt(response.body),
            ) from exc

    def decode_any(self, response: RawResponse) -> Any:
        """Decode ``data`` (or a flat body) without a schema."""
        data = self.unwrap(response)
        try:
            return _ANY_DECODER.decode(data)
        except _DECODE_ERRORS as exc:
            raise APIResponseDecodeError(
                f"{response.method} {response.url}: response is not JSON ({_decode_problem(exc)})",
                status=response.status,
                body_excerpt=_excerpt(response.body),
            ) from exc

    async def call(
        self,
        method: str,
        url: URL,
        tp: type[T],
        *,
        params: JSONParams | None = None,
        json: Any = None,
        form: FormFactory | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """:meth:`request` + :meth:`decode`: the usual way to call an endpoint."""
        response = await self.request(method, url, params=params, json=json, form=form, options=options)
        return self.decode(response, tp)
