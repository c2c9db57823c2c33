"""Every fault knob of the simulator is observable, counted, mutable at run time and reproducible."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yarl

from ninepic_async.testing import Faults, Simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def ping(sim: Simulator, http: aiohttp.ClientSession) -> tuple[int, Any, Any]:
    url = f"{sim.base_url}/api/v1/ext/{sim.org_id}/event/{sim.event_id}/ping"
    async with http.get(url, headers={"X-API-Key": sim.api_key}) as resp:
        return resp.status, resp.headers, await resp.json()


async def download(
    sim: Simulator, http: aiohttp.ClientSession, image_id: str, **kwargs: Any
) -> tuple[int, Any, bytes]:
    async with http.get(yarl.URL(sim.presign(image_id), encoded=True), **kwargs) as resp:
        received = bytearray()
        async for chunk in resp.content.iter_any():
            received += chunk
        return resp.status, resp.headers, bytes(received)


async def test_api_429_with_retry_after(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 0.25
    status, headers, body = await ping(sim, http)
    assert status == 429 and headers["Retry-After"] == "0.25"
    assert body["responseType"] == "error" and body["data"] is None
    assert sim.counters.responses_429 == 1
    sim.faults.api_retry_after_s = None
    status, headers, _ = await ping(sim, http)
    assert status == 429 and "Retry-After" not in headers
    sim.faults.api_429_rate = 0.0
    assert (await ping(sim, http))[0] == 200
    assert sim.counters.responses_429 == 2
    assert sim.counters.api_requests_by_endpoint["ping"] == 3


async def test_api_5xx(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.api_5xx_rate = 1.0
    status, _, body = await ping(sim, http)
    assert status == 500 and body["responseType"] == "error"
    sim.faults.api_5xx_status = 503
    assert (await ping(sim, http))[0] == 503
    assert sim.counters.responses_5xx == 2


async def test_api_fault_budget_and_endpoint_filter(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.api_5xx_rate = 1.0
    sim.faults.api_fault_budget = 2
    assert [(await ping(sim, http))[0] for _ in range(4)] == [500, 500, 200, 200]
    sim.faults.api_fault_budget = None
    sim.faults.api_fault_endpoints = {"images"}
    assert (await ping(sim, http))[0] == 200


async def test_api_rates_are_partial_and_reproducible(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        sim = await sim_factory(faults=Faults(api_429_rate=0.5, seed=7))
        runs.append([(await ping(sim, http))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert 0 < runs[0].count(429) < 30


async def test_api_latency(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.api_latency_s = 0.2
    started = time.monotonic()
    assert (await ping(sim, http))[0] == 200
    assert time.monotonic() - started >= 0.19


async def test_storage_latency(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.storage_latency_s = 0.2
    started = time.monotonic()
    assert (await download(sim, http, sim.world.photos[0].image_id))[0] == 200
    assert time.monotonic() - started >= 0.19


async def test_storage_5xx(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.storage_5xx_rate = 1.0
    status, _, body = await download(sim, http, sim.world.photos[0].image_id)
    assert status == 503 and b"<Code>InternalError</Code>" in body
    assert sim.counters.storage_5xx == 1


@pytest.mark.parametrize("knob", ["storage_cut_rate", "storage_short_body_rate"])
async def test_storage_truncated_bodies(sim_factory: Any, http: aiohttp.ClientSession, knob: str) -> None:
    sim = await sim_factory(photo_size=200_000, storage_chunk_size=16_384)
    setattr(sim.faults, knob, 1.0)
    photo = sim.world.photos[0]
    with pytest.raises(aiohttp.ClientPayloadError):
        await download(sim, http, photo.image_id)
    counted = sim.counters.storage_cut if knob == "storage_cut_rate" else sim.counters.storage_short_body
    assert counted == 1
    assert sim.counters.storage_bytes_served < photo.size
    setattr(sim.faults, knob, 0.0)
    status, _, body = await download(sim, http, photo.image_id)
    assert status == 200 and body == sim.world.content(photo.image_id)


async def test_storage_corrupt(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.storage_corrupt_rate = 1.0
    photo = sim.world.photos[0]
    status, headers, body = await download(sim, http, photo.image_id)
    assert status == 200 and len(body) == photo.size
    good = sim.world.content(photo.image_id)
    assert body != good
    assert sum(a != b for a, b in zip(body, good, strict=True)) == 1
    assert headers["ETag"] == f'"{hashlib.md5(good).hexdigest()}"'
    assert sim.counters.storage_corrupted == 1


async def test_storage_faults_limited_to_image_ids_and_budget(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    target, other = sim.world.photos[0].image_id, sim.world.photos[1].image_id
    sim.faults.storage_5xx_rate = 1.0
    sim.faults.storage_fault_image_ids = {target}
    sim.faults.storage_fault_budget = 1
    assert (await download(sim, http, other))[0] == 200
    assert (await download(sim, http, target))[0] == 503
    assert (await download(sim, http, target))[0] == 200
    assert sim.counters.storage_requests_by_image == {other: 1, target: 2}


async def test_faults_clear(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.api_429_rate = 1.0
    sim.faults.storage_cut_rate = 1.0
    sim.faults.seed = 3
    sim.faults.clear()
    assert sim.faults.api_429_rate == 0.0 and sim.faults.storage_cut_rate == 0.0 and sim.faults.seed == 3
    assert (await ping(sim, http))[0] == 200


def test_fault_rng_restarts_when_seed_changes() -> None:
    faults = Faults(seed=1)
    first = [faults.randint(0, 1000) for _ in range(5)]
    faults.seed = 2
    faults.seed = 1
    assert [faults.randint(0, 1000) for _ in range(5)] == first


def test_fault_times_force_the_first_enabled_knob_for_those_ids_only() -> None:
    faults = Faults(storage_corrupt_rate=1e-12, storage_fault_times={"always": None, "twice": 2})
    assert [faults.storage_roll(faults.storage_corrupt_rate, "always") for _ in range(3)] == [True] * 3
    assert [faults.storage_roll(faults.storage_corrupt_rate, "twice") for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert not faults.storage_roll(faults.storage_corrupt_rate, "other")
    assert not faults.storage_roll(0.0, "always")  # a knob that is off stays off
