"""Presigned URLs: when they expire, which image they name, and refreshing them in batches.

Expiry is read from the URL itself (``X-Amz-Date`` + ``X-Amz-Expires``). A download is
refreshed before it starts when its URL expires within ``min(URL_REFRESH_MARGIN_S,
lifetime / 4)``, and after a 403 whose S3 XML body says the request expired.
:class:`UrlRefresher` coalesces the refresh needs of every worker into
``original-photos`` calls with ``method=image_ids`` (at most ``URL_REFRESH_BATCH`` ids
each, waiting ``URL_REFRESH_LINGER_S`` for company), one call at a time. A batch is
topped up with queued jobs whose URLs were signed with the stale ones (they expire no
later), so a page of URLs that went stale in the queue is renewed in one call, not one
call per worker.
"""

from __future__ import annotations

import calendar
import logging
import math
import re
import time
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, unquote_plus, urlsplit

import anyio

from .._constants import URL_REFRESH_BATCH, URL_REFRESH_LINGER_S, URL_REFRESH_MARGIN_S
from .._exceptions import BadRequestError, NinePicError, redact
from ..models import OriginalPhotos, PresignedUrl
from ._types import DownloadClient
from .events import EventCallback, UrlsRefreshed

__all__ = [
    "Refreshed",
    "Resolved",
    "UrlExpiry",
    "UrlRefresher",
    "image_id_from_url",
    "is_expired_response",
    "match_urls_to_ids",
    "needs_refresh",
    "object_key",
    "parse_url_expiry",
    "refresh_margin_s",
    "resolve_urls",
]

logger = logging.getLogger(__name__)

_AMZ_EXPIRY_PARAM = re.compile(r"(?:^|&)(x-amz-date|x-amz-expires)=([^&]*)", re.IGNORECASE)
_AMZ_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_XML_CODE = re.compile(rb"<Code>\s*([^<]*?)\s*</Code>", re.IGNORECASE)
_XML_MESSAGE = re.compile(rb"<Message>\s*([^<]*?)\s*</Message>", re.IGNORECASE)


@dataclass(frozen=True)
class UrlExpiry:
    """When a presigned URL was signed and for how long it is valid (Unix seconds, seconds)."""

    signed_at_s: float
    lifetime_s: float

    @property
    def expires_at_s(self) -> float:
        """When the URL stops working, in Unix seconds (UTC)."""
        return self.signed_at_s + self.lifetime_s


def parse_url_expiry(url: str) -> UrlExpiry | None:
    """Expiry of a SigV4 presigned URL, or ``None`` when it carries no readable X-Amz-Date/Expires."""
    start = url.find("?")
    if start < 0:
        return None
    query = url[start + 1 :].partition("#")[0]
    # Only the two parameters are read (a regex, not parse_qsl: this runs once per download).
    params = {key.lower(): value for key, value in _AMZ_EXPIRY_PARAM.findall(query)}
    date = params.get("x-amz-date")
    expires = params.get("x-amz-expires")
    if date is None or expires is None:
        return None
    if "%" in date or "+" in date or "%" in expires or "+" in expires:
        date, expires = unquote_plus(date), unquote_plus(expires)
    match = _AMZ_DATE.match(date.strip())
    if match is None:
        return None
    try:
        lifetime_s = float(int(expires.strip()))
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        signed_at_s = float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None
    if lifetime_s < 0:
        return None
    return UrlExpiry(signed_at_s=signed_at_s, lifetime_s=lifetime_s)


def refresh_margin_s(expiry: UrlExpiry, *, margin_s: float = URL_REFRESH_MARGIN_S) -> float:
    """How long before expiry a URL counts as stale: ``min(margin_s, lifetime / 4)``."""
    return min(margin_s, expiry.lifetime_s / 4.0)


