"""Unit tests of download/urls.py: expiry parsing, image id extraction, expired responses, batching."""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninepic_async._exceptions import BadRequestError
from ninepic_async.download.queue import JobQueue
from ninepic_async.download.urls import (
    UrlRefresher,
    image_id_from_url,
    is_expired_response,
    needs_refresh,
    parse_url_expiry,
    refresh_margin_s,
)
from ninepic_async.models import FailedUrl, OriginalPhotos, PresignedUrl

ID = "a4402318-0cf4-4e1e-b8e8-ac8e8f2fc244"
BASE = f"https://x.r2.cloudflarestorage.com/raw-memories/imgs/456/large/{ID}.jpg"


def signed(date: str = "20240102T030405Z", expires: int = 3600, image_id: str = ID) -> str:
    return (
        f"https://x.r2.cloudflarestorage.com/raw-memories/imgs/456/large/{image_id}.jpg"
        f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=k%2F20240102%2Fauto%2Fs3%2Faws4_request"
        f"&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
    )


def test_parse_expiry() -> None:
    expiry = parse_url_expiry(signed())
    assert expiry is not None
    assert expiry.signed_at_s == calendar.timegm((2024, 1, 2, 3, 4, 5, 0, 0, 0))
    assert expiry.lifetime_s == 3600
    assert expiry.expires_at_s == expiry.signed_at_s + 3600


@pytest.mark.parametrize(
    "url",
    [BASE, BASE + "?X-Amz-Date=garbage&X-Amz-Expires=60", BASE + "?X-Amz-Date=20240102T030405Z", "::"],
)
def test_unreadable_expiry_is_none_and_never_refreshed(url: str) -> None:
    assert parse_url_expiry(url) is None
    assert not needs_refresh(url)


def test_refresh_margin_is_capped_by_a_quarter_of_the_lifetime() -> None:
    long = parse_url_expiry(signed(expires=3600))
    short = parse_url_expiry(signed(expires=2))
    assert long is not None and short is not None
    assert refresh_margin_s(long) == 60.0
    assert refresh_margin_s(short) == 0.5


def test_needs_refresh() -> None:
    url = signed(expires=3600)
    expiry = parse_url_expiry(url)
    assert expiry is not None
    assert not needs_refresh(url, now_s=expiry.signed_at_s + 10)
    assert needs_refresh(url, now_s=expiry.expires_at_s - 30)
    assert needs_refresh(url, now_s=expiry.expires_at_s + 30)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (signed(), ID),
        (BASE, ID),
        ("https://h/p/x%20y.jpeg?sig=1", "x y"),
        ("https://h/p/noext", "noext"),
        ("https://h/", None),
        ("https://h/a/.hidden", ".hidden"),
    ],
)
def test_image_id_from_url(url: str, expected: str | None) -> None:
    assert image_id_from_url(url) == expected


def test_expired_responses() -> None:
    s3 = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    r2 = b"<?xml version='1.0'?><Error><Code>ExpiredRequest</Code><Message>x</Message></Error>"
    sig = b"<Error><Code>SignatureDoesNotMatch</Code><Message>nope</Message></Error>"
    denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    assert is_expired_response(403, s3)
    assert is_expired_response(403, r2)
    assert not is_expired_response(403, sig)
    assert not is_expired_response(403, denied)
    assert not is_expired_response(404, s3)
    assert not is_expired_response(403, b"")


class FakeClient:
    """Answers image_ids refreshes; records each call's ids."""

    def __init__(self, missing: set[str] = frozenset(), fail: bool = False) -> None:  # type: ignore[assignment]
        self.calls: list[list[str]] = []
        self.missing = missing
        self.fail = fail

    async def original_photos(
        self,
        event_id: int,
        method: str,
        identifier: str | Sequence[str],
        *,
        page: int = 1,
        page_size: int | None = None,
    ) -> OriginalPhotos:
        assert method == "image_ids" and isinstance(identifier, list)
        assert len(identifier) <= 60 and page_size == len(identifier)
        self.calls.append(list(identifier))
        if self.fail:
            raise BadRequestError(400, "All provided image_ids are invalid.")
        await anyio.sleep(0)
        return OriginalPhotos(
            presigned_urls=[
                PresignedUrl(url=signed(image_id=i), filename=f"{i}.jpg")
                for i in reversed(identifier)
                if i not in self.missing
            ],
            failed_urls=[
                FailedUrl(image_id=i, error="File not found", path=f"imgs/456/large/{i}.jpg")
                for i in identifier
                if i in self.missing
            ],
        )

    def iter_original_photos(
        self, event_id: int, method: str, identifier: str | Sequence[str], *, page_size: int = 60
    ) -> AsyncIterator[OriginalPhotos]:
        raise NotImplementedError

    def all_photos(self, event_id: int, *, page: int = 1, page_size: int | None = None) -> Any:
        raise NotImplementedError


