"""A tiny in-process HTTP forward proxy for the network tests (no tests here).

It serves absolute-form requests (``GET http://host/path HTTP/1.1``, what a client sends to a
proxy for a plain-http target), forwards them as they are and records each one. There is no
CONNECT support: the targets in tests are the plain-http simulator.
"""

from __future__ import annotations

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


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[Proxy]:
    """``async with forward_proxy() as proxy``: a proxy on 127.0.0.1 until the block ends."""
    proxy = Proxy(url="")
    upstream = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        target = request.raw_path
        if not target.startswith("http://"):
            return web.Response(status=400, text="not a proxy request (absolute-form URL expected)")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        proxy.seen.append(Seen(request.method, target, dict(request.headers)))
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
