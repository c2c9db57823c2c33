"""The client's connections: a wait for a free pooled connection is no failure, and one client
belongs to one event loop (a second loop gets a clear library error, not aiohttp's)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from helpers.api import EVENT, EVENT_BASE, ORG, ok
from helpers.clients import new_client
from helpers.sim import SimFactory

from ninepic_async import ConfigurationError, _transport
from ninepic_async.client import NinePicClient
from ninepic_async.testing import Simulator

CALLS = 40
POOL = 2


@asynccontextmanager
async def _pooled_client(
    sim: Simulator, own_session: bool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NinePicClient]:
    """A client whose pool holds POOL connections: its own session, or a caller's."""
    if own_session:
        monkeypatch.setattr(_transport, "API_CONNECTION_LIMIT", POOL)
        async with new_client(sim, timeout_s=0.5, max_retries=0) as client:
            yield client
        return
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
    async with session, new_client(sim, session=session, timeout_s=0.5, max_retries=0) as client:
        yield client


@pytest.mark.parametrize("own_session", [True, False], ids=["own-session", "caller-session"])
async def test_waiting_for_a_pooled_connection_is_not_a_failure(
    sim_factory: SimFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    own_session: bool,
) -> None:
    """40 calls share 2 connections; each answer takes 0.05 s, so the last calls queue for about
    a second, twice their 0.5 s timeout. With no retries allowed, every call still succeeds: the
    queueing is not part of an attempt, and nothing is logged as a retry."""
    sim = await sim_factory()
    sim.faults.api_latency_s = 0.05
    caplog.set_level(logging.INFO, logger="ninepic_async")
    async with _pooled_client(sim, own_session, monkeypatch) as client:
        results = await asyncio.gather(*(client.ping(sim.event_id) for _ in range(CALLS)))
    assert [r.status for r in results] == ["ok"] * CALLS
    assert sim.counters.api_requests == CALLS
    assert not [r for r in caplog.records if "retry" in r.getMessage()]


# --- one event loop per client ----------------------------------------------------------------
PONG = ok({"status": "ok", "org_id": ORG, "event_id": EVENT})


def test_a_client_used_in_a_second_event_loop_says_what_to_do(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=PONG, repeat=True)
    client = new_client()
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(client.ping(EVENT))
        with pytest.raises(ConfigurationError, match="one client per event loop") as info:
            asyncio.run(client.ping(EVENT))
        assert "inside the running loop" in str(info.value)
    finally:
        first.run_until_complete(client.close())
        first.close()


def test_a_client_left_open_in_a_finished_loop_can_still_be_closed(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=PONG, repeat=True)
    client = new_client()
    asyncio.run(client.ping(EVENT))  # the first loop ends with the session open
    with pytest.raises(ConfigurationError, match="one client per event loop"):
        asyncio.run(client.ping(EVENT))
    asyncio.run(client.close())
    assert client._transport._session is None


def test_a_client_closed_in_one_loop_can_be_entered_again_in_another(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=PONG, repeat=True)
    client = new_client()

    async def use() -> str:
        async with client:
            return (await client.ping(EVENT)).status

    assert asyncio.run(use()) == "ok"
    assert asyncio.run(use()) == "ok"
