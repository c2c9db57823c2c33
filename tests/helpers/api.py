"""Shared helpers of the mocked-API client/transport/pagination tests (no tests here)."""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import aioresponses.core as aioresponses_core
import pytest
from aioresponses import aioresponses
from multidict import CIMultiDict
from yarl import URL

from ninepic_async import _transport

KEY = "test-key-0f3b9c2e7d41a865"
ORG = 903
EVENT = 456
BASE = "https://api.test.example"
EVENT_BASE = f"{BASE}/api/v1/ext/{ORG}/event/{EVENT}"


def ok(data: Any, message: str = "ok") -> dict[str, Any]:
    """A success envelope."""
    return {"responseType": "success", "message": message, "data": data}


def err(message: str) -> dict[str, Any]:
    """An error envelope."""
    return {"responseType": "error", "message": message, "data": None}


PING = f"{EVENT_BASE}/ping"
"""The mocked event's ping endpoint: the call the transport tests make."""
PONG = ok({"status": "ok", "org_id": ORG, "event_id": EVENT}, "pong")
"""Its success answer."""


def pagination(current: int, total_pages: int, *, total: int = 0, size: int = 2) -> dict[str, Any]:
    return {
        "total": total,
        "currentPage": current,
        "totalPages": total_pages,
        "hasNextPage": current < total_pages,
        "hasPreviousPage": current > 1,
        "page_size": size,
    }


def image(image_id: str) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "img_url": f"https://photos.example/large/{image_id}.jpg",
        "thumbnail_url": f"https://photos.example/small/{image_id}.jpg",
        "original_url": None,
        "width": 3240,
        "height": 4860,
    }


def image_page(page: int, total_pages: int, ids: list[str]) -> dict[str, Any]:
    return ok({"images": [image(i) for i in ids], "pagination": pagination(page, total_pages)})


def sent(m: Any, method: str, url: str) -> list[Any]:
    """aioresponses' recorded calls of ``method url`` (url with its query)."""
    return list(m.requests.get((method, URL(url)), []))


async def sent_headers(call: Any) -> dict[str, str]:
    """The headers (lower-case names) a recorded call put on the wire: its ``headers`` plus what
    its per-request aiohttp middlewares add (the transport adds the API key in one)."""
    request = types.SimpleNamespace(headers=CIMultiDict(call.kwargs.get("headers") or {}))
    seen: dict[str, str] = {}

    async def send(req: Any) -> Any:
        seen.update({name.lower(): value for name, value in req.headers.items()})

    handler = send
    for middleware in reversed(call.kwargs.get("middlewares") or ()):
        handler = functools.partial(middleware, handler=handler)
    await handler(request)
    return seen


class FakeClock:
    """Replaces the transport's sleep and monotonic clock: sleeps are recorded and advance time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        target = self.now + delay
        await asyncio.sleep(0)
        self.now = max(self.now, target)

    def install(self, monkeypatch: Any) -> FakeClock:
        monkeypatch.setattr(_transport, "_sleep", self.sleep)
        monkeypatch.setattr(_transport, "_monotonic", self.monotonic)
        return self


class ManualClock:
    """Replaces the transport's sleep and monotonic clock; time moves only when the test says.

    ``sleep`` waits until :meth:`advance` has moved ``now`` past its end, so a test can see
    who is waiting (``waiting``) before letting time pass: no real time window is involved.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if delay <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + delay, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    @property
    def waiting(self) -> int:
        """How many sleeps are under way."""
        return len(self._waiters)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking every sleep that ends by then."""
        self.now += seconds
        for entry in list(self._waiters):
            end, waiter = entry
            if end <= self.now + 1e-9:
                self._waiters.remove(entry)
                if not waiter.done():
                    waiter.set_result(None)

    async def until_waiting(self, count: int) -> None:
        """Let the loop run until ``count`` sleeps are under way."""
        while self.waiting < count:
            await asyncio.sleep(0)

    def install(self, monkeypatch: Any) -> ManualClock:
        monkeypatch.setattr(_transport, "_sleep", self.sleep)
        monkeypatch.setattr(_transport, "_monotonic", self.monotonic)
        return self


@dataclass
class Attempt:
    seq_start: int
    started: float
    seq_end: int = -1
    ended: float = -1.0
    status: int = 0
    retry_after: str | None = None


class Recorder:
    """Wraps ``Transport._send``: every attempt with its start/end (transport clock) and status."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self._seq = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Recorder:
        original = _transport.Transport._send

        async def send(transport: Any, *args: Any, **kwargs: Any) -> Any:
            attempt = Attempt(self._next(), _transport._monotonic())
            self.attempts.append(attempt)
            response = await original(transport, *args, **kwargs)
            attempt.seq_end, attempt.ended = self._next(), _transport._monotonic()
            attempt.status = response.status
            attempt.retry_after = response.headers.get("Retry-After")
            return response

        monkeypatch.setattr(_transport.Transport, "_send", send)
        return self

    @property
    def throttled(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 429]

    def assert_every_429_paused_everyone(self, pause_s: float) -> None:
        """No attempt starts, after a 429 arrived, sooner than ``pause_s`` after that 429."""
        for late in self.attempts:
            for t429 in self.throttled:
                if t429.seq_end < late.seq_start:
                    assert late.started >= t429.ended + pause_s - 1e-6, (late, t429)


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without ``stream_writer`` (required since aiohttp 3.13)."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def mock_api(monkeypatch: Any) -> Iterator[aioresponses]:
    """An aioresponses context that works with the installed aiohttp (use from a fixture)."""
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as m:
        yield m
