"""Every client method end to end against the local simulator (ninepic_async.testing)."""

from __future__ import annotations

import calendar
import io
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.clients import new_client

from ninepic_async import (
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    _retry,
)
from ninepic_async.client import NinePicClient
from ninepic_async.testing import Simulator, SimulatorConfig

PHOTOS = 75


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(photo_count=PHOTOS, seed=3, missing_count=2)) as s:
        yield s


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[NinePicClient]:
    async with new_client(sim) as c:
        yield c


def _ids(sim: Simulator) -> list[str]:
    return [p.image_id for p in sim.world.photos]


async def test_ping_events_and_details(sim: Simulator, client: NinePicClient) -> None:
    pong = await client.ping(sim.event_id)
    assert (pong.status, pong.org_id, pong.event_id) == ("ok", sim.org_id, sim.event_id)
    events = [e.event_id async for e in client.list_events(page_size=2)]
    assert events == sim.event_ids
    details = await client.event_details(sim.event_id)
    assert details.event_id == sim.event_id and details.bib_search is True
    assert sim.counters.api_requests_by_endpoint["events"] == math.ceil(len(sim.event_ids) / 2)


async def test_all_photos_every_item_lazily(sim: Simulator, client: NinePicClient) -> None:
    first = await client.all_photos(sim.event_id, page_size=20)
    assert first.pagination is not None and first.pagination.total == PHOTOS
    sim.counters.reset()
    ids = [i.image_id async for i in client.all_photos(sim.event_id, page_size=20)]
    assert ids == _ids(sim)
    assert sim.counters.api_requests_by_endpoint["images"] == math.ceil(PHOTOS / 20)
    pages = [p async for p in client.all_photos(sim.event_id, page=3, page_size=20).pages()]
    assert [p.pagination.current_page for p in pages if p.pagination] == [3, 4]


async def test_bib_search(sim: Simulator, client: NinePicClient) -> None:
    bib, expected = next(iter(sim.world.bibs.items()))
    found = [i.image_id async for i in client.bib_search(sim.event_id, bib.lower(), page_size=1)]
    assert sorted(found) == sorted(expected)
    with pytest.raises(NotFoundError):
        await client.bib_search(sim.event_id, "no-such-bib-999")


async def test_face_search_and_cached_pages(sim: Simulator, client: NinePicClient, tmp_path: Path) -> None:
    rid, selfie = next(iter(sim.world.selfies.items()))
    expected = sim.world.selfie_request_ids[rid]
    first = await client.face_search(sim.event_id, selfie, page_size=5)
    assert first.request_id == rid
    assert [i.image_id for i in first.images] == expected[:5]
    rest = [i.image_id async for i in client.face_search_results(sim.event_id, rid, page=2, page_size=5)]
    assert [i.image_id for i in first.images] + rest == expected
    # a path and a file object give the same search; a cached request_id skips matching
    path = tmp_path / "me.jpg"
    path.write_bytes(selfie)
    assert (await client.face_search(sim.event_id, path)).request_id == rid
    assert (await client.face_search(sim.event_id, io.BytesIO(selfie))).request_id == rid
    runs = sim.counters.face_matching_runs
    cached = await client.face_search(sim.event_id, selfie, request_id=rid)
    assert cached.request_id == rid and sim.counters.face_matching_runs == runs


async def test_timeline(sim: Simulator, client: NinePicClient) -> None:
    days = await client.timeline_days(sim.event_id)
    assert days.days and [d.date for d in days.days] == sorted(d.date for d in days.days)
    day = days.days[0]
    hour = day.hours[0]
    start = calendar.timegm(time.strptime(day.date, "%Y-%m-%d")) + 3600 * hour.hour
    images = [
        i async for i in client.timeline_images(sim.event_id, start_s=start, end_s=start + 3600, page_size=3)
    ]
    assert len(images) == hour.count


async def test_video_clipping_from_request_id_and_selfie(sim: Simulator, client: NinePicClient) -> None:
    rid = next(iter(sim.world.selfies))
    job = await client.start_video_clipping(sim.event_id, request_id=rid)
    assert job.request_id == rid and job.status == "queued"
    done = await client.wait_for_video_clips(sim.event_id, rid, interval_s=0.01, timeout_s=5)
    assert done.status == "completed" and done.clips and all(c.url for c in done.clips)
    assert isinstance(done.raw, dict) and done.raw["request_id"] == rid
    other = await client.start_video_clipping(sim.event_id, b"\xff\xd8 some new selfie")
    assert other.request_id and other.request_id != rid
    status = await client.video_clipping_status(sim.event_id, other.request_id)
    assert status.status in {"queued", "processing", "completed"}