def needs_refresh(url: str, *, now_s: float | None = None, margin_s: float = URL_REFRESH_MARGIN_S) -> bool:
    """Whether ``url`` expires (or expired) within its refresh margin; unknown expiry -> False."""
    expiry = parse_url_expiry(url)
    if expiry is None:
        return False
    now = time.time() if now_s is None else now_s
    return expiry.expires_at_s - now <= refresh_margin_s(expiry, margin_s=margin_s)


def image_id_from_url(url: str) -> str | None:
    """The image id a storage URL names: the stem of its path's last segment (``.../<id>.jpg``)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    if not segment:
        return None
    stem = PurePosixPath(segment).stem if "." in segment[1:] else segment
    return stem or None


def is_expired_response(status: int, body: bytes) -> bool:
    """Whether a storage error response says the presigned URL expired.

    S3 answers 403 ``AccessDenied`` / "Request has expired"; some stores use ``ExpiredRequest``.
    """
    if status not in (400, 403):
        return False
    code_match = _XML_CODE.search(body)
    message_match = _XML_MESSAGE.search(body)
    code = code_match.group(1).decode("utf-8", "replace") if code_match else ""
    message = message_match.group(1).decode("utf-8", "replace").lower() if message_match else ""
    if code == "ExpiredRequest" or code == "ExpiredToken":
        return True
    return "request has expired" in message or (code == "AccessDenied" and "expired" in message)


def storage_error_text(body: bytes) -> str:
    """``Code: Message`` of an S3 XML error body, or a short excerpt of it."""
    code_match = _XML_CODE.search(body)
    message_match = _XML_MESSAGE.search(body)
    if code_match or message_match:
        code = code_match.group(1).decode("utf-8", "replace") if code_match else ""
        message = message_match.group(1).decode("utf-8", "replace") if message_match else ""
        return redact(": ".join(part for part in (code, message) if part))
    return redact(body[:120].decode("utf-8", "replace").strip())


def object_key(url: str) -> str:
    """The object key a storage URL names: its whole path, unquoted, without the leading ``/``.

    This, never the basename, is a URL's identity: ``a/IMG_0001.jpg`` and ``b/IMG_0001.jpg``
    are two photos.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url.split("?", 1)[0]
    return unquote(path).lstrip("/")


def match_urls_to_ids(
    ids: list[str], page: OriginalPhotos
) -> tuple[dict[str, PresignedUrl], list[PresignedUrl]]:
    """Pair the URLs of a response with the requested ids by the URL's last path stem.

    Returns ``(id -> item, leftover items)``; leftovers are URLs whose stem is not one of ``ids``.
    """
    wanted = set(ids)
    matched: dict[str, PresignedUrl] = {}
    leftovers: list[PresignedUrl] = []
    for item in page.presigned_urls:
        image_id = image_id_from_url(item.url)
        if image_id is not None and image_id in wanted and image_id not in matched:
            matched[image_id] = item
        else:
            leftovers.append(item)
    return matched, leftovers


@dataclass
class Resolved:
    """Outcome of asking for one id's URL: ``item`` (URL and suggested name), or ``error`` and ``path``."""

    item: PresignedUrl | None = None
    error: str | None = None
    path: str | None = None


async def _resolve_one(client: DownloadClient, event_id: int, image_id: str) -> Resolved:
    """One id by ``method: image_id``: the single URL of the answer is unambiguously its own."""
    try:
        page = await client.original_photos(event_id, "image_id", image_id)
    except BadRequestError as exc:
        return Resolved(error=exc.message)
    if len(page.presigned_urls) == 1:
        return Resolved(item=page.presigned_urls[0])
    for failed in page.failed_urls:
        return Resolved(error=redact(failed.error or "URL could not be generated"), path=failed.path)
    return Resolved(error=f"the API answered {len(page.presigned_urls)} URLs for one image")


