"""Storage GETs through aiohttp: the run's storage session, its body reader, what aiohttp's
errors mean, the size probe. Loaded only when a GET cannot go over :mod:`.socket_get` (a
proxy, a caller's session, an answer without a length, a loop that cannot watch sockets) or a
bucket upload needs it, so a run that never does imports no aiohttp."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import aiohttp
import yarl

from .._constants import (
    DOWNLOAD_CONNECT_TIMEOUT_S,
    DOWNLOAD_READ_BUFFER_BYTES,
    DOWNLOAD_SOCK_READ_TIMEOUT_S,
    USER_AGENT,
)
from .._exceptions import DownloadError
from .._network import Network
from . import storage_get
from .files import Chunk
from .integrity import content_range_total
from .storage_get import Failed, certificate_refused, connection_failed

__all__ = ["NETWORK_ERRORS", "exchange_errors", "make_storage_session", "probe_size", "received_chunks"]

NETWORK_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, *storage_get.NETWORK_ERRORS)
"""A failed exchange with the store through aiohttp (or on a socket): worth another attempt."""


def make_storage_session(concurrency: int, network: Network | None = None) -> aiohttp.ClientSession:
    """The storage session: no API key, ``concurrency`` connections, idle timeouts, raw bodies;
    TLS trust from ``network`` (its proxies are chosen per request, see :class:`~.fetch.Fetcher`)."""
    ssl = True if network is None else network.ssl
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300, ssl=ssl)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=DOWNLOAD_CONNECT_TIMEOUT_S, sock_read=DOWNLOAD_SOCK_READ_TIMEOUT_S
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        headers={"User-Agent": USER_AGENT},
        read_bufsize=DOWNLOAD_READ_BUFFER_BYTES,
    )


@contextlib.contextmanager
def exchange_errors(target: yarl.URL) -> Iterator[None]:
    """:func:`.storage_get.exchange_errors` for an exchange that may go through aiohttp: a bad
    URL is a :class:`DownloadError`, a refused certificate or proxy :class:`Failed`, any other
    client error :class:`Transient`."""
    try:
        with storage_get.exchange_errors(target):
            yield
    except aiohttp.InvalidURL as exc:
        raise DownloadError(f"invalid storage URL: {exc}") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        cause = exc.certificate_error
        raise certificate_refused(target, getattr(cause, "verify_message", None) or str(cause)) from exc
    except aiohttp.ClientHttpProxyError as exc:
        raise Failed(
            f"the proxy refused to connect to the storage host {target.host} (HTTP {exc.status} "
            f"{exc.message}); not retried"
        ) from exc
    except aiohttp.ClientError as exc:
        raise connection_failed(exc) from exc


async def received_chunks(content: aiohttp.StreamReader, chunk_size: int) -> AsyncGenerator[Chunk, None]:
    """The body's bytes: as received (no join copy) when ``chunk_size`` is at least the read
    buffer, else in pieces of at most ``chunk_size``."""
    if chunk_size < DOWNLOAD_READ_BUFFER_BYTES:
        async for chunk in content.iter_chunked(chunk_size):
            yield chunk
        return
    async for chunk, _end_of_http_chunk in content.iter_chunks():
        if chunk:  # an empty piece marks a chunked-encoding boundary, not the end
            yield chunk


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