async def test_original_photos_every_method(sim: Simulator, client: NinePicClient) -> None:
    bib, bib_ids = next(iter(sim.world.bibs.items()))
    by_bib = await client.original_photos(sim.event_id, "bib", bib)
    assert by_bib.total_images == len(bib_ids)
    rid = next(iter(sim.world.selfies))
    by_selfie = [p async for p in client.iter_original_photos(sim.event_id, "selfie", rid, page_size=4)]
    urls = [u for p in by_selfie for u in p.presigned_urls]
    failed = [f for p in by_selfie for f in p.failed_urls]
    assert len(urls) + len(failed) == len(sim.world.selfie_request_ids[rid])
    assert sim.counters.api_requests_by_endpoint["original_photos"] == 1 + len(by_selfie)
    image_id = sim.world.photos[0].image_id
    one = await client.original_photos(sim.event_id, "image_id", image_id)
    assert len(one.presigned_urls) == 1 and image_id in one.presigned_urls[0].url
    missing = sim.world.missing_ids
    several = await client.original_photos(sim.event_id, "image_ids", [image_id, *missing])
    assert {f.image_id for f in several.failed_urls} == set(missing)
    assert sim.counters.api_requests_without_key == 0


async def test_api_errors_from_the_simulator(sim: Simulator) -> None:
    async with new_client(sim, api_key="wrong-key-1234") as bad:
        with pytest.raises(PermissionDeniedError):
            await bad.ping(sim.event_id)
    async with new_client(sim) as client:
        with pytest.raises(NotFoundError):
            await client.ping(999_999)
        with pytest.raises(NotFoundError):
            await client.video_clipping_status(sim.event_id, "no-such-job")


async def test_disabled_feature_is_403() -> None:
    cfg = SimulatorConfig(photo_count=5, disabled_features=frozenset({"bib_search", "timeline_search"}))
    async with (
        Simulator(cfg) as sim,
        new_client(sim) as c,
    ):
        details = await c.event_details(sim.event_id)
        assert details.bib_search is False and details.timeline_search is False
        with pytest.raises(PermissionDeniedError):
            await c.bib_search(sim.event_id, "1")
        with pytest.raises(PermissionDeniedError):
            await c.timeline_days(sim.event_id)


async def test_retries_429_and_5xx_faults(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "jitter", lambda delay: 0.0)
    sim.faults.api_retry_after_s = 0.01
    sim.faults.api_429_rate = 1.0
    sim.faults.api_fault_budget = 2
    async with new_client(sim, max_retries=3, max_rate_limit_retries=3) as client:
        assert (await client.ping(sim.event_id)).status == "ok"
        assert sim.counters.responses_429 == 2
        sim.faults.api_429_rate, sim.faults.api_5xx_rate, sim.faults.api_fault_budget = 0.0, 1.0, 2
        assert [i.image_id async for i in client.all_photos(sim.event_id, page_size=100)] == _ids(sim)
        assert sim.counters.responses_5xx == 2
        sim.faults.api_fault_budget = None
        with pytest.raises(InternalServerError):
            await client.ping(sim.event_id)
        sim.faults.api_5xx_rate, sim.faults.api_429_rate = 0.0, 1.0
        with pytest.raises(RateLimitError):
            await client.ping(sim.event_id)


async def test_legacy_flat_bodies() -> None:
    cfg = SimulatorConfig(photo_count=30, legacy_flat=True, seed=5)
    async with (
        Simulator(cfg) as sim,
        new_client(sim) as c,
    ):
        assert (await c.ping(sim.event_id)).status == "ok"
        await c.event_details(sim.event_id)
        items = [i async for i in c.all_photos(sim.event_id, page_size=7)]
        assert [i.image_id for i in items] == _ids(sim)
        assert all(i.width is not None and i.thumbnail_url for i in items)
        bib = next(iter(sim.world.bibs))
        page = await c.original_photos(sim.event_id, "bib", bib)
        assert page.presigned_urls


async def test_download_delegates_end_to_end(sim: Simulator, client: NinePicClient, tmp_path: Path) -> None:
    bib, bib_ids = next(iter(sim.world.bibs.items()))
    report = await client.download_originals(sim.event_id, tmp_path / "a", bib=bib, concurrency=4)
    expected_ok = [i for i in bib_ids if i not in set(sim.world.missing_ids)]
    assert report.downloaded == len(expected_ok)
    results = [
        r
        async for r in client.iter_download_originals(sim.event_id, tmp_path / "b", image_ids=expected_ok[:2])
    ]
    assert sorted(r.image_id for r in results) == sorted(expected_ok[:2])
    assert sim.counters.storage_requests_with_api_key == 0