async def resolve_urls(client: DownloadClient, event_id: int, ids: list[str]) -> dict[str, Resolved]:
    """URLs for ``ids`` (at most one original-photos page of them), each paired with ITS id.

    One ``image_ids`` call; a URL is that id's when its object key ends in ``<id>.<ext>``. URLs
    are never paired by position: when keys do not name the ids, a single leftover id and URL
    pair up, and every other unmatched id is asked for on its own (``method: image_id``).
    Raises the API's errors except 400, which means none of the ids exists (each fails).
    """
    results: dict[str, Resolved] = {}
    leftovers: list[PresignedUrl] = []
    for number in range(1, len(ids) + 1):  # one page of len(ids) photos; more only if the API says so
        try:
            page = await client.original_photos(event_id, "image_ids", ids, page=number, page_size=len(ids))
        except BadRequestError as exc:
            if number == 1:
                return {i: Resolved(error=exc.message) for i in ids}
            raise
        matched, extra = match_urls_to_ids(ids, page)
        for image_id, item in matched.items():
            results.setdefault(image_id, Resolved(item=item))
        leftovers.extend(extra)
        for failed in page.failed_urls:
            if failed.image_id in results or failed.image_id not in ids:
                continue
            results[failed.image_id] = Resolved(
                error=redact(failed.error or "URL could not be generated"), path=failed.path
            )
        if page.pagination is None or not page.pagination.has_next_page:
            break
    unresolved = [i for i in ids if i not in results]
    if len(unresolved) == 1 and len(leftovers) == 1:
        results[unresolved[0]] = Resolved(item=leftovers[0])
    elif unresolved and leftovers:
        logger.info(
            "%d URLs do not name their image ids; asking for %d ids one at a time",
            len(leftovers),
            len(unresolved),
        )
        for image_id in unresolved:
            results[image_id] = await _resolve_one(client, event_id, image_id)
    for image_id in ids:
        results.setdefault(image_id, Resolved(error="the API returned no URL for this image"))
    return results


@dataclass
class Refreshed:
    """Outcome of refreshing one id: a new ``url``, or ``error`` (and the API's ``path``)."""

    url: str | None = None
    error: str | None = None
    path: str | None = None


@dataclass
class _Slot:
    stale_url: str | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Refreshed = field(default_factory=Refreshed)


class _Renewable(Protocol):
    """A queued job whose URL the refresher may renew."""

    image_id: str
    url: str | None


class WaitingJobs(Protocol):
    """The job queue's index, as the refresher uses it (see :class:`~.queue.JobQueue`)."""

    def expiring_by(self, horizon_s: float, limit: int, exclude: Container[str]) -> list[Any]:
        """Up to ``limit`` waiting jobs whose URLs expire by ``horizon_s``."""

    def renew(self, job: Any, url: str) -> None:
        """Give a waiting job a fresh URL."""


_SAME_BATCH_SLACK_S = 1.0
"""URLs expiring within this of a stale one were signed with it (same page): renew them together."""


