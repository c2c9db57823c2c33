"""NinePicClient: one short method per endpoint of the 9Pic external API.

```python
async with NinePicClient(org_id=903) as client:          # key from $NINEPIC_API_KEY
    await client.ping(456)
    async for image in client.all_photos(456):
        ...
```
Requests, retries and decoding live in :mod:`ninepic_async._transport`; listings are
:class:`~ninepic_async.pagination.AsyncPage` objects. Bad arguments raise
:class:`RequestValidationError` before anything is sent.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import mimetypes
import os
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, TypeAlias

import aiohttp
import anyio
import anyio.to_thread
from yarl import URL

from . import _transport
from ._constants import (
    BIBS_PAGE_SIZE,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RATE_LIMIT_RETRIES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    ENV_API_KEY,
    ENV_BASE_URL,
    EVENTS_PAGE_SIZE,
    FACE_REQUEST_ID_FIELD,
    FACE_UPLOAD_FIELD,
    FACES_PAGE_SIZE,
    IMAGES_PAGE_SIZE,
    ORIGINALS_PAGE_SIZE,
    SELFIE_CONTENT_TYPE,
    SELFIE_FILENAME,
    TIMELINE_FROM_PARAM,
    TIMELINE_PAGE_SIZE,
    TIMELINE_TO_PARAM,
    VIDEO_FAILURE_STATUSES,
    VIDEO_POLL_INTERVAL_S,
    VIDEO_POLL_TIMEOUT_S,
    VIDEO_REQUEST_ID_FIELD,
    VIDEO_SUCCESS_STATUSES,
    VIDEO_UPLOAD_FIELD,
)
from ._exceptions import ConfigurationError, PollTimeoutError, RequestValidationError
from ._logging import get_logger, install_redaction
from ._network import NetworkOptions
from ._options import RequestOptions
from ._stats import ClientStats
from ._transport import Transport
from .instrumentation import Instrumentation
from .models import (
    EventDetails,
    EventList,
    EventListItem,
    FaceSearchResult,
    ImageItem,
    ImagePage,
    OriginalPhotos,
    OriginalPhotosRequest,
    PingResult,
    TimelineDays,
    VideoClip,
    VideoClippingJob,
    validate_original_photos_request,
)
from .pagination import AsyncPage, ItemT, PageT

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .download import DownloadReport, FileResult
    from .download.options import DownloadKwargs

__all__ = ["NinePicClient", "Selfie"]

install_redaction()
log = get_logger(__name__)

Selfie: TypeAlias = bytes | str | os.PathLike[str] | BinaryIO
"""A selfie: its bytes, a path to the image, or a binary file object."""


# --- argument checks (raise before anything is sent) ------------------------------------
def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, where plain http does not leave the machine."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_retries(name: str, value: object) -> int:
    """A retry budget: an integer >= 0, else :class:`ConfigurationError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be an integer >= 0; got {value!r}")
    return value


def _check_seconds(name: str, value: object) -> float:
    """A duration in seconds: a number > 0, else :class:`ConfigurationError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number; got {value!r}")
    return float(value)


class _Keep(enum.Enum):
    """Marks a :meth:`NinePicClient.with_options` argument that was not given (keep the current value)."""

    KEEP = enum.auto()


KEEP: Final = _Keep.KEEP


