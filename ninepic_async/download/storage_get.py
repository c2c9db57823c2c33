"""The GET of a photo's presigned storage URL, as both transfers make it (:mod:`.fetch` into a
file, :mod:`.upload` into a bucket object): what each failure of the exchange means."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import aiohttp
import yarl

from .._exceptions import DownloadError, StorageStatusError, URLExpiredError
from .._network import Network
from .._retry import should_retry_status
from .._transport import TIMEOUT_ERRORS
from .integrity import content_range_total
from .policy import FilePolicy
from .socket_get import SocketCertificateError, SocketGetError
from .sources import Job
from .urls import UrlRefresher, is_expired_response, needs_refresh, storage_error_text

__all__ = [
    "ERROR_BODY_BYTES",
    "MAX_RELOCATIONS",
    "NETWORK_ERRORS",
    "Failed",
    "Transient",
    "exchange_errors",
    "probe_size",
    "refused",
    "usable_url",
]

ERROR_BODY_BYTES = 16 * 1024
"""How much of a refusal's body is read for its error text."""
NETWORK_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, SocketGetError, *TIMEOUT_ERRORS)
"""A failed exchange with the store: worth another attempt."""
MAX_RELOCATIONS = 5
"""How often a photo whose name turned out taken moves to the next free name before it fails."""


class Transient(Exception):
    """An attempt failed in a way worth retrying (connection, cut body, 5xx, too slow)."""


class Failed(Exception):
    """The photo's outcome is decided: failed with this message (no retry helps)."""


def refused(status: int, body: bytes, reason: str | None) -> Exception:
    """What a non-success answer means: an expired URL, a status worth retrying, or a refusal."""
    text = storage_error_text(body) or reason or ""
    if is_expired_response(status, body):
        return URLExpiredError(status, text or "Request has expired")
    if should_retry_status(status):
        return Transient(f"storage answered HTTP {status}: {text}")
    return StorageStatusError(status, text)


def _certificate_refused(target: yarl.URL, reason: str) -> str:
    """What a refused storage certificate means for the photo, and what to do about it."""
    return (
        f"the TLS certificate of the storage host {target.host} was refused ({reason}); not "
        "retried. If a private CA signed it, pass that CA's certificate as ca_bundle (--ca-bundle)"
    )


@contextlib.contextmanager
def exchange_errors(target: yarl.URL) -> Iterator[None]:
    """Turn the client errors of an exchange with ``target`` (through aiohttp or on a socket of
    :mod:`.socket_get`) into what they mean for the photo:
    a refused TLS certificate or proxy is :class:`Failed`, any other connection error :class:`Transient`."""
    try:
        yield
    except aiohttp.InvalidURL as exc:
        raise DownloadError(f"invalid storage URL: {exc}") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        cause = exc.certificate_error
        reason = getattr(cause, "verify_message", None) or str(cause)
        raise Failed(_certificate_refused(target, reason)) from exc
    except SocketCertificateError as exc:
        raise Failed(_certificate_refused(target, exc.reason)) from exc
    except aiohttp.ClientHttpProxyError as exc:
        raise Failed(
            f"the proxy refused to connect to the storage host {target.host} (HTTP {exc.status} "
            f"{exc.message}); not retried"
        ) from exc
    except NETWORK_ERRORS as exc:
        raise Transient(f"storage connection failed: {type(exc).__name__}: {exc}") from exc


async def probe_size(
    session: aiohttp.ClientSession,
    network: Network,
    url: str,
    etag: str | None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> int | None:
    """The object's size from a ``Range: bytes=0-0`` answer (of the object ``etag`` names, when
    given), or None when it gives none."""
    target = yarl.URL(url, encoded=True)
    options: dict[str, Any] = {"proxy": network.proxy_for(target), "ssl": network.ssl}
    if timeout is not None:
        options["timeout"] = timeout
    try:
        async with session.get(
            target, headers={"Accept-Encoding": "identity", "Range": "bytes=0-0"}, **options
        ) as resp:
            if resp.status != 206 or (etag is not None and resp.headers.get("ETag", etag) != etag):
                return None
            return content_range_total(resp.headers.get("Content-Range", ""))
    except NETWORK_ERRORS:
        return None


async def usable_url(
    refresher: UrlRefresher | None, job: Job, url: str | None, policy: FilePolicy
) -> tuple[str, FilePolicy]:
    """A URL to try ``job`` with, and the policy after it: ``url`` itself, or a renewed one when
    there is none or it is about to expire (a proactive refresh, while that budget lasts)."""
    if url is None:
        return await _renewed_url(refresher, job, url), policy
    if refresher is not None and job.refreshable and policy.proactive_refreshes > 0 and needs_refresh(url):
        return await _renewed_url(refresher, job, url), policy.increment("proactive_refresh")
    return url, policy


async def _renewed_url(refresher: UrlRefresher | None, job: Job, stale_url: str | None) -> str:
    """A fresh URL for ``job`` (``stale_url`` is the one that expired); :class:`Failed` when none comes."""
    if refresher is None or not job.refreshable:
        raise Failed("no URL for this photo and no way to renew one")
    refreshed = await refresher.refresh(job.image_id, stale_url)
    if refreshed.url is None:
        raise Failed(refreshed.error or "URL refresh failed")
    return refreshed.url
