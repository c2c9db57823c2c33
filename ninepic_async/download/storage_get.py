"""The GET of a photo's presigned storage URL, as both transfers make it (:mod:`.fetch` into a
file, :mod:`.upload` into a bucket object): what each failure of the exchange means. What
aiohttp's own errors mean is in :mod:`.aiohttp_get`, loaded only when a GET goes through it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import yarl

from .._exceptions import StorageStatusError, URLExpiredError
from .._retry import should_retry_status
from .._timeouts import TIMEOUT_ERRORS
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
    "certificate_refused",
    "connection_failed",
    "exchange_errors",
    "refused",
    "usable_url",
]

ERROR_BODY_BYTES = 16 * 1024
"""How much of a refusal's body is read for its error text."""
NETWORK_ERRORS: tuple[type[Exception], ...] = (SocketGetError, *TIMEOUT_ERRORS)
"""A failed exchange with the store on a socket of :mod:`.socket_get`: worth another attempt
(:data:`.aiohttp_get.NETWORK_ERRORS` adds aiohttp's)."""
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


def certificate_refused(target: yarl.URL, reason: str) -> Failed:
    """What a refused storage certificate means for the photo, and what to do about it."""
    return Failed(
        f"the TLS certificate of the storage host {target.host} was refused ({reason}); not "
        "retried. If a private CA signed it, pass that CA's certificate as ca_bundle (--ca-bundle)"
    )


@contextlib.contextmanager
def exchange_errors(target: yarl.URL) -> Iterator[None]:
    """Turn the errors of an exchange with ``target`` on a socket of :mod:`.socket_get` into
    what they mean for the photo: a refused TLS certificate is :class:`Failed`, any other
    connection error :class:`Transient`."""
    try:
        yield
    except SocketCertificateError as exc:
        raise certificate_refused(target, exc.reason) from exc
    except NETWORK_ERRORS as exc:
        raise connection_failed(exc) from exc


def connection_failed(exc: Exception) -> Transient:
    """A failed exchange with the store, whichever client raised ``exc``: worth another attempt."""
    return Transient(f"storage connection failed: {type(exc).__name__}: {exc}")


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