def _check_int(field: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RequestValidationError(field, f"must be an integer >= {minimum}; got {value!r}")
    return value


def _check_time_s(field: str, value: object) -> int:
    """Unix seconds from an int or a :class:`~datetime.datetime` (naive means UTC); whole seconds."""
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return _check_int(field, int(when.timestamp()), 0)
    return _check_int(field, value, 0)


def _check_page_size(value: object, limits: tuple[int, int]) -> int | None:
    if value is None:
        return None
    maximum = limits[1]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise RequestValidationError("page_size", f"must be an integer from 1 to {maximum}; got {value!r}")
    return value


def _check_unicode(field: str, value: str) -> None:
    """Refuse text that cannot be sent as UTF-8 (lone surrogates, e.g. from undecodable file names)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestValidationError(field, f"must be valid Unicode text; got {value!r}") from None


def _check_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestValidationError(field, f"must be a non-empty string; got {value!r}")
    _check_unicode(field, value)
    return value.strip()


def _check_originals(body: OriginalPhotosRequest) -> OriginalPhotosRequest:
    """The identifiers of a validated original-photos body can also be encoded as JSON."""
    if isinstance(body.identifier, str):
        _check_unicode("identifier", body.identifier)
    else:
        for index, item in enumerate(body.identifier):
            _check_unicode(f"identifier[{index}]", item)
    return body


def _check_segment(field: str, value: object) -> str:
    """A non-empty string that goes into the URL path as one segment.

    ``.`` and ``..`` are refused: HTTP stacks resolve them away, so ``bibs/..`` would
    reach another endpoint of the API (with the key) instead of meaning "BIB '..'".
    """
    text = _check_text(field, value)
    if text in (".", ".."):
        raise RequestValidationError(
            field, f"must not be {text!r} (a URL path segment that is resolved away)"
        )
    return text


def _page_params(page: int, page_size: int | None, **extra: int) -> dict[str, str | int]:
    params: dict[str, str | int] = {**extra, "page": page}
    if page_size is not None:
        params["page_size"] = page_size
    return params


async def _read_selfie(selfie: object) -> tuple[bytes, str, str]:
    """(content, filename, content type) of a selfie given as bytes, a path or a binary file."""
    name = SELFIE_FILENAME
    if isinstance(selfie, (bytes, bytearray, memoryview)):
        content = bytes(selfie)
    elif isinstance(selfie, (str, os.PathLike)):
        path = anyio.Path(os.fspath(selfie))
        try:
            content = await path.read_bytes()
        except OSError as exc:
            problem = exc.strerror or str(exc)
            raise RequestValidationError("selfie", f"cannot read {str(path)!r}: {problem}") from exc
        name = path.name or name
    elif callable(getattr(selfie, "read", None)):
        content = await anyio.to_thread.run_sync(selfie.read)  # type: ignore[attr-defined]
        if not isinstance(content, (bytes, bytearray)):
            raise RequestValidationError("selfie", "the file object must be opened in binary mode")
        content = bytes(content)
        file_name = getattr(selfie, "name", None)
        if isinstance(file_name, str) and os.path.basename(file_name):
            name = os.path.basename(file_name)
    else:
        raise RequestValidationError(
            "selfie", f"must be bytes, a path or a binary file object; got {type(selfie).__name__}"
        )
    if not content:
        raise RequestValidationError("selfie", "is empty (0 bytes)")
    # A file name that is not valid UTF-8 (undecodable bytes on POSIX) cannot go in a multipart header.
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return content, name, mimetypes.guess_type(name)[0] or SELFIE_CONTENT_TYPE


# --- lenient video payload ------------------------------------------------------------------
def _first(mapping: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return value
    return None


def _as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _video_clip(value: Any) -> VideoClip | None:
    if isinstance(value, str):
        return VideoClip(url=value)
    if not isinstance(value, dict):
        return None
    duration = _first(value, ("duration", "duration_s", "length_s", "length"))
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        duration = None
    return VideoClip(
        url=_as_str(_first(value, ("url", "clip_url", "video_url", "mp4_url", "download_url"))),
        thumbnail_url=_as_str(_first(value, ("thumbnail_url", "thumbnail", "thumb_url", "poster_url"))),
        duration_s=None if duration is None else float(duration),
    )


def video_job_from_data(data: Any) -> VideoClippingJob:
    """A VideoClippingJob from an undocumented payload, guessing common names; ``raw`` keeps it all."""
    if not isinstance(data, dict):
        return VideoClippingJob(raw=data)
    clips_value = _first(data, ("clips", "videos", "video_clips", "results", "clip_urls", "urls"))
    clips = []
    if isinstance(clips_value, list):
        clips = [clip for clip in (_video_clip(item) for item in clips_value) if clip is not None]
    return VideoClippingJob(
        request_id=_as_str(_first(data, ("request_id", "requestId", "job_id", "id"))),
        status=_as_str(_first(data, ("status", "state", "job_status"))),
        clips=clips,
        raw=data,
    )


def _is_terminal(job: VideoClippingJob) -> bool:
    status = (job.status or "").strip().lower()
    return status in VIDEO_SUCCESS_STATUSES or status in VIDEO_FAILURE_STATUSES


# --- item accessors for AsyncPage -------------------------------------------------------------
def _events_of(page: EventList) -> list[EventListItem]:
    return page.events


def _images_of(page: ImagePage) -> list[ImageItem]:
    return page.images


def _face_images_of(page: FaceSearchResult) -> list[ImageItem]:
    return page.images


def _originals_empty(page: OriginalPhotos) -> bool:
    return not page.presigned_urls and not page.failed_urls


def _originals_identity(page: OriginalPhotos) -> list[str]:
    """What a page of originals lists: URLs without their query (signatures change per call), failed ids."""
    return [item.url.partition("?")[0] for item in page.presigned_urls] + [
        "failed:" + item.image_id for item in page.failed_urls
    ]


class NinePicClient:
    """An asyncio client of the 9Pic external API for one organisation.

    ``api_key`` falls back to ``$NINEPIC_API_KEY``; ``base_url`` to ``$NINEPIC_BASE_URL`` then
    the public API. Use it as an async context manager (or call :meth:`close`). The aiohttp
    session is made inside the running loop on first use and closed only if this client made
    it; a ``session`` you pass is used as is (the key then travels per request, never as a
    session default). ``timeout_s`` (seconds, default DEFAULT_TIMEOUT_S; ``timeout`` is the
    same setting under its short name: give one of them) bounds each attempt; ``max_retries``
    counts retries after a 5xx, a connection error or a timeout, and ``max_rate_limit_retries``
    (default DEFAULT_MAX_RATE_LIMIT_RETRIES, larger because throttling is expected under load)
    retries after a 429; ``deadline_s`` (default none) bounds a whole call, retries and waits
    included. :meth:`with_options` gives a view with other settings for some calls. One client
    belongs to one event loop; closing it forgets its key for log and error redaction.

    Network (both the API session and the downloads' storage session; see
    :class:`~ninepic_async.NetworkOptions`): ``proxy`` sends every request through one proxy;
    ``trust_env`` (default True, as curl and requests do) honours ``HTTP_PROXY``/``HTTPS_PROXY``/
    ``NO_PROXY``; ``ca_bundle`` (a PEM path or an ``ssl.SSLContext``) replaces the trusted CAs;
    ``verify_ssl=False`` turns certificate checks off and logs a warning every time.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        org_id: int,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        verify_ssl: bool = True,
        timeout: float | None = None,
        max_rate_limit_retries: int = DEFAULT_MAX_RATE_LIMIT_RETRIES,
        proxy: str | None = None,
        trust_env: bool = True,
        ca_bundle: str | os.PathLike[str] | ssl.SSLContext | None = None,
        deadline_s: float | None = None,
    ) -> None:
        key = (api_key or os.environ.get(ENV_API_KEY) or "").strip()
        if not key:
            raise ConfigurationError(f"no API key: pass api_key or set ${ENV_API_KEY}")
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in key):
            raise ConfigurationError("the API key contains whitespace or control characters")
        install_redaction()  # also covers package modules imported since this module was
        if isinstance(org_id, bool) or not isinstance(org_id, int) or org_id < 0:
            raise ConfigurationError(f"org_id must be a non-negative integer; got {org_id!r}")
        raw_base = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).strip()
        try:
            base = URL(raw_base)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"base_url is not a URL: {raw_base!r}") from exc
        if base.scheme not in ("http", "https") or not base.host or base.query_string or base.fragment:
            raise ConfigurationError(f"base_url must be http(s)://host[:port][/path]; got {raw_base!r}")
        timeout_name = "timeout_s"
        if timeout is not None:
            if timeout_s is not None and timeout_s != timeout:
                raise ConfigurationError(
                    f"give timeout or timeout_s, not both; got {timeout!r} and {timeout_s!r}"
                )
            timeout_name, timeout_s = "timeout", timeout
        elif timeout_s is None:
            timeout_s = DEFAULT_TIMEOUT_S
        _check_seconds(timeout_name, timeout_s)
        if deadline_s is not None:
            _check_seconds("deadline_s", deadline_s)
        _check_retries("max_retries", max_retries)
        _check_retries("max_rate_limit_retries", max_rate_limit_retries)
        if base.scheme == "http" and not _is_loopback(base.host):
            log.warning(
                "base_url %s is plain http to a host that is not this machine: "
                "the API key travels unencrypted",
                base.origin(),
            )
        self._network = NetworkOptions(
            proxy=proxy, trust_env=trust_env, ca_bundle=ca_bundle, verify_ssl=verify_ssl
        )
        network = self._network.resolve()
        self._org_id = org_id
        self._base_url = str(base).rstrip("/")
        self._transport = Transport(
            api_key=key,
            base_url=URL(self._base_url),
            session=session,
            timeout_s=float(timeout_s),
            max_retries=max_retries,
            max_rate_limit_retries=max_rate_limit_retries,
            network=network,
            deadline_s=None if deadline_s is None else float(deadline_s),
        )
        self._options: RequestOptions = self._transport.options
        self._is_view = False

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def org_id(self) -> int:
        """The organisation every request of this client is scoped to."""
        return self._org_id

    @property
    def base_url(self) -> str:
        """The API origin (and optional path prefix), without a trailing slash."""
        return self._base_url

    @property
    def network(self) -> NetworkOptions:
        """Proxy and TLS settings; downloads use them for the storage session too."""
        return self._network

    @property
    def timeout_s(self) -> float:
        """Seconds one API request attempt may take (connect, send, read the whole body)."""
        return self._options.timeout_s

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt for 5xx, connection errors and timeouts."""
        return self._options.retry.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        retry = dataclasses.replace(self._options.retry, max_retries=_check_retries("max_retries", value))
        self._options = dataclasses.replace(self._options, retry=retry)

    @property
    def max_rate_limit_retries(self) -> int:
        """Retries after a 429 (throttling), counted apart from :attr:`max_retries`."""
        return self._options.retry.max_rate_limit_retries

    @property
    def deadline_s(self) -> float | None:
        """Seconds one whole call may take, all attempts and waits included (None: no deadline)."""
        return self._options.retry.deadline_s

    @property
    def respect_shared_pause(self) -> bool:
        """Whether calls wait out the client-wide pause a 429 set (see :meth:`with_options`)."""
        return self._options.respect_shared_pause

    def with_options(
        self,
        *,
        timeout: float | None = None,
        timeout_s: float | None = None,
        deadline_s: float | Literal[_Keep.KEEP] | None = KEEP,
        max_retries: int | None = None,
        max_rate_limit_retries: int | None = None,
        respect_shared_pause: bool | None = None,
    ) -> NinePicClient:
        """A view of this client whose calls use other options; arguments not given keep theirs.

        Like openai's ``client.with_options(...)``: the view shares this client's session, key
        and 429 pause (it opens no session of its own and needs no closing; closing it does
        nothing, close the client you made). ``deadline_s`` bounds a whole call, every attempt
        and wait included, then raises :class:`APITimeoutError` (``None`` removes a deadline);
        ``respect_shared_pause=False`` lets the view's calls go out while another task's 429
        holds the client back (they still honour a 429 of their own). Example::

            health = client.with_options(deadline_s=2.0, max_retries=0, respect_shared_pause=False)
            await health.ping(event_id)
        """
        if timeout is not None and timeout_s is not None and timeout != timeout_s:
            raise ConfigurationError(
                f"give timeout or timeout_s, not both; got {timeout!r} and {timeout_s!r}"
            )
        options = self._options
        retry = options.retry
        if timeout is not None or timeout_s is not None:
            name = "timeout" if timeout is not None else "timeout_s"
            chosen = timeout if timeout is not None else timeout_s
            options = dataclasses.replace(options, timeout_s=_check_seconds(name, chosen))
        if deadline_s is not KEEP:
            seconds = None if deadline_s is None else _check_seconds("deadline_s", deadline_s)
            retry = dataclasses.replace(retry, deadline_s=seconds)
        if max_retries is not None:
            retry = dataclasses.replace(retry, max_retries=_check_retries("max_retries", max_retries))
        if max_rate_limit_retries is not None:
            budget = _check_retries("max_rate_limit_retries", max_rate_limit_retries)
            retry = dataclasses.replace(retry, max_rate_limit_retries=budget)
        if respect_shared_pause is not None:
            if not isinstance(respect_shared_pause, bool):
                raise ConfigurationError(
                    f"respect_shared_pause must be True or False; got {respect_shared_pause!r}"
                )
            options = dataclasses.replace(options, respect_shared_pause=respect_shared_pause)
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._options = dataclasses.replace(options, retry=retry)
        view._is_view = True
        return view

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's API counters: calls, retries by reason, 429 pauses and the
        time calls waited for them (see :class:`ClientStats`). Cheap: read it for metrics any time."""
        return self._transport.counters.snapshot()

    @property
    def instrumentation(self) -> Instrumentation | None:
        """What observes each API call and downloaded photo (a tracer; see
        :mod:`ninepic_async.instrumentation` and ``ninepic_async.otel.instrument``), or None."""
        return self._transport.instrumentation

    @instrumentation.setter
    def instrumentation(self, value: Instrumentation | None) -> None:
        self._transport.instrumentation = value

    def __repr__(self) -> str:
        return f"NinePicClient(org_id={self._org_id}, base_url={self._base_url!r})"

    async def __aenter__(self) -> NinePicClient:
        if not self._is_view:
            self._transport.reopen()
        self._transport.session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it, and forget the key (see redaction).

        A view from :meth:`with_options` owns nothing: closing it does nothing.
        """
        if not self._is_view:
            await self._transport.close()

    # --- URLs and calls ---------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        url: URL,
        tp: type[_transport.T],
        *,
        params: _transport.JSONParams | None = None,
        json: Any = None,
        form: _transport.FormFactory | None = None,
    ) -> _transport.T:
        """One API call with this client's (or view's) options."""
        return await self._transport.call(
            method, url, tp, params=params, json=json, form=form, options=self._options
        )

    def _event_url(self, event_id: int, *segments: str | int) -> URL:
        return self._transport.url(self._org_id, "event", event_id, *segments)

    # --- events ----------------------------------------------------------------------------
    async def ping(self, event_id: int) -> PingResult:
        """Check key, host and event mapping in one round trip (404: no event configuration)."""
        event = _check_int("event_id", event_id, 0)
        return await self._call("GET", self._event_url(event, "ping"), PingResult)

    def _listing(
        self,
        url: URL,
        page_type: type[PageT],
        items_of: Callable[[PageT], Sequence[ItemT]],
        page: object,
        page_size: object,
        limits: tuple[int, int],
        **extra: int,
    ) -> AsyncPage[ItemT, PageT]:
        """A GET listing: ``page`` and ``page_size`` are checked now, each page fetched when needed."""
        first = _check_int("page", page, 1)
        size = _check_page_size(page_size, limits)

        async def fetch(number: int) -> PageT:
            params = _page_params(number, size, **extra)
            return await self._call("GET", url, page_type, params=params)

        return AsyncPage(fetch, items_of, page=first)

    def list_events(
        self, *, page: int = 1, page_size: int | None = None
    ) -> AsyncPage[EventListItem, EventList]:
        """The organisation's events (default/max page size in EVENTS_PAGE_SIZE)."""
        url = self._transport.url(self._org_id, "events")
        return self._listing(url, EventList, _events_of, page, page_size, EVENTS_PAGE_SIZE)

    async def event_details(self, event_id: int) -> EventDetails:
        """Event metadata and which search features are enabled (flags None on older deployments)."""
        event = _check_int("event_id", event_id, 0)
        return await self._call("GET", self._event_url(event, "details"), EventDetails)

    # --- photos ------------------------------------------------------------------------------
    def all_photos(
        self, event_id: int, *, page: int = 1, page_size: int | None = None
    ) -> AsyncPage[ImageItem, ImagePage]:
        """Every photo of the event, by capture time (untimed last)."""
        url = self._event_url(_check_int("event_id", event_id, 0), "images")
        return self._listing(url, ImagePage, _images_of, page, page_size, IMAGES_PAGE_SIZE)

    def bib_search(
        self, event_id: int, bib: str, *, page: int = 1, page_size: int | None = None
    ) -> AsyncPage[ImageItem, ImagePage]:
        """Photos tagged with a BIB number (case-insensitive on the server)."""
        event = _check_int("event_id", event_id, 0)
        url = self._event_url(event, "bibs", _check_segment("bib", bib))
        return self._listing(url, ImagePage, _images_of, page, page_size, BIBS_PAGE_SIZE)

    async def face_search(
        self,
        event_id: int,
        selfie: Selfie,
        *,
        request_id: str | None = None,
        page_size: int | None = None,
    ) -> FaceSearchResult:
        """Upload a selfie and get the first page of matches plus the ``request_id`` for later pages.

        The file travels in multipart field FACE_UPLOAD_FIELD and ``request_id`` (reuse a cached
        search) in form field FACE_REQUEST_ID_FIELD; both names are inferred.
        """
        event = _check_int("event_id", event_id, 0)
        size = _check_page_size(page_size, FACES_PAGE_SIZE)
        rid = None if request_id is None else _check_text("request_id", request_id)
        content, filename, content_type = await _read_selfie(selfie)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field(FACE_UPLOAD_FIELD, content, filename=filename, content_type=content_type)
            if rid is not None:
                data.add_field(FACE_REQUEST_ID_FIELD, rid)
            return data

        params = None if size is None else {"page_size": size}
        return await self._call(
            "POST", self._event_url(event, "faces"), FaceSearchResult, params=params, form=form
        )

    def face_search_results(
        self, event_id: int, request_id: str, *, page: int = 1, page_size: int | None = None
    ) -> AsyncPage[ImageItem, FaceSearchResult]:
        """Pages of an earlier Face Search (``GET .../faces/{request_id}``), no re-matching."""
        event = _check_int("event_id", event_id, 0)
        url = self._event_url(event, "faces", _check_segment("request_id", request_id))
        return self._listing(url, FaceSearchResult, _face_images_of, page, page_size, FACES_PAGE_SIZE)

    # --- timeline -----------------------------------------------------------------------------
    async def timeline_days(self, event_id: int) -> TimelineDays:
        """UTC days with hourly photo counts, ascending."""
        event = _check_int("event_id", event_id, 0)
        return await self._call("GET", self._event_url(event, "timeline", "days"), TimelineDays)

    def timeline_images(
        self,
        event_id: int,
        *,
        start_s: int | datetime,
        end_s: int | datetime,
        page: int = 1,
        page_size: int | None = None,
    ) -> AsyncPage[ImageItem, ImagePage]:
        """Photos captured in ``[start_s, end_s)``: Unix seconds, or datetimes (naive ones are UTC).

        The window travels as query parameters TIMELINE_FROM_PARAM / TIMELINE_TO_PARAM (inferred).
        """
        event = _check_int("event_id", event_id, 0)
        start = _check_time_s("start_s", start_s)
        end = _check_time_s("end_s", end_s)
        if end <= start:
            raise RequestValidationError("end_s", f"must be greater than start_s ({start}); got {end}")
        url = self._event_url(event, "timeline", "images")
        window = {TIMELINE_FROM_PARAM: start, TIMELINE_TO_PARAM: end}
        return self._listing(url, ImagePage, _images_of, page, page_size, TIMELINE_PAGE_SIZE, **window)

    # --- video clipping ---------------------------------------------------------------------
    async def start_video_clipping(
        self,
        event_id: int,
        selfie: Selfie | None = None,
        *,
        request_id: str | None = None,
    ) -> VideoClippingJob:
        """Start a 9Pic Motion job from a selfie or an existing Face Search ``request_id`` (exactly one).

        Sent as multipart: the file in VIDEO_UPLOAD_FIELD or the id in VIDEO_REQUEST_ID_FIELD (inferred).
        """
        event = _check_int("event_id", event_id, 0)
        if (selfie is None) == (request_id is None):
            raise RequestValidationError("selfie", "give exactly one of selfie or request_id")
        upload: tuple[bytes, str, str] | None = None
        rid: str | None = None
        if request_id is not None:
            rid = _check_text("request_id", request_id)
        else:
            upload = await _read_selfie(selfie)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData(default_to_multipart=True)
            if upload is not None:
                content, filename, content_type = upload
                data.add_field(VIDEO_UPLOAD_FIELD, content, filename=filename, content_type=content_type)
            if rid is not None:
                data.add_field(VIDEO_REQUEST_ID_FIELD, rid)
            return data

        response = await self._transport.request(
            "POST",
            self._event_url(event, "video-clipping", "search-by-selfie"),
            form=form,
            options=self._options,
        )
        return video_job_from_data(self._transport.decode_any(response))

    async def video_clipping_status(self, event_id: int, request_id: str) -> VideoClippingJob:
        """The job's current status and, once ready, its clips; ``raw`` holds the whole payload."""
        event = _check_int("event_id", event_id, 0)
        rid = _check_segment("request_id", request_id)
        response = await self._transport.request(
            "GET", self._event_url(event, "video-clipping", rid), options=self._options
        )
        return video_job_from_data(self._transport.decode_any(response))

    async def wait_for_video_clips(
        self,
        event_id: int,
        request_id: str,
        *,
        timeout_s: float = VIDEO_POLL_TIMEOUT_S,
        interval_s: float = VIDEO_POLL_INTERVAL_S,
        on_poll: Callable[[VideoClippingJob], object] | None = None,
    ) -> VideoClippingJob:
        """Poll until the job reaches a terminal status (success or failure; see VIDEO_*_STATUSES).

        Returns the terminal job (check its ``status``); raises PollTimeoutError after ``timeout_s``.
        ``on_poll`` is called with every status polled (a progress display's hook).
        """
        for field, value in (("timeout_s", timeout_s), ("interval_s", interval_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise RequestValidationError(field, f"must be a positive number; got {value!r}")
        deadline = _transport._monotonic() + timeout_s
        while True:
            job = await self.video_clipping_status(event_id, request_id)
            if on_poll is not None:
                on_poll(job)
            if _is_terminal(job):
                return job
            remaining = deadline - _transport._monotonic()
            if remaining <= 0:
                raise PollTimeoutError(
                    f"video clipping job {request_id} still {job.status or 'unknown'!s} after {timeout_s} s"
                )
            await _transport._sleep(min(interval_s, remaining))

    # --- original photos ------------------------------------------------------------------------
    async def original_photos(
        self,
        event_id: int,
        method: str,
        identifier: str | Sequence[str],
        *,
        page: int = 1,
        page_size: int | None = None,
    ) -> OriginalPhotos:
        """One page of presigned URLs (about an hour valid) for originals, by bib/selfie/image_id(s)."""
        body = _check_originals(validate_original_photos_request(method, identifier, page, page_size))
        event = _check_int("event_id", event_id, 0)
        return await self._fetch_originals(event, body, page, page_size)

    async def _fetch_originals(
        self, event: int, body: object, page: int, page_size: int | None
    ) -> OriginalPhotos:
        return await self._call(
            "POST",
            self._event_url(event, "original-photos"),
            OriginalPhotos,
            params=_page_params(page, page_size),
            json=body,
        )

    def iter_original_photos(
        self,
        event_id: int,
        method: str,
        identifier: str | Sequence[str],
        *,
        page_size: int = ORIGINALS_PAGE_SIZE[1],
    ) -> AsyncIterator[OriginalPhotos]:
        """Every page of :meth:`original_photos`, each requested only when the consumer wants it."""
        body = _check_originals(validate_original_photos_request(method, identifier, 1, page_size))
        event = _check_int("event_id", event_id, 0)

        async def fetch(number: int) -> OriginalPhotos:
            return await self._fetch_originals(event, body, number, page_size)

        listing: AsyncPage[Any, OriginalPhotos] = AsyncPage(
            fetch,
            lambda result: result.presigned_urls,
            is_empty=_originals_empty,
            identity=_originals_identity,
        )
        return listing.pages()

    # --- downloads (delegated to ninepic_async.download) -------------------------------------------
    async def download_originals(
        self, event_id: int, dest: str | os.PathLike[str], **kwargs: Unpack[DownloadKwargs]
    ) -> DownloadReport:
        """Download originals to ``dest``; see :func:`ninepic_async.download.download_originals`."""
        from .download import download_originals  # lazy: the downloader is optional for API-only use

        install_redaction()  # the downloader's loggers may have just been created
        return await download_originals(self, event_id, dest, **kwargs)

    def iter_download_originals(
        self, event_id: int, dest: str | os.PathLike[str], **kwargs: Unpack[DownloadKwargs]
    ) -> AsyncIterator[FileResult]:
        """Like :meth:`download_originals`, yielding each FileResult as it finishes."""
        from .download import iter_download_originals

        install_redaction()
        return iter_download_originals(self, event_id, dest, **kwargs)
