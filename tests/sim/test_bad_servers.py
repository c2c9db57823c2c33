"""A hostile API server on 127.0.0.1: endless or bomb bodies, trickles, silence, cut connections.

These need a real socket (aioresponses cannot stream). Each case asserts a clear error, a
bounded number of attempts, and for the big bodies bounded memory (tracemalloc peak) and a
server that was cut off long before it finished writing.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, KEY, ORG, FakeClock
from helpers.clients import new_client

from ninepic_async import (
    APIConnectionError,
    APIResponseDecodeError,
    APITimeoutError,
    InternalServerError,
)
from ninepic_async.client import NinePicClient

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"
CAP = 1 << 20  # the response cap used here: 1 MiB
LIMIT_S = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hostile:
    """One local server; ``hits`` counts requests, ``sent`` bytes written, ``finished`` full writes."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.hits = 0
        self.sent = 0
        self.finished = 0
        self.server: TestServer | None = None

    def route(self, path: str, handler: Handler, method: str = "GET") -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits += 1
            return await handler(request)

        self.app.router.add_route(method, f"{PREFIX}/{path}", counted)

    async def start(self) -> str:
        self.server = TestServer(self.app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def stream(
        self, request: web.Request, chunks: int, chunk: bytes, *, status: int = 200, delay_s: float = 0.0
    ) -> web.StreamResponse:
        """Write ``chunks`` x ``chunk`` without a Content-Length; stop quietly when the client leaves."""
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(b'{"responseType":"success","data":{"status":"')
            for _ in range(chunks):
                await response.write(chunk)
                self.sent += len(chunk)
                if delay_s:
                    await asyncio.sleep(delay_s)
            await response.write(b'"}}')
            await response.write_eof()
            self.finished += 1
        except (ConnectionError, RuntimeError):  # the client hung up: what we want
            pass
        return response


@pytest.fixture
async def hostile(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hostile]:
    FakeClock().install(monkeypatch)  # retries never sleep for real
    site = Hostile()
    yield site
    if site.server is not None:
        await site.server.close()


def make_client(base_url: str, **kwargs: Any) -> NinePicClient:
    client = new_client(base_url, **kwargs)
    client._transport.max_response_bytes = CAP
    return client


async def _peak_during(call: Callable[[], Awaitable[Any]]) -> tuple[BaseException | None, int]:
    """Run ``call``; return what it raised and the peak traced allocation in bytes."""
    tracemalloc.start()
    try:
        try:
            with anyio.fail_after(LIMIT_S):
                await call()
        except Exception as exc:
            error: BaseException | None = exc
        else:
            error = None
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- bodies larger than the cap -----------------------------------------------------------------------
async def test_an_endless_chunked_body_is_refused_at_the_cap(hostile: Hostile) -> None:
    total = 256 * CAP  # 256 MiB offered, no Content-Length
    hostile.route("ping", lambda r: hostile.stream(r, total // 65536, b"x" * 65536))
    base = await hostile.start()
    async with make_client(base, max_retries=3) as client:
        error, peak = await _peak_during(lambda: client.ping(EVENT))
    assert isinstance(error, APIResponseDecodeError), error
    assert f"exceeds the {CAP}-byte limit" in str(error) and "/ping" in str(error)
    assert error.status == 200
    assert hostile.hits == 1  # refusing is final: a retry would only fetch it again
    assert peak < 8 * CAP, f"peak {peak} bytes for a {CAP}-byte cap"
    await asyncio.sleep(0.05)
    assert hostile.finished == 0 and hostile.sent < total // 4  # the client hung up early


async def test_a_declared_huge_body_is_refused_before_reading(hostile: Hostile) -> None:
    async def liar(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Length": str(10**12), "Content-Type": "application/json"}
        )
        await response.prepare(request)
        await response.write(b"{")
        await asyncio.sleep(30)  # never sends the rest: only the header may be trusted
        return response

    hostile.route("ping", liar)
    base = await hostile.start()
    async with make_client(base) as client:
        with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError, match=f"{10**12} bytes"):
            await client.ping(EVENT)


async def test_a_gzip_bomb_is_refused_at_the_cap_without_inflating_it(hostile: Hostile) -> None:
    inflated = 32 * CAP
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b" " * inflated) + packer.flush()  # ~32 KiB on the wire

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    hostile.route("ping", handler)
    base = await hostile.start()
    async with make_client(base) as client:
        error, peak = await _peak_during(lambda: client.ping(EVENT))
    assert isinstance(error, APIResponseDecodeError), error
    assert "limit" in str(error)
    assert peak < 8 * CAP, f"peak {peak} bytes inflating a gzip bomb with a {CAP}-byte cap"


async def test_a_huge_error_page_keeps_its_status_and_is_retried(hostile: Hostile) -> None:
    async def page(request: web.Request) -> web.StreamResponse:
        return await hostile.stream(request, 64, b"<html>overloaded</html>" * 4096, status=503)

    hostile.route("ping", page)
    base = await hostile.start()
    async with make_client(base, max_retries=2) as client:
        error, peak = await _peak_during(lambda: client.ping(EVENT))
    assert isinstance(error, InternalServerError), error
    assert error.status == 503 and "overloaded" in error.message and len(error.message) <= 200
    assert hostile.hits == 3
    assert peak < 8 * CAP


async def test_a_body_just_under_the_cap_is_accepted(hostile: Hostile) -> None:
    pad = CAP - 200

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"responseType": "success", "data": {"status": "x" * pad}})

    hostile.route("ping", handler)
    base = await hostile.start()
    async with make_client(base) as client:
        with anyio.fail_after(LIMIT_S):
            assert len((await client.ping(EVENT)).status) == pad


