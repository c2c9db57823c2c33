"""Tiny in-process HTTP proxies for the network tests (no tests here).

:func:`forward_proxy` (aiohttp) serves absolute-form requests (``GET http://host/path``, what a
client sends to a proxy for a plain-http target), forwards them as they are and records each
one. :func:`tunnel_proxy` (asyncio streams) serves ``CONNECT host:port``, what a client sends
for an https target, and pipes the bytes both ways. Both can demand credentials (407).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from yarl import URL

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """One request the proxy forwarded."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass
class Proxy:
    """A running proxy: its ``url`` and every request it saw, in order."""

    url: str
    seen: list[Seen] = field(default_factory=list)

    def hosts(self) -> set[str]:
        """The ``host:port`` of every target it forwarded to."""
        return {URL(s.url).raw_authority for s in self.seen}


def _authorised(header: str | None, credentials: tuple[str, str] | None) -> bool:
    if credentials is None:
        return True
    expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
    return header == expected


@asynccontextmanager
async def forward_proxy(credentials: tuple[str, str] | None = None) -> AsyncIterator[Proxy]:
    """``async with forward_proxy() as proxy``: a proxy on 127.0.0.1 until the block ends;
    with ``credentials`` (user, password), a request without them is answered 407."""
    proxy = Proxy(url="")
    upstream = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        target = request.raw_path
        if not target.startswith("http://"):
            return web.Response(status=400, text="not a proxy request (absolute-form URL expected)")
        proxy.seen.append(Seen(request.method, target, dict(request.headers)))
        if not _authorised(request.headers.get("Proxy-Authorization"), credentials):
            return web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="test"'})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with upstream.request(
            request.method, URL(target, encoded=True), headers=headers, data=body or None,
            allow_redirects=False,
        ) as answer:  # fmt: skip
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    response.headers.add(name, value)
            if answer.content_length is not None:
                response.content_length = answer.content_length
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        await runner.cleanup()
        await upstream.close()


def dead_port() -> int:
    """A local port nothing listens on (bound, then closed): a dead proxy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@asynccontextmanager
async def tunnel_proxy(credentials: tuple[str, str] | None = None) -> AsyncIterator[Proxy]:
    """``async with tunnel_proxy() as proxy``: a CONNECT proxy on 127.0.0.1; ``seen`` records
    each CONNECT (``url`` is its ``host:port``)."""
    proxy = Proxy(url="")
    pipes: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _version = head[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        proxy.seen.append(Seen(method, f"http://{target}", headers))
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        elif not _authorised(headers.get("Proxy-Authorization"), credentials):
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        else:
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            for task in (_pipe(reader, up_writer), _pipe(up_reader, writer)):
                pipes.add(asyncio.ensure_future(task))
            return
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield proxy
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()
