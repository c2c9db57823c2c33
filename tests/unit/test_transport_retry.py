"""The one retry loop: what is retried, backoff with jitter, Retry-After, and the shared 429 pause."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult
from helpers.api import BASE, EVENT, EVENT_BASE, KEY, ORG, PING, PONG, FakeClock, err, ok, sent
from helpers.clients import new_client

from ninepic_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    _retry,
)
from ninepic_async._constants import RETRY_AFTER_MAX_S
from ninepic_async.client import NinePicClient


@pytest.fixture
async def client() -> AsyncIterator[NinePicClient]:
    async with new_client(max_retries=3, max_rate_limit_retries=3) as c:
        yield c


async def test_5xx_is_retried_with_exponential_backoff(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, status=503, payload=err("busy"))
    mocked.get(PING, payload=PONG)
    assert (await client.ping(EVENT)).status == "ok"
    assert clock.sleeps == [0.5, 1.0]
    assert len(sent(mocked, "GET", PING)) == 3


async def test_jitter_is_applied_to_the_backoff(
    mocked: Any, clock: FakeClock, client: NinePicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_retry, "jitter", lambda delay: delay / 4)
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, payload=PONG)
    await client.ping(EVENT)
    assert clock.sleeps == [0.125, 0.25]


async def test_retries_are_bounded(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    mocked.get(PING, status=500, payload=err("still broken"), repeat=True)
    with pytest.raises(InternalServerError, match="still broken"):
        await client.ping(EVENT)
    assert len(sent(mocked, "GET", PING)) == 4  # 1 + max_retries
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_max_retries_zero_means_one_attempt(mocked: Any, clock: FakeClock) -> None:
    mocked.get(PING, status=500, payload=err("boom"), repeat=True)
    async with new_client(max_retries=0, max_rate_limit_retries=0) as client:
        with pytest.raises(InternalServerError):
            await client.ping(EVENT)
    assert len(sent(mocked, "GET", PING)) == 1 and clock.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_4xx_other_than_429_is_never_retried(
    mocked: Any, clock: FakeClock, client: NinePicClient, status: int
) -> None:
    mocked.get(PING, status=status, payload=err("no"), repeat=True)
    with pytest.raises(Exception) as info:
        await client.ping(EVENT)
    assert getattr(info.value, "status", None) == status
    assert len(sent(mocked, "GET", PING)) == 1
    assert clock.sleeps == []


async def test_429_retry_after_seconds(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    mocked.get(PING, status=429, payload=err("throttled"), headers={"Retry-After": "3"})
    mocked.get(PING, payload=PONG)
    await client.ping(EVENT)
    assert clock.sleeps == [3.0]


async def test_429_retry_after_http_date(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    mocked.get(PING, status=429, payload=err("throttled"), headers={"Retry-After": when})
    mocked.get(PING, payload=PONG)
    await client.ping(EVENT)
    (delay,) = clock.sleeps
    assert 28.0 <= delay <= 30.0


async def test_429_retry_after_is_capped(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    mocked.get(PING, status=429, payload=err("throttled"), headers={"Retry-After": "86400"})
    mocked.get(PING, payload=PONG)
    await client.ping(EVENT)
    assert clock.sleeps == [RETRY_AFTER_MAX_S]


async def test_429_without_retry_after_backs_off(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    mocked.get(PING, status=429, payload=err("throttled"))
    mocked.get(PING, status=429, payload=err("throttled"), headers={"Retry-After": "garbage"})
    mocked.get(PING, payload=PONG)
    await client.ping(EVENT)
    assert clock.sleeps == [0.5, 1.0]


async def test_429_exhausted_raises_rate_limit_error(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    mocked.get(PING, status=429, payload=err("throttled"), headers={"Retry-After": "1"}, repeat=True)
    with pytest.raises(RateLimitError) as info:
        await client.ping(EVENT)
    assert info.value.retry_after_s == 1.0
    assert len(sent(mocked, "GET", PING)) == 4


@pytest.mark.parametrize(
    ("exc", "final"),
    [
        (aiohttp.ClientConnectionError("refused"), APIConnectionError),
        (aiohttp.ServerDisconnectedError(), APIConnectionError),
        (aiohttp.ClientPayloadError("truncated body"), APIConnectionError),
        (asyncio.TimeoutError(), APITimeoutError),
    ],
)
async def test_transport_failures_are_retried(
    mocked: Any, clock: FakeClock, client: NinePicClient, exc: Exception, final: type[Exception]
) -> None:
    mocked.get(PING, exception=exc)
    mocked.get(PING, payload=PONG)
    assert (await client.ping(EVENT)).status == "ok"
    assert clock.sleeps == [0.5]
    mocked.get(PING, exception=exc, repeat=True)
    with pytest.raises(final) as info:
        await client.ping(EVENT)
    assert type(info.value) is final
    assert isinstance(info.value.__cause__, type(exc))


async def test_other_client_errors_are_not_retried(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    mocked.get(PING, exception=aiohttp.ClientError("odd"), repeat=True)
    with pytest.raises(APIConnectionError):
        await client.ping(EVENT)
    assert clock.sleeps == []


async def test_pagination_requests_retry_too(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/images?page=1", status=502, body="bad gateway")
    mocked.get(f"{EVENT_BASE}/images?page=1", payload=ok({"images": [{"image_id": "a"}]}))
    assert [i.image_id async for i in client.all_photos(EVENT)] == ["a"]


async def test_post_4xx_validation_not_retried(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    url = f"{EVENT_BASE}/original-photos?page=1"
    mocked.post(url, status=400, payload=err("All provided image_ids are invalid."), repeat=True)
    with pytest.raises(BadRequestError, match="invalid"):
        await client.original_photos(EVENT, "image_ids", ["nope"])
    assert len(sent(mocked, "POST", url)) == 1


# --- the client-wide pause ------------------------------------------------------------------------
def _timed(clock: FakeClock, log: list[tuple[str, float]], name: str, *responses: dict[str, Any]) -> Any:
    """An aioresponses callback that records (name, fake time) and plays ``responses`` in turn."""
    queue = list(responses)

    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        log.append((name, clock.now))
        spec = queue.pop(0) if len(queue) > 1 else queue[0]
        return CallbackResult(**spec)

    return callback


async def _until_paused(client: NinePicClient) -> None:
    for _ in range(1000):
        if client._transport.paused_for_s > 0:
            return
        await asyncio.sleep(0)
    raise AssertionError("the client never paused")


async def test_429_retry_after_pauses_every_task_of_the_client(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    log: list[tuple[str, float]] = []
    throttled = {"status": 429, "payload": err("slow"), "headers": {"Retry-After": "5"}}
    mocked.get(PING, callback=_timed(clock, log, "ping", throttled, {"payload": PONG}), repeat=True)
    images = ok({"images": [{"image_id": "a"}]})
    mocked.get(
        f"{EVENT_BASE}/images?page=1", callback=_timed(clock, log, "images", {"payload": images}), repeat=True
    )
    mocked.get(
        f"{EVENT_BASE}/details",
        callback=_timed(clock, log, "details", {"payload": ok({"event_id": 1})}),
        repeat=True,
    )
    start = clock.now
    first = asyncio.create_task(client.ping(EVENT))
    await _until_paused(client)

    async def photos() -> Any:
        return await client.all_photos(EVENT)

    others = [asyncio.create_task(photos()), asyncio.create_task(client.event_details(EVENT))]
    await asyncio.gather(first, *others)
    assert log[0] == ("ping", start)
    assert sorted(name for name, _ in log[1:]) == ["details", "images", "ping"]
    assert all(at >= start + 5.0 for _, at in log[1:]), log


async def test_429_without_retry_after_shares_its_backoff(
    mocked: Any, clock: FakeClock, client: NinePicClient
) -> None:
    log: list[tuple[str, float]] = []
    mocked.get(
        PING,
        callback=_timed(clock, log, "ping", {"status": 429, "payload": err("slow")}, {"payload": PONG}),
        repeat=True,
    )
    start = clock.now
    first = asyncio.create_task(client.ping(EVENT))
    await _until_paused(client)
    second = asyncio.create_task(client.ping(EVENT))
    await asyncio.gather(first, second)
    assert [at for _, at in log] == [start, start + 0.5, start + 0.5]


async def test_pause_is_per_client(mocked: Any, clock: FakeClock, client: NinePicClient) -> None:
    mocked.get(PING, status=429, payload=err("slow"), headers={"Retry-After": "9"})
    mocked.get(PING, payload=PONG, repeat=True)
    await client.ping(EVENT)
    async with new_client() as other:
        assert other._transport.paused_for_s == 0.0


# --- logs -----------------------------------------------------------------------------------------
async def test_retries_are_logged_without_the_key(
    mocked: Any, clock: FakeClock, client: NinePicClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    mocked.get(PING, status=429, payload=err(f"bad key {KEY}"), headers={"Retry-After": "1"})
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, exception=aiohttp.ClientPayloadError("cut"))
    mocked.get(PING, status=401, payload=err(f"missing {KEY}"))
    with pytest.raises(Exception) as info:
        await client.ping(EVENT)
    assert KEY not in str(info.value)
    retry_records = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_records) == 3 and all(r.levelno == logging.INFO for r in retry_records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()


@pytest.mark.parametrize("status", [408, 410, 418, 425, 451])
async def test_no_4xx_but_429_is_retried_not_even_408(
    mocked: Any, clock: FakeClock, client: NinePicClient, status: int
) -> None:
    mocked.get(PING, status=status, payload=err("no"), headers={"Retry-After": "0"}, repeat=True)
    with pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    assert info.value.status == status
    assert len(sent(mocked, "GET", PING)) == 1 and clock.sleeps == []


def test_api_policy_retries_429_and_5xx_only() -> None:
    assert [s for s in range(400, 600) if _retry.should_retry_api_status(s)] == [429, *range(500, 600)]


async def test_429s_have_their_own_budget_apart_from_5xx(mocked: Any, clock: FakeClock) -> None:
    """Throttling does not use up the error budget, nor errors the throttling one."""
    for _ in range(4):
        mocked.get(PING, status=429, payload=err("throttled"))
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, status=429, payload=err("throttled"))
    mocked.get(PING, payload=PONG)
    async with new_client(max_retries=1, max_rate_limit_retries=5) as client:
        assert (await client.ping(EVENT)).status == "ok"
        assert len(sent(mocked, "GET", PING)) == 7
        mocked.get(PING, status=500, payload=err("boom"), repeat=True)
        with pytest.raises(InternalServerError):
            await client.ping(EVENT)
    assert len(sent(mocked, "GET", PING)) == 7 + 2  # 1 + max_retries: the 429s did not count


def test_default_429_budget_outlasts_a_50_percent_storm() -> None:
    from ninepic_async import ConfigurationError
    from ninepic_async._constants import DEFAULT_MAX_RATE_LIMIT_RETRIES

    client = new_client()
    assert client.max_rate_limit_retries == DEFAULT_MAX_RATE_LIMIT_RETRIES
    assert 0.5 ** (DEFAULT_MAX_RATE_LIMIT_RETRIES + 1) < 1e-6  # a call gives up less than once in a million
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigurationError, match="max_rate_limit_retries"):
            NinePicClient(KEY, org_id=ORG, base_url=BASE, max_rate_limit_retries=bad)  # type: ignore[arg-type]