async def test_refresher_coalesces_concurrent_needs_into_batches_of_60() -> None:
    client = FakeClient(missing={"id-7"})
    refresher = UrlRefresher(client, 456, linger_s=0.05)
    results: dict[str, object] = {}

    async def need(image_id: str) -> None:
        results[image_id] = await refresher.refresh(image_id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher.run)
        async with anyio.create_task_group() as workers:
            for n in range(130):
                workers.start_soon(need, f"id-{n}")
        tg.cancel_scope.cancel()
    refresher.close()
    assert [len(c) for c in client.calls] == [60, 60, 10]
    assert refresher.calls == 3
    ok = results["id-3"]
    assert getattr(ok, "url", None) == signed(image_id="id-3")  # matched by path stem, not order
    failed = results["id-7"]
    assert getattr(failed, "url", "x") is None
    assert getattr(failed, "path", None) == "imgs/456/large/id-7.jpg"


async def test_refresher_turns_api_errors_into_per_id_failures() -> None:
    client = FakeClient(fail=True)
    refresher = UrlRefresher(client, 456, linger_s=0.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher.run)
        result = await refresher.refresh("gone")
        tg.cancel_scope.cancel()
    refresher.close()
    assert result.url is None and result.error is not None and "invalid" in result.error


class _QueuedJob:
    def __init__(self, image_id: str, url: str | None) -> None:
        self.image_id, self.url = image_id, url


async def test_a_job_taken_from_the_queue_mid_renewal_waits_for_that_call_instead_of_a_new_one() -> None:
    client = FakeClient()
    gate = anyio.Event()
    real = client.original_photos

    async def slow(*args: Any, **kwargs: Any) -> OriginalPhotos:
        await gate.wait()
        return await real(*args, **kwargs)

    client.original_photos = slow  # type: ignore[method-assign]
    refresher = UrlRefresher(client, 456, linger_s=0.0)
    stale = signed(image_id="queued-1")
    queued = _QueuedJob("queued-1", stale)
    queue: JobQueue[_QueuedJob] = JobQueue(10)
    await queue.put(queued)
    refresher.waiting = queue
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher.run)
        first = tg.start_soon(refresher.refresh, "worker-0", signed(image_id="worker-0"))
        del first
        while not refresher._topped_up:  # the call is in flight, renewing the queued job too
            await anyio.sleep(0.001)
        assert await queue.get() is queued  # a worker takes it with its stale URL...
        gate.set()
        result = await refresher.refresh("queued-1", stale)  # ...and joins the call in flight
        tg.cancel_scope.cancel()
    refresher.close()
    queue.close()
    assert client.calls == [["worker-0", "queued-1"]]
    assert result.url == signed(image_id="queued-1") == queued.url


def _reference_expiry(url: str) -> tuple[float, float] | None:
    """The straightforward reading (urlsplit + parse_qsl) the fast parser must agree with."""
    from urllib.parse import parse_qsl, urlsplit

    params = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    date, expires = params.get("x-amz-date"), params.get("x-amz-expires")
    if date is None or expires is None:
        return None
    date = date.strip()
    try:
        if len(date) != 16 or date[8] != "T" or date[15] != "Z" or not (date[:8] + date[9:15]).isdigit():
            return None
        lifetime = float(int(expires.strip()))
        fields = (date[0:4], date[4:6], date[6:8], date[9:11], date[11:13], date[13:15])
        signed_at = float(calendar.timegm((*(int(f) for f in fields), 0, 0, 0)))
    except (ValueError, OverflowError):
        return None
    return None if lifetime < 0 else (signed_at, lifetime)


_PARAM_NAMES = [
    "X-Amz-Date",
    "x-amz-date",
    "X-Amz-Expires",
    "X-AMZ-EXPIRES",
    "X-Amz-Signature",
    "a",
    "foo_X-Amz-Date",
]
_PARAM_VALUES = [
    "20240102T030405Z",
    "20241301T000000Z",
    "3600",
    "%2B60",
    "+60",
    "-5",
    "",
    "x=y",
    "99999999999",
]


@given(
    params=st.lists(st.tuples(st.sampled_from(_PARAM_NAMES), st.sampled_from(_PARAM_VALUES)), max_size=6),
    fragment=st.sampled_from(["", "#X-Amz-Expires=1"]),
)
def test_the_fast_expiry_parser_agrees_with_parse_qsl(params: list[tuple[str, str]], fragment: str) -> None:
    url = "https://r2.example/b/imgs/x.jpg?" + "&".join(f"{k}={v}" for k, v in params) + fragment
    expiry = parse_url_expiry(url)
    got = None if expiry is None else (expiry.signed_at_s, expiry.lifetime_s)
    assert got == _reference_expiry(url)
