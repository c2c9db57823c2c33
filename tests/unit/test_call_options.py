"""Per-call options: ``with_options`` views, the whole-call deadline and the shared-pause opt-out.

Mocked API, the transport's clock replaced (FakeClock / ManualClock): no wall-clock windows.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import pytest
from helpers.api import EVENT, EVENT_BASE, PING, PONG, FakeClock, ManualClock, err, ok, sent
from helpers.clients import new_client

from ninepic_async import APITimeoutError, ConfigurationError, InternalServerError, RateLimitError
from ninepic_async.client import NinePicClient

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type


# --- views ------------------------------------------------------------------------------------
async def test_a_view_shares_the_session_key_and_pause_and_opens_no_session(
    mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[aiohttp.ClientSession] = []
    original_init = aiohttp.ClientSession.__init__

    def counting_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        made.append(session)
        original_init(session, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting_init)
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client() as client:
        view = client.with_options(timeout=2.0, max_retries=0, deadline_s=5.0, respect_shared_pause=False)
        await view.ping(EVENT)
        await view.with_options(max_rate_limit_retries=1).ping(EVENT)
        assert view._transport is client._transport
        assert len(made) == 1
        await view.close()  # a view owns nothing
        await client.ping(EVENT)
    assert len(made) == 1
    assert made[0].closed


def test_a_view_keeps_what_is_not_given_and_is_typed() -> None:
    client = new_client(timeout_s=7.0, max_retries=3, max_rate_limit_retries=9, deadline_s=60.0)
    view = assert_type(client.with_options(max_retries=0), NinePicClient)
    assert (view.timeout_s, view.max_retries, view.max_rate_limit_retries) == (7.0, 0, 9)
    assert (view.deadline_s, view.respect_shared_pause) == (60.0, True)
    assert client.max_retries == 3  # the original is untouched
    other = assert_type(
        view.with_options(timeout=1.5, deadline_s=None, respect_shared_pause=False), NinePicClient
    )
    assert (other.timeout_s, other.max_retries, other.deadline_s, other.respect_shared_pause) == (
        1.5,
        0,
        None,
        False,
    )
    assert repr(other) == repr(client)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout_s": -1.0}, "timeout_s"),
        ({"deadline_s": 0}, "deadline_s"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_rate_limit_retries": 1.5}, "max_rate_limit_retries"),
        ({"respect_shared_pause": "no"}, "respect_shared_pause"),
        ({"timeout": 1.0, "timeout_s": 2.0}, "not both"),
    ],
)
def test_bad_options_are_refused_naming_the_option(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        new_client().with_options(**kwargs)


# --- the deadline -----------------------------------------------------------------------------
async def test_a_deadline_stops_a_429_storm(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "1"}, repeat=True)
    async with new_client(max_rate_limit_retries=50) as client:
        start = clock.now
        with pytest.raises(APITimeoutError, match=r"5\.0 s deadline") as info:
            await client.with_options(deadline_s=5.0).ping(EVENT)
    assert clock.now - start <= 5.0  # gave up before the deadline instead of waiting past it
    assert len(sent(mocked, "GET", PING)) == 5  # at 0, 1, 2, 3, 4 s; the next would start at 5 s
    assert not isinstance(info.value, RateLimitError)


async def test_a_deadline_never_waits_out_a_backoff_that_ends_after_it(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, status=500, payload=err("boom"), repeat=True)
    async with new_client(max_retries=10, deadline_s=1.2) as client:
        with pytest.raises(APITimeoutError, match="deadline") as info:
            await client.ping(EVENT)
    assert clock.sleeps == [0.5]  # the next backoff (1.0 s) would end past the deadline
    assert isinstance(info.value.__cause__, InternalServerError)


async def test_an_attempt_gets_no_more_time_than_the_deadline_leaves(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client(timeout_s=30.0) as client:
        await client.with_options(deadline_s=4.0).ping(EVENT)
        await client.ping(EVENT)
    short, default = (call.kwargs["timeout"] for call in sent(mocked, "GET", PING))
    assert (short.total, default.total) == (4.0, 30.0)
    assert default.connect is None  # waiting for a pooled connection is not a connect timeout


async def test_a_deadline_inside_the_shared_pause_fails_at_once(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client() as client:
        client._transport.pause_for(8.0)
        with pytest.raises(APITimeoutError, match="respect_shared_pause=False"):
            await client.with_options(deadline_s=2.0).ping(EVENT)
    assert clock.sleeps == [] and sent(mocked, "GET", PING) == []


# --- the shared pause -----------------------------------------------------------------------
async def test_an_opted_out_call_goes_out_during_the_pause(
    mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's 429 (Retry-After: 8) pauses the client; a health check that opted out is answered
    while time stands still, and an ordinary call keeps waiting."""
    clock = ManualClock().install(monkeypatch)
    details = f"{EVENT_BASE}/details"
    mocked.get(details, status=429, payload=err("slow down"), headers={"Retry-After": "8"})
    mocked.get(details, payload=ok({"event_id": EVENT}))
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client() as client:
        background = asyncio.create_task(client.event_details(EVENT))
        await clock.until_waiting(1)
        assert client._transport.paused_for_s == 8.0
        ordinary = asyncio.create_task(client.ping(EVENT))
        await clock.until_waiting(2)

        health = client.with_options(respect_shared_pause=False, deadline_s=2.0)
        assert (await health.ping(EVENT)).status == "ok"
        assert client._transport.paused_for_s == 8.0  # answered before any time passed
        assert clock.sleeps == [8.0, 8.0]  # only the two ordinary calls waited
        assert not ordinary.done()

        clock.advance(8.0)
        await asyncio.gather(background, ordinary)
    assert len(sent(mocked, "GET", PING)) == 2


async def test_an_opted_out_call_still_honours_its_own_429_and_pauses_the_client(
    mocked: Any, clock: FakeClock
) -> None:
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "3"})
    mocked.get(PING, payload=PONG)
    async with new_client() as client:
        client._transport.pause_for(10.0)
        start = clock.now
        await client.with_options(respect_shared_pause=False).ping(EVENT)
        assert clock.sleeps == [3.0] and clock.now == start + 3.0
        assert client._transport.paused_for_s == 7.0  # the longer pause of the others still runs


async def test_an_opted_out_call_sets_the_pause_for_the_others(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "4"})
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client() as client:
        task = asyncio.create_task(client.with_options(respect_shared_pause=False).ping(EVENT))
        while client._transport.paused_for_s == 0:
            await asyncio.sleep(0)
        assert client._transport.paused_for_s == 4.0
        await task


async def test_a_deadline_bounds_the_wait_for_a_free_connection(mocked: Any) -> None:
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client() as client:
        client._transport._slots = asyncio.Semaphore(0)  # every pooled connection is busy
        with pytest.raises(APITimeoutError, match="waiting for a free connection"):
            await client.with_options(deadline_s=0.01).ping(EVENT)
    assert sent(mocked, "GET", PING) == []