class UrlRefresher:
    """Batches URL refreshes of many workers into few ``image_ids`` calls.

    Run :meth:`run` in the download task group; workers call :meth:`refresh`.
    ``calls`` counts the original-photos requests made, ``urls_renewed`` / ``urls_failed`` the
    photos they gave a fresh URL / could not (each call is an :class:`UrlsRefreshed` event).
    """

    def __init__(
        self,
        client: DownloadClient,
        event_id: int,
        *,
        batch_size: int = URL_REFRESH_BATCH,
        linger_s: float = URL_REFRESH_LINGER_S,
    ) -> None:
        self._client = client
        self._event_id = event_id
        self._batch_size = max(1, batch_size)
        self._linger_s = linger_s
        self._send, self._receive = anyio.create_memory_object_stream[tuple[str, _Slot]](math.inf)
        self.calls = 0
        self.urls_renewed = 0
        self.urls_failed = 0
        self.on_event: EventCallback | None = None
        """The run's ``on_event`` callback (set by the run)."""
        self.waiting: WaitingJobs | None = None
        """The run's job queue: its jobs that expire with a stale URL are renewed alongside it."""
        self._topped_up: dict[str, _Slot] = {}
        """Queued jobs whose renewal is in flight: a worker that took one meanwhile waits for it."""

    async def refresh(self, image_id: str, url: str | None = None) -> Refreshed:
        """A fresh URL for ``image_id`` (or why there is none); waits for the batch it joins.

        ``url`` is the stale URL: queued jobs whose URLs expire no later than it are renewed
        in the same call (see :attr:`waiting`).
        """
        renewing = self._topped_up.get(image_id)
        if renewing is not None:  # taken from the queue while a call was renewing it
            await renewing.done.wait()
            if renewing.result.url is not None or renewing.result.error is not None:
                return renewing.result
        slot = _Slot(stale_url=url)
        self._send.send_nowait((image_id, slot))
        await slot.done.wait()
        return slot.result

    def _top_up(self, batch: dict[str, list[_Slot]]) -> dict[str, _Renewable]:
        """Waiting jobs that expire no later than the batch's stale URLs, to renew in the same call."""
        if self.waiting is None or len(batch) >= self._batch_size:
            return {}
        horizon_s = time.time() + URL_REFRESH_MARGIN_S
        for slots in batch.values():
            for slot in slots:
                expiry = parse_url_expiry(slot.stale_url) if slot.stale_url else None
                if expiry is not None:
                    horizon_s = max(horizon_s, expiry.expires_at_s)
        jobs = self.waiting.expiring_by(horizon_s + _SAME_BATCH_SLACK_S, self._batch_size - len(batch), batch)
        return {job.image_id: job for job in jobs}

    def close(self) -> None:
        """Release the request queue (call once the pool is done)."""
        self._send.close()
        self._receive.close()

    async def run(self) -> None:
        """Serve refresh requests until cancelled or closed."""
        async with self._receive:
            async for image_id, slot in self._receive:
                batch: dict[str, list[_Slot]] = {image_id: [slot]}
                with anyio.move_on_after(self._linger_s):
                    while len(batch) < self._batch_size:
                        more_id, more_slot = await self._receive.receive()
                        batch.setdefault(more_id, []).append(more_slot)
                # Take whatever else is already queued, up to the batch size, without waiting.
                while len(batch) < self._batch_size:
                    try:
                        more_id, more_slot = self._receive.receive_nowait()
                    except anyio.WouldBlock:
                        break
                    batch.setdefault(more_id, []).append(more_slot)
                extra = self._top_up(batch)
                self._topped_up = topped_up = {key: _Slot() for key in extra}
                try:
                    results = await self._fetch([*batch, *extra])
                    for key, job in extra.items():
                        renewed = topped_up[key].result = results[key]
                        if renewed.url is not None and self.waiting is not None:
                            self.waiting.renew(job, renewed.url)
                finally:
                    self._topped_up = {}
                    for renewing in topped_up.values():
                        renewing.done.set()  # interrupted: the default result sends waiters to their own call
                for key, slots in batch.items():
                    for waiting in slots:
                        waiting.result = results[key]
                        waiting.done.set()

    async def _fetch(self, ids: list[str]) -> dict[str, Refreshed]:
        self.calls += 1
        logger.debug("refreshing %d presigned URLs", len(ids))
        try:
            resolved = await resolve_urls(self._client, self._event_id, ids)
        except NinePicError as exc:
            results = {i: Refreshed(error=f"refresh failed: {exc}") for i in ids}
        else:
            results = {
                image_id: Refreshed(url=r.item.url)
                if r.item is not None
                else Refreshed(error=r.error, path=r.path)
                for image_id, r in resolved.items()
            }
        self._count(len(results), sum(1 for r in results.values() if r.url is not None))
        return results

    def _count(self, requested: int, renewed: int) -> None:
        self.urls_renewed += renewed
        self.urls_failed += requested - renewed
        if self.on_event is not None:
            self.on_event(UrlsRefreshed(requested, renewed))
