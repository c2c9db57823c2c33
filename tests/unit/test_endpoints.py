"""Every endpoint: request shape (path, query, headers, JSON body) and typed decode, via aioresponses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from helpers.api import (
    BASE,
    EVENT,
    EVENT_BASE,
    KEY,
    ORG,
    FakeClock,
    image,
    image_page,
    ok,
    pagination,
    sent,
    sent_headers,
)
from helpers.clients import new_client

from ninepic_async import (
    EventDetails,
    EventList,
    FaceSearchResult,
    ImagePage,
    OriginalPhotos,
    PingResult,
    PollTimeoutError,
    TimelineDays,
    VideoClippingJob,
)
from ninepic_async._constants import API_KEY_HEADER, TIMELINE_FROM_PARAM, TIMELINE_TO_PARAM
from ninepic_async.client import NinePicClient


@pytest.fixture
async def client() -> AsyncIterator[NinePicClient]:
    async with new_client() as c:
        yield c


async def test_ping(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok", "org_id": ORG, "event_id": EVENT}, "pong"))
    result = await client.ping(EVENT)
    assert result == PingResult(status="ok", org_id=ORG, event_id=EVENT)
    (call,) = sent(mocked, "GET", f"{EVENT_BASE}/ping")
    headers = await sent_headers(call)
    assert headers[API_KEY_HEADER.lower()] == KEY
    assert headers["accept"] == "application/json"
    assert call.kwargs["allow_redirects"] is False


async def test_list_events_query_and_decode(mocked: Any, client: NinePicClient) -> None:
    body = ok(
        {
            "events": [
                {"event_id": 1, "event_name": "Marathon", "event_date": "2024-05-01T07:00:00Z", "extra": 1},
                {"event_id": 2, "event_name": None, "cover_image": None},
            ],
            "pagination": pagination(1, 1, total=2),
        }
    )
    mocked.get(f"{BASE}/api/v1/ext/{ORG}/events?page=1&page_size=5", payload=body)
    page = await client.list_events(page_size=5)
    assert isinstance(page, EventList)
    assert [e.event_id for e in page.events] == [1, 2]
    assert page.events[0].event_name == "Marathon"
    assert page.pagination is not None and page.pagination.total == 2


async def test_event_details(mocked: Any, client: NinePicClient) -> None:
    data = {
        "event_id": EVENT,
        "event_name": "Run",
        "event_slug": "run",
        "event_date": "2024-05-01",
        "status": "live",
        "event_enabled": True,
        "bib_search": True,
        "selfie_search": False,
        "name_search": False,
        "video_search": True,
        "video_selfie_search": True,
        "timeline_search": True,
    }
    mocked.get(f"{EVENT_BASE}/details", payload=ok(data))
    details = await client.event_details(EVENT)
    assert isinstance(details, EventDetails)
    assert details.selfie_search is False and details.timeline_search is True


async def test_all_photos_one_page(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/images?page=2&page_size=100", payload=image_page(2, 3, ["a", "b"]))
    page = await client.all_photos(EVENT, page=2, page_size=100)
    assert isinstance(page, ImagePage)
    assert [i.image_id for i in page.images] == ["a", "b"]
    assert page.images[0].width == 3240 and page.images[0].original_url is None


async def test_all_photos_without_page_size_sends_only_page(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/images?page=1", payload=image_page(1, 1, ["a"]))
    page = await client.all_photos(EVENT)
    assert len(page.images) == 1


async def test_bib_search_quotes_the_bib(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/bibs/A%2F12%20x?page=1&page_size=32", payload=image_page(1, 1, ["a"]))
    page = await client.bib_search(EVENT, " A/12 x ", page_size=32)
    assert [i.image_id for i in page.images] == ["a"]


async def test_face_search_results_later_pages(mocked: Any, client: NinePicClient) -> None:
    rid = "ddc661a7-8861-4793-9437-af42a82d12f8"
    body = ok(
        {
            "request_id": rid,
            "confidence_percentage": 87.5,
            "images": [image("x")],
            "pagination": pagination(2, 2),
        }
    )
    mocked.get(f"{EVENT_BASE}/faces/{rid}?page=2", payload=body)
    page = await client.face_search_results(EVENT, rid, page=2)
    assert isinstance(page, FaceSearchResult)
    assert page.request_id == rid and page.confidence_percentage == 87.5


async def test_timeline_days(mocked: Any, client: NinePicClient) -> None:
    data = {
        "days": [
            {"date": "2024-05-01", "total": 3, "hours": [{"hour": 7, "count": 2}, {"hour": 8, "count": 1}]}
        ]
    }
    mocked.get(f"{EVENT_BASE}/timeline/days", payload=ok(data))
    days = await client.timeline_days(EVENT)
    assert isinstance(days, TimelineDays)
    assert days.days[0].hours[1].hour == 8


async def test_timeline_images_window_query(mocked: Any, client: NinePicClient) -> None:
    url = (
        f"{EVENT_BASE}/timeline/images?{TIMELINE_FROM_PARAM}=1700000000&{TIMELINE_TO_PARAM}=1700003600"
        "&page=1&page_size=10"
    )
    mocked.get(url, payload=image_page(1, 1, ["t1"]))
    page = await client.timeline_images(EVENT, start_s=1_700_000_000, end_s=1_700_003_600, page_size=10)
    assert [i.image_id for i in page.images] == ["t1"]


async def test_timeline_images_takes_datetimes_naive_ones_as_utc(mocked: Any, client: NinePicClient) -> None:
    url = (
        f"{EVENT_BASE}/timeline/images?{TIMELINE_FROM_PARAM}=1700000000&{TIMELINE_TO_PARAM}=1700003600"
        "&page=1&page_size=10"
    )
    mocked.get(url, payload=image_page(1, 1, ["t1"]))
    start = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    end = datetime(2023, 11, 14, 23, 13, 20)  # naive: UTC
    page = await client.timeline_images(EVENT, start_s=start, end_s=end, page_size=10)
    assert [i.image_id for i in page.images] == ["t1"]


async def test_video_status_is_decoded_leniently_and_keeps_raw(mocked: Any, client: NinePicClient) -> None:
    rid = "r-1"
    data = {
        "requestId": rid,
        "state": "COMPLETED",
        "videos": [{"clip_url": "https://v.example/1.mp4", "duration": 6}, "https://v.example/2.mp4", 42],
        "something_new": {"nested": True},
    }
    mocked.get(f"{EVENT_BASE}/video-clipping/{rid}", payload=ok(data))
    job = await client.video_clipping_status(EVENT, rid)
    assert isinstance(job, VideoClippingJob)
    assert job.request_id == rid and job.status == "COMPLETED"
    assert [c.url for c in job.clips] == ["https://v.example/1.mp4", "https://v.example/2.mp4"]
    assert job.clips[0].duration_s == 6.0
    assert job.raw == data


async def test_video_status_flat_non_object_payload(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/video-clipping/r-2", payload=ok(["weird"]))
    job = await client.video_clipping_status(EVENT, "r-2")
    assert job.status is None and job.raw == ["weird"]


async def test_start_video_clipping_with_request_id(mocked: Any, client: NinePicClient) -> None:
    mocked.post(
        f"{EVENT_BASE}/video-clipping/search-by-selfie", payload=ok({"request_id": "v-1", "status": "queued"})
    )
    job = await client.start_video_clipping(EVENT, request_id="face-1")
    assert job.request_id == "v-1" and job.status == "queued"


async def test_wait_for_video_clips_polls_until_terminal(
    mocked: Any, client: NinePicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    url = f"{EVENT_BASE}/video-clipping/v-1"
    mocked.get(url, payload=ok({"request_id": "v-1", "status": "queued"}))
    mocked.get(url, payload=ok({"request_id": "v-1", "status": "processing"}))
    mocked.get(url, payload=ok({"request_id": "v-1", "status": "completed", "clips": [{"url": "u"}]}))
    job = await client.wait_for_video_clips(EVENT, "v-1", interval_s=3.0)
    assert job.status == "completed" and job.clips[0].url == "u"
    assert clock.sleeps == [3.0, 3.0]


async def test_wait_for_video_clips_returns_failed_jobs(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/video-clipping/v-1", payload=ok({"request_id": "v-1", "status": "Failed"}))
    job = await client.wait_for_video_clips(EVENT, "v-1")
    assert job.status == "Failed"


async def test_wait_for_video_clips_times_out(
    mocked: Any, client: NinePicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    mocked.get(f"{EVENT_BASE}/video-clipping/v-1", payload=ok({"status": "processing"}), repeat=True)
    with pytest.raises(PollTimeoutError, match="still processing"):
        await client.wait_for_video_clips(EVENT, "v-1", timeout_s=10.0, interval_s=4.0)
    assert clock.sleeps == [4.0, 4.0, 2.0]


async def test_original_photos_body_query_and_decode(mocked: Any, client: NinePicClient) -> None:
    data = {
        "presigned_urls": [{"url": "https://store.example/a.jpg?X-Amz-Signature=1", "filename": "a.jpg"}],
        "failed_urls": [{"image_id": "b", "error": "File not found", "path": "imgs/b.jpg"}],
        "total_images": 2,
        "successful_count": 1,
        "failed_count": 1,
        "identifier": None,
        "pagination": pagination(1, 1, total=2, size=60),
    }
    url = f"{EVENT_BASE}/original-photos?page=1&page_size=60"
    mocked.post(url, payload=ok(data, "Presigned URLs generated"))
    result = await client.original_photos(EVENT, "image_ids", ("a", "b"), page_size=60)
    assert isinstance(result, OriginalPhotos)
    assert result.presigned_urls[0].filename == "a.jpg"
    assert result.failed_urls[0].image_id == "b"
    (call,) = sent(mocked, "POST", url)
    assert msgspec.json.decode(call.kwargs["data"]) == {"method": "image_ids", "identifier": ["a", "b"]}
    headers = await sent_headers(call)
    assert headers["content-type"] == "application/json"
    assert headers[API_KEY_HEADER.lower()] == KEY


async def test_iter_original_photos_walks_every_page(mocked: Any, client: NinePicClient) -> None:
    def page(n: int, total: int) -> dict[str, Any]:
        return ok(
            {
                "presigned_urls": [{"url": f"https://s.example/{n}.jpg", "filename": f"{n}.jpg"}],
                "failed_urls": [],
                "identifier": "1234",
                "pagination": pagination(n, total),
            }
        )

    for n in (1, 2, 3):
        mocked.post(f"{EVENT_BASE}/original-photos?page={n}&page_size=60", payload=page(n, 3))
    pages = [p async for p in client.iter_original_photos(EVENT, "bib", "1234")]
    assert [p.presigned_urls[0].filename for p in pages] == ["1.jpg", "2.jpg", "3.jpg"]


async def test_iter_original_photos_page_of_only_failures_continues(
    mocked: Any, client: NinePicClient
) -> None:
    first = ok(
        {
            "presigned_urls": [],
            "failed_urls": [{"image_id": "x", "error": "missing"}],
            "pagination": pagination(1, 2),
        }
    )
    second = ok(
        {
            "presigned_urls": [{"url": "https://s.example/y.jpg"}],
            "failed_urls": [],
            "pagination": pagination(2, 2),
        }
    )
    mocked.post(f"{EVENT_BASE}/original-photos?page=1&page_size=10", payload=first)
    mocked.post(f"{EVENT_BASE}/original-photos?page=2&page_size=10", payload=second)
    pages = [p async for p in client.iter_original_photos(EVENT, "image_ids", ["x", "y"], page_size=10)]
    assert len(pages) == 2


async def test_download_delegates_lazily(monkeypatch: pytest.MonkeyPatch, client: NinePicClient) -> None:
    import ninepic_async.download

    seen: list[tuple[Any, ...]] = []

    async def fake_download(c: Any, event_id: int, dest: Any, **kwargs: Any) -> str:
        seen.append((c, event_id, dest, kwargs))
        return "report"

    async def fake_iter(c: Any, event_id: int, dest: Any, **kwargs: Any) -> AsyncIterator[str]:
        yield "r1"

    monkeypatch.setattr(ninepic_async.download, "download_originals", fake_download)
    monkeypatch.setattr(ninepic_async.download, "iter_download_originals", fake_iter)
    report: object = await client.download_originals(EVENT, "out", bib="12")  # the fake's value
    assert report == "report"
    assert seen == [(client, EVENT, "out", {"bib": "12"})]
    results: list[object] = [r async for r in client.iter_download_originals(EVENT, "out")]
    assert results == ["r1"]