# --- slow, silent and broken servers ------------------------------------------------------------------
async def test_a_server_that_never_answers_times_out_with_bounded_retries(hostile: Hostile) -> None:
    async def silent(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response()

    hostile.route("ping", silent)
    base = await hostile.start()
    async with make_client(base, timeout_s=0.2, max_retries=1) as client:
        with anyio.fail_after(LIMIT_S), pytest.raises(APITimeoutError, match="/ping"):
            await client.ping(EVENT)
    assert hostile.hits == 2


async def test_a_trickling_body_is_bounded_by_the_timeout(hostile: Hostile) -> None:
    hostile.route("ping", lambda r: hostile.stream(r, 10_000, b"x", delay_s=0.02))
    base = await hostile.start()
    async with make_client(base, timeout_s=0.3, max_retries=1) as client:
        with anyio.fail_after(LIMIT_S), pytest.raises(APITimeoutError):
            await client.ping(EVENT)
    assert hostile.hits == 2 and hostile.finished == 0


async def test_a_connection_cut_mid_body_is_retried_then_reported(hostile: Hostile) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000", "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"responseType":"success","data":{"stat')
        assert request.transport is not None
        request.transport.close()
        return response

    hostile.route("ping", cut)
    base = await hostile.start()
    async with make_client(base, max_retries=2) as client:
        with anyio.fail_after(LIMIT_S), pytest.raises(APIConnectionError) as info:
            await client.ping(EVENT)
    assert hostile.hits == 3
    assert KEY not in str(info.value)


async def test_a_cut_connection_heals_on_retry(hostile: Hostile) -> None:
    async def flaky(request: web.Request) -> web.StreamResponse:
        if hostile.hits == 1:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return web.json_response({"responseType": "success", "data": {"status": "ok"}})

    hostile.route("ping", flaky)
    base = await hostile.start()
    async with make_client(base, max_retries=2) as client:
        with anyio.fail_after(LIMIT_S):
            assert (await client.ping(EVENT)).status == "ok"
    assert hostile.hits == 2
