"""Rate limiting (HTTP 429): client calls and whole downloads get through a storm, wait as told,
and stay polite; one client shares one pause between all its tasks.

The simulator answers half of all API requests with 429 (``Faults.api_429_rate=0.5``), with
``Retry-After: 1`` or without the header. Every attempt is recorded (start and end, on the
transport's clock) by wrapping ``Transport._send``, which is where each HTTP exchange happens.
The transport's clock is fake (no wall-clock windows) except in the one real-time test.
The mocked-API unit tests of the pause and the budgets are in unit/test_transport_retry.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from aioresponses import CallbackResult
from helpers.api import EVENT, EVENT_BASE, ORG, FakeClock, ManualClock, Recorder, err, ok
from helpers.clients import new_client
from helpers.sim import SimFactory, all_ids, check_dest

from ninepic_async import RateLimitError
from ninepic_async.client import NinePicClient
from ninepic_async.download import download_originals
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
    async with new_client(
        sim,
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
    async with new_client(
        sim,
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


async def test_a_429_with_no_retries_left_still_pauses_every_task_of_the_client(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    recorder = Recorder().install(monkeypatch)
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 2
    sim.faults.api_fault_budget = 1
    async with new_client(sim, max_retries=0, max_rate_limit_retries=0) as client:
        with pytest.raises(RateLimitError, match="429"):
            await client.ping(sim.event_id)
        assert client._transport.paused_for_s == 2.0  # the server asked for 2 s: everyone waits
        with anyio.fail_after(10):
            await asyncio.gather(*(client.ping(sim.event_id) for _ in range(TASKS)))
    assert sim.counters.api_requests == 1 + TASKS
    recorder.assert_every_429_paused_everyone(2.0)
    assert clock.now >= 1000.0 + 2.0


# --- the shared pause is what keeps the storm small ---------------------------------------------------
BLOCK_S = 0.2


class Gateway:
    """A strict gateway on the transport's (manual) clock: the first request trips a ``BLOCK_S``
    block, and every request arriving during the block is answered 429 with ``Retry-After`` =
    the block length."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.blocked_until: float | None = None
        self.calls = 0
        self.throttled = 0

    async def respond(self, url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0)
        self.calls += 1
        now = self.clock.monotonic()
        if self.blocked_until is None:
            self.blocked_until = now + BLOCK_S
        if now < self.blocked_until:
            self.throttled += 1
            return CallbackResult(status=429, payload=err("slow down"), headers={"Retry-After": f"{BLOCK_S}"})
        return CallbackResult(payload=ok({"status": "ok", "org_id": ORG, "event_id": EVENT}))


async def _staggered_pings(clients: list[NinePicClient], clock: ManualClock) -> None:
    """Task 0 goes first and trips the block; the other 15 start while it waits. Time moves on
    only once all 16 tasks are waiting (for the shared pause, or for a 429 of their own)."""
    first = asyncio.create_task(clients[0].ping(EVENT))
    await clock.until_waiting(1)
    rest = [asyncio.create_task(clients[i % len(clients)].ping(EVENT)) for i in range(1, TASKS)]
    await clock.until_waiting(TASKS)
    clock.advance(BLOCK_S)
    await asyncio.gather(first, *rest)


async def test_shared_pause_versus_a_pause_per_task(mocked: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One client (shared pause) against 16 clients (a pause each) on the same traffic."""
    clock = ManualClock().install(monkeypatch)
    shared = Gateway(clock)
    mocked.get(f"{EVENT_BASE}/ping", callback=shared.respond, repeat=True)
    async with new_client(max_retries=3, max_rate_limit_retries=3) as client:
        with anyio.fail_after(10):
            await _staggered_pings([client], clock)
    mocked.clear()

    alone = Gateway(clock)
    mocked.get(f"{EVENT_BASE}/ping", callback=alone.respond, repeat=True)
    clients = [new_client(max_retries=3, max_rate_limit_retries=3) for _ in range(TASKS)]
    try:
        with anyio.fail_after(10):
            await _staggered_pings(clients, clock)
    finally:
        for c in clients:
            await c.close()

    assert (shared.calls, shared.throttled) == (TASKS + 1, 1)  # one 429, then each task once
    assert (alone.calls, alone.throttled) == (2 * TASKS, TASKS)  # every task burns a 429 of its own


# --- a whole download through a storm ----------------------------------------------------------------
@pytest.mark.parametrize("fault_seed", [1, 2, 3])
@pytest.mark.parametrize("retry_after_s", [1.0, None], ids=["retry-after-1", "no-retry-after"])
async def test_a_download_with_default_settings_gets_through_a_50_percent_429_storm(
    rsim: SimFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    retry_after_s: float | None,
    fault_seed: int,
) -> None:
    """Half of all API calls answer 429. With the client's default budgets (as `ninepic download`
    uses them) the run completes with every byte right; every request that starts after a 429
    arrived waits out its Retry-After (the listing, the URL batches and the refresher share one
    client, so one pause); only 429s are retried, so the API calls stay bounded. 1,000 photos
    make ~27 API calls: with 429s sharing the 5-retry budget one of those calls gave up about
    one run in three. The transport's sleeps run on a fake clock, the storage is real."""
    sim = await rsim(photo_count=1000, photo_size=(500, 1_000), seed=62, url_lifetime_s=3.0, missing_count=2)
    clock = FakeClock().install(monkeypatch)
    recorder = Recorder().install(monkeypatch)
    sim.faults.seed = fault_seed
    sim.faults.api_429_rate = 0.5
    sim.faults.api_retry_after_s = retry_after_s
    started = clock.now
    async with new_client(sim) as client:
        with anyio.fail_after(60):
            report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    missing = set(sim.world.missing_ids)
    assert (report.downloaded, report.failed) == (998, 2)
    check_dest(sim, tmp_path, ok=all_ids(sim) - missing, failed=missing)
    throttled = sim.counters.responses_429
    answered = sim.counters.api_requests - throttled
    assert throttled > 0 and answered > 0
    assert sim.counters.api_requests == len(recorder.attempts)
    # Only 429s were retried, and each logical call needed about two attempts, not a flood.
    assert sim.counters.responses_5xx == 0
    assert sim.counters.api_requests < 3 * answered, (sim.counters.api_requests, answered)
    if retry_after_s is not None:
        assert all(a.retry_after == "1" for a in recorder.throttled)
        recorder.assert_every_429_paused_everyone(retry_after_s)
        assert clock.now - started >= retry_after_s  # the pauses really happened
    else:
        assert all(a.retry_after is None for a in recorder.throttled)
        assert clock.sleeps and all(s >= 0 for s in clock.sleeps)
