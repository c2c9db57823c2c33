"""A 429 storm against the simulator: 16 concurrent tasks all finish, wait as told, and stay polite.

The simulator answers half of all API requests with 429 (``Faults.api_429_rate=0.5``), with
``Retry-After: 1`` or without the header. Every attempt is recorded (start and end, on the
transport's clock) by wrapping ``Transport._send``, which is where each HTTP exchange happens.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import pytest
from aioresponses import CallbackResult
from helpers.api import BASE, EVENT, EVENT_BASE, KEY, ORG, FakeClock, Recorder, err, ok

from ninepic_async.client import NinePicClient
from ninepic_async.testing import Simulator

TASKS = 16
PAGE_SIZE = 40  # 120 photos -> 3 pages per all_photos walk
MAX_RETRIES = 25  # 0.5 ** 26: a task never runs out of retries in practice


async def _storm(sim: Simulator, client: NinePicClient) -> int:
    """16 tasks: 8 walk every page of All Photos, 8 fetch originals by image ids. Logical calls made."""
    photo_ids = [p.image_id for p in sim.world.photos]

    async def walk() -> list[str]:
        return [i.image_id async for i in client.all_photos(sim.event_id, page_size=PAGE_SIZE)]

    async def originals(k: int) -> list[str]:
        chunk = photo_ids[k * 10 : k * 10 + 10]
        result = await client.original_photos(sim.event_id, "image_ids", chunk)
        return [u.url for u in result.presigned_urls]

    walkers = [walk() for _ in range(TASKS // 2)]
    fetchers = [originals(k) for k in range(TASKS // 2)]
    results = await asyncio.gather(*walkers, *fetchers)
    for listed in results[: TASKS // 2]:
        assert listed == photo_ids  # every page, in order, nothing lost or doubled by retries
    for urls in results[TASKS // 2 :]:
        assert len(urls) == 10
    pages = -(-len(photo_ids) // PAGE_SIZE)
    return (TASKS // 2) * pages + TASKS // 2


@pytest.mark.parametrize("retry_after_s", [1.0, None], ids=["retry-after-1", "no-retry-after"])
async def test_sixteen_tasks_get_through_a_429_storm(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, retry_after_s: float | None
) -> None:
    clock = FakeClock().install(monkeypatch)  # the waits are real waits on a fake clock: fast tests
    recorder = Recorder().install(monkeypatch)
    sim.faults.seed = 7
    sim.faults.api_429_rate = 0.5
    sim.faults.api_retry_after_s = retry_after_s
    start = clock.now
    async with NinePicClient(
        sim.api_key,
        org_id=sim.org_id,
        base_url=sim.base_url,
        max_retries=MAX_RETRIES,
        max_rate_limit_retries=MAX_RETRIES,
    ) as client:
        with anyio.fail_after(30):
            logical = await _storm(sim, client)
    assert sim.counters.responses_429 > 0
    assert sim.counters.api_requests == len(recorder.attempts)
    assert sim.counters.api_requests < 3 * logical, (sim.counters.api_requests, logical)
    assert sim.counters.api_requests == logical + sim.counters.responses_429  # only 429s were retried
    if retry_after_s is not None:
        assert all(a.retry_after == "1" for a in recorder.throttled)
        recorder.assert_every_429_paused_everyone(retry_after_s)
        assert clock.now - start >= retry_after_s
    else:
        assert all(a.retry_after is None for a in recorder.throttled)
        assert clock.sleeps and all(s >= 0 for s in clock.sleeps)


async def test_retry_after_is_honoured_in_real_time(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wall clock this time: a bounded storm (8 throttles), every request waits out a 1 s Retry-After."""
    recorder = Recorder().install(monkeypatch)
    sim.faults.seed = 3
    sim.faults.api_429_rate = 0.5
    sim.faults.api_retry_after_s = 1
    sim.faults.api_fault_budget = 8
    started = time.monotonic()
    async with NinePicClient(
        sim.api_key,
        org_id=sim.org_id,
        base_url=sim.base_url,
        max_retries=MAX_RETRIES,
        max_rate_limit_retries=MAX_RETRIES,
    ) as client:
        with anyio.fail_after(30):
            logical = await _storm(sim, client)
    elapsed = time.monotonic() - started
    assert sim.counters.responses_429 == 8
    assert sim.counters.api_requests == logical + 8
    assert elapsed >= 1.0
    recorder.assert_every_429_paused_everyone(1.0)


async def test_a_429_with_no_retries_left_still_pauses_the_others(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    recorder = Recorder().install(monkeypatch)
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 2
    sim.faults.api_fault_budget = 1
    async with NinePicClient(
        sim.api_key, org_id=sim.org_id, base_url=sim.base_url, max_retries=0, max_rate_limit_retries=0
    ) as client:
        with pytest.raises(Exception, match="429"):
            await client.ping(sim.event_id)
        with anyio.fail_after(10):
            await asyncio.gather(*(client.ping(sim.event_id) for _ in range(TASKS)))
    assert sim.counters.api_requests == 1 + TASKS
    recorder.assert_every_429_paused_everyone(2.0)
    assert clock.now >= 1000.0 + 2.0


# --- the shared pause is what keeps the storm small ---------------------------------------------------
BLOCK_S = 0.2


class Gateway:
    """A strict gateway (wall clock): the first request trips a ``BLOCK_S`` block, and every request
    arriving during the block is answered 429 with ``Retry-After`` = the block length."""

    def __init__(self) -> None:
        self.blocked_until: float | None = None
        self.calls = 0
        self.throttled = 0

    async def respond(self, url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0)
        self.calls += 1
        now = time.monotonic()
        if self.blocked_until is None:
            self.blocked_until = now + BLOCK_S
        if now < self.blocked_until:
            self.throttled += 1
            return CallbackResult(status=429, payload=err("slow down"), headers={"Retry-After": f"{BLOCK_S}"})
        return CallbackResult(payload=ok({"status": "ok", "org_id": ORG, "event_id": EVENT}))


async def _staggered_pings(clients: list[NinePicClient]) -> None:
    """Task 0 goes first and trips the block; the other 15 start while it waits."""
    first = asyncio.create_task(clients[0].ping(EVENT))
    while not any(c._transport.paused_for_s > 0 for c in clients):
        await asyncio.sleep(0)
    rest = [asyncio.create_task(clients[i % len(clients)].ping(EVENT)) for i in range(1, TASKS)]
    await asyncio.gather(first, *rest)


async def test_shared_pause_versus_a_pause_per_task(mocked: Any) -> None:
    """One client (shared pause) against 16 clients (a pause each) on the same traffic."""
    shared = Gateway()
    mocked.get(f"{EVENT_BASE}/ping", callback=shared.respond, repeat=True)
    async with NinePicClient(
        KEY, org_id=ORG, base_url=BASE, max_retries=3, max_rate_limit_retries=3
    ) as client:
        with anyio.fail_after(10):
            await _staggered_pings([client])
    mocked.clear()

    alone = Gateway()
    mocked.get(f"{EVENT_BASE}/ping", callback=alone.respond, repeat=True)
    clients = [
        NinePicClient(KEY, org_id=ORG, base_url=BASE, max_retries=3, max_rate_limit_retries=3)
        for _ in range(TASKS)
    ]
    try:
        with anyio.fail_after(10):
            await _staggered_pings(clients)
    finally:
        for c in clients:
            await c.close()

    assert (shared.calls, shared.throttled) == (TASKS + 1, 1)  # one 429, then each task once
    assert (alone.calls, alone.throttled) == (2 * TASKS, TASKS)  # every task burns a 429 of its own
