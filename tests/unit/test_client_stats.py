"""``client.stats`` counts calls, retries by reason and 429 waits; an instrumentation sees each call
by its route template (mocked API, fake transport clock: no real waiting)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, get_args

import aiohttp
import pytest
from helpers.api import BASE, EVENT, EVENT_BASE, PING, PONG, FakeClock, ManualClock, err
from helpers.clients import new_client
from yarl import URL

from ninepic_async import ClientStats, NotFoundError, _retry, retry_notice_of
from ninepic_async._observe import route_template
from ninepic_async.instrumentation import ApiRetryReason


class Recorded:
    """An instrumentation that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.retries: list[tuple[ApiRetryReason, float]] = []
        self.ends: list[tuple[int | None, str | None]] = []

    def api_call(self, method: str, route: str) -> Recorded:
        self.calls.append((method, route))
        return self

    def retry(self, reason: ApiRetryReason, delay_s: float) -> None:
        self.retries.append((reason, delay_s))

    def end(self, status: int | None, error: BaseException | None) -> None:
        self.ends.append((status, None if error is None else type(error).__name__))

    def file_download(self, image_id: str) -> Any:
        raise AssertionError("no downloads here")


@pytest.fixture(autouse=True)
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "jitter", lambda delay: delay)


async def test_stats_count_retries_by_reason_and_the_time_spent_waiting_out_a_429(
    mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeClock().install(monkeypatch)
    mocked.get(PING, status=500, payload=err("boom"))
    mocked.get(PING, exception=aiohttp.ClientConnectionError("refused"))
    mocked.get(PING, exception=asyncio.TimeoutError())
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "2"})
    mocked.get(PING, payload=PONG)
    async with new_client(max_retries=3, max_rate_limit_retries=3) as client:
        assert client.stats == ClientStats()
        recorded = Recorded()
        client.instrumentation = recorded
        await client.ping(EVENT)
        stats = client.stats
    assert stats.calls == stats.calls_ok == 1
    assert stats.calls_failed == stats.calls_in_flight == 0
    assert dict(stats.retries) == {"timeout": 1, "connection": 1, "server_error": 1, "rate_limited": 1}
    assert stats.total_retries == 4
    assert (stats.rate_limited, stats.rate_limit_waits, stats.rate_limit_wait_s) == (1, 1, 2.0)
    assert recorded.calls == [("GET", "/{org_id}/event/{event_id}/ping")]
    assert [reason for reason, _ in recorded.retries] == [
        "server_error",
        "connection",
        "timeout",
        "rate_limited",
    ]
    assert recorded.ends == [(200, None)]


async def test_retry_notices_and_stats_name_each_retry_by_the_same_reason(
    mocked: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    FakeClock().install(monkeypatch)
    mocked.get(PING, status=503, payload=err("busy"))
    mocked.get(PING, exception=aiohttp.ClientConnectionError("reset"))
    mocked.get(PING, exception=asyncio.TimeoutError())
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "1"})
    mocked.get(PING, payload=PONG)
    caplog.set_level(logging.INFO, logger="ninepic_async")
    async with new_client(max_retries=3, max_rate_limit_retries=3) as client:
        await client.ping(EVENT)
        counted = {reason for reason, n in client.stats.retries.items() if n}
    notices = [n for n in map(retry_notice_of, caplog.records) if n is not None]
    assert [n.reason for n in notices] == ["server_error", "connection", "timeout", "rate_limited"]
    assert {n.reason for n in notices} == counted == set(get_args(ApiRetryReason))
    assert [n.describe().split(",")[0] for n in notices[:3]] == [
        "API failing (HTTP 503)",
        "API unreachable",
        "API not answering (timeout)",
    ]


async def test_a_failed_call_is_counted_and_ends_with_its_status(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/details", status=404, payload=err("no such event"))
    async with new_client(max_retries=0) as client:
        recorded = Recorded()
        client.instrumentation = recorded
        with pytest.raises(NotFoundError):
            await client.event_details(EVENT)
        stats = client.stats
    assert (stats.calls, stats.calls_ok, stats.calls_failed, stats.total_retries) == (1, 0, 1, 0)
    assert recorded.ends == [(404, "NotFoundError")]


async def test_every_call_waiting_for_the_shared_pause_is_counted(
    mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock().install(monkeypatch)
    mocked.get(PING, status=429, payload=err("slow down"), headers={"Retry-After": "5"})
    mocked.get(PING, payload=PONG, repeat=True)
    async with new_client(max_rate_limit_retries=1) as client:
        throttled = asyncio.create_task(client.ping(EVENT))
        await clock.until_waiting(1)  # the 429'd call waits out its pause
        bystander = asyncio.create_task(client.ping(EVENT))
        await clock.until_waiting(2)  # and so does a call that started meanwhile
        assert client.stats.calls_in_flight == 2
        clock.advance(5)
        await asyncio.gather(throttled, bystander)
        stats = client.stats
    assert (stats.rate_limited, stats.rate_limit_waits, stats.rate_limit_wait_s) == (1, 2, 10.0)
    assert dict(stats.retries)["rate_limited"] == 1
    assert stats.calls_in_flight == 0


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("903/events", "/{org_id}/events"),
        ("903/event/456/ping", "/{org_id}/event/{event_id}/ping"),
        ("903/event/456/bibs/ping", "/{org_id}/event/{event_id}/bibs/{bib}"),
        ("903/event/456/bibs/a%2Fb", "/{org_id}/event/{event_id}/bibs/{bib}"),
        ("903/event/456/faces", "/{org_id}/event/{event_id}/faces"),
        ("903/event/456/faces/req-1", "/{org_id}/event/{event_id}/faces/{request_id}"),
        ("903/event/456/timeline/days", "/{org_id}/event/{event_id}/timeline/days"),
        (
            "903/event/456/video-clipping/search-by-selfie",
            "/{org_id}/event/{event_id}/video-clipping/search-by-selfie",
        ),
        ("903/event/456/video-clipping/job-9", "/{org_id}/event/{event_id}/video-clipping/{request_id}"),
        ("903/event/456/original-photos", "/{org_id}/event/{event_id}/original-photos"),
        ("903/event/456/secret-word", "/{org_id}/event/{event_id}/{id}"),
    ],
)
@pytest.mark.parametrize("base", [BASE, f"{BASE}/prefix/"])
def test_route_templates_name_every_id(base: str, path: str, template: str) -> None:
    url = URL(f"{base.rstrip('/')}/api/v1/ext/{path}?page=2", encoded=True)
    assert route_template(URL(base), url) == template
