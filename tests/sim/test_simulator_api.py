"""The simulator's API app: every endpoint, its envelope, pagination and error statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from ninepic_async._constants import (
    FACE_REQUEST_ID_FIELD,
    FACE_UPLOAD_FIELD,
    TIMELINE_FROM_PARAM,
    TIMELINE_TO_PARAM,
    VIDEO_REQUEST_ID_FIELD,
    VIDEO_UPLOAD_FIELD,
)
from ninepic_async.models import EventDetails, EventList, FaceSearchResult, ImagePage, OriginalPhotos
from ninepic_async.testing import Simulator

PAGINATION_KEYS = {"total", "currentPage", "totalPages", "hasNextPage", "hasPreviousPage", "page_size"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Tiny helper: calls the simulator and returns (status, decoded body)."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http

    def url(self, path: str, *, event_id: int | None = None, org_id: int | None = None) -> str:
        org = self.sim.org_id if org_id is None else org_id
        if path.startswith("/events"):
            return f"{self.sim.base_url}/api/v1/ext/{org}{path}"
        event = self.sim.event_id if event_id is None else event_id
        return f"{self.sim.base_url}/api/v1/ext/{org}/event/{event}{path}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "default",
        event_id: int | None = None,
        org_id: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        headers = dict(headers or {})
        if key is not None:
            headers["X-API-Key"] = self.sim.api_key if key == "default" else key
        url = self.url(path, event_id=event_id, org_id=org_id)
        async with self.http.request(method, url, headers=headers, **kwargs) as resp:
            assert resp.content_type == "application/json"
            assert resp.headers.get("X-Request-Id")
            return resp.status, await resp.json()

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("POST", path, **kwargs)


@pytest.fixture
def api(sim: Simulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


def assert_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert body["responseType"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    assert body["data"] is None


def assert_success(status: int, body: Any) -> Any:
    assert status == 200, body
    assert set(body) == {"responseType", "message", "data"}
    assert body["responseType"] == "success"
    assert isinstance(body["message"], str)
    return body["data"]


def selfie_form(
    data: bytes, request_id: str | None = None, field: str = FACE_UPLOAD_FIELD
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, data, filename="selfie.jpg", content_type="image/jpeg")
    if request_id is not None:
        form.add_field(FACE_REQUEST_ID_FIELD, request_id)
    return form


# --- auth, envelope, routing ---------------------------------------------------------------------
async def test_ping(api: Api, sim: Simulator) -> None:
    status, body = await api.get("/ping")
    data = assert_success(status, body)
    assert body["message"] == "pong"
    assert data == {"status": "ok", "org_id": sim.org_id, "event_id": sim.event_id}


@pytest.mark.parametrize("path", ["/ping", "/images", "/details", "/events"])
async def test_missing_key_is_401_and_counted(api: Api, sim: Simulator, path: str) -> None:
    status, body = await api.get(path, key=None)
    assert_error(status, body, 401)
    assert sim.counters.api_requests_without_key == 1


async def test_wrong_key_is_403(api: Api) -> None:
    assert_error(*(await api.get("/ping", key="not-the-key")), 403)


async def test_wrong_org_is_403(api: Api, sim: Simulator) -> None:
    assert_error(*(await api.get("/ping", org_id=sim.org_id + 1)), 403)
    assert_error(*(await api.get("/events", org_id=sim.org_id + 1)), 403)


async def test_unknown_event_is_404(api: Api) -> None:
    for path in ("/ping", "/details", "/images", "/bibs/101", "/timeline/days"):
        assert_error(*(await api.get(path, event_id=999_999)), 404)
    assert_error(
        *(await api.post("/original-photos", event_id=999_999, json={"method": "bib", "identifier": "1"})),
        404,
    )


async def test_non_numeric_path_ids_are_422(api: Api, sim: Simulator) -> None:
    url = f"{sim.base_url}/api/v1/ext/{sim.org_id}/event/abc/ping"
    async with api.http.get(url, headers={"X-API-Key": sim.api_key}) as resp:
        assert_error(resp.status, await resp.json(), 422)


async def test_unknown_route_and_method_answer_enveloped(api: Api, sim: Simulator) -> None:
    async with api.http.get(f"{sim.base_url}/nope", headers={"X-API-Key": sim.api_key}) as resp:
        assert_error(resp.status, await resp.json(), 404)
    async with api.http.post(api.url("/ping"), headers={"X-API-Key": sim.api_key}) as resp:
        assert_error(resp.status, await resp.json(), 405)


async def test_counters_by_endpoint(api: Api, sim: Simulator) -> None:
    await api.get("/ping")
    await api.get("/events")
    await api.get("/images")
    await api.get("/images", key=None)
    c = sim.counters
    assert c.api_requests == 4
    assert c.api_requests_by_endpoint["ping"] == 1
    assert c.api_requests_by_endpoint["events"] == 1
    assert c.api_requests_by_endpoint["images"] == 2
    assert c.api_responses_by_status == {200: 3, 401: 1}
    c.reset()
    assert c.api_requests == 0 and c.api_requests_by_endpoint["images"] == 0


# --- events -------------------------------------------------------------------------------------
async def test_list_events(api: Api, sim: Simulator) -> None:
    data = assert_success(*(await api.get("/events")))
    decoded = msgspec.convert(data, EventList)
    assert [e.event_id for e in decoded.events] == sim.event_ids
    assert decoded.events[0].event_id == sim.event_id
    assert set(data["events"][0]) == {
        "event_id",
        "event_name",
        "event_slug",
        "event_date",
        "status",
        "cover_image",
    }
    assert set(data["pagination"]) == PAGINATION_KEYS
    assert data["pagination"]["page_size"] == 10
    data = assert_success(*(await api.get("/events", params={"page": 2, "page_size": 3})))
    assert [e["event_id"] for e in data["events"]] == sim.event_ids[3:6]
    assert data["pagination"]["currentPage"] == 2
    assert data["pagination"]["hasPreviousPage"] is True


async def test_event_page_size_limit(api: Api) -> None:
    assert_success(*(await api.get("/events", params={"page_size": 100})))
    assert_error(*(await api.get("/events", params={"page_size": 101})), 422)
    assert_error(*(await api.get("/events", params={"page": 0})), 422)
    assert_error(*(await api.get("/events", params={"page": "x"})), 422)


async def test_event_details_flags(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(disabled_features=frozenset({"video_search"}))
    api = Api(sim, http)
    data = assert_success(*(await api.get("/details")))
    details = msgspec.convert(data, EventDetails)
    assert details.event_id == sim.event_id
    assert details.video_search is False
    assert details.bib_search is details.selfie_search is details.timeline_search is True
    assert details.event_enabled is True


# --- images -------------------------------------------------------------------------------------
async def test_all_photos_pages_through_every_photo_in_order(api: Api, sim: Simulator) -> None:
    seen: list[str] = []
    page = 1
    while True:
        data = assert_success(*(await api.get("/images", params={"page": page, "page_size": 50})))
        decoded = msgspec.convert(data, ImagePage)
        seen += [i.image_id for i in decoded.images]
        assert decoded.pagination is not None
        assert decoded.pagination.total == sim.world.photo_count
        assert decoded.pagination.total_pages == 3
        assert decoded.pagination.current_page == page
        if not decoded.pagination.has_next_page:
            break
        page += 1
    assert seen == [p.image_id for p in sim.world.photos]
    stamps = [sim.world.photo(i).captured_at_s for i in seen]
    timed = [s for s in stamps if s is not None]
    assert timed == sorted(timed)
    first_none = stamps.index(None)
    assert all(s is None for s in stamps[first_none:]), "photos without timestamp come last"


async def test_image_item_shape(api: Api, sim: Simulator) -> None:
    data = assert_success(*(await api.get("/images")))
    item = data["images"][0]
    assert set(item) == {"img_url", "height", "width", "image_id", "thumbnail_url", "original_url"}
    assert item["original_url"] is None
    photo = sim.world.photos[0]
    assert (item["width"], item["height"]) == (photo.width, photo.height)
    assert item["img_url"].endswith(f"/imgs/{sim.event_id}/large/{photo.image_id}.jpg")
    assert data["pagination"]["page_size"] == 32
    async with api.http.get(item["thumbnail_url"]) as resp:
        assert resp.status == 200
        assert (await resp.read())[:2] == b"\xff\xd8"


async def test_images_page_size_limit(api: Api) -> None:
    data = assert_success(*(await api.get("/images", params={"page_size": 100})))
    assert len(data["images"]) == 100
    assert_error(*(await api.get("/images", params={"page_size": 101})), 422)
    assert_error(*(await api.get("/images", params={"page_size": 0})), 422)


async def test_empty_event_pagination(api: Api, sim: Simulator) -> None:
    empty = sim.event_ids[1]
    status, body = await api.get("/images", event_id=empty)
    data = assert_success(status, body)
    assert body["message"] == "No images found"
    assert data == {
        "images": [],
        "pagination": {
            "total": 0,
            "currentPage": 0,
            "totalPages": 0,
            "hasNextPage": False,
            "hasPreviousPage": False,
            "page_size": 32,
        },
    }


async def test_page_past_the_end(api: Api, sim: Simulator) -> None:
    data = assert_success(*(await api.get("/images", params={"page": 99})))
    assert data["images"] == []
    assert data["pagination"]["hasNextPage"] is False
    assert data["pagination"]["total"] == sim.world.photo_count


async def test_legacy_flat_bodies(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(legacy_flat=True)
    api = Api(sim, http)
    status, body = await api.get("/images", params={"page_size": 2})
    assert status == 200
    assert "responseType" not in body
    item = body["images"][0]
    assert {"widht", "thumbanail_url", "orginal_url"} <= set(item)
    assert "width" not in item
    decoded = msgspec.convert(body, ImagePage)
    assert decoded.images[0].width == sim.world.photos[0].width
    assert decoded.images[0].thumbnail_url
    status, body = await api.get("/details")
    assert status == 200 and "video_search" not in body and "bib_search" in body
    status, body = await api.get("/ping", key=None)
    assert_error(status, body, 401)


# --- bibs ---------------------------------------------------------------------------------------
async def test_bib_search(api: Api, sim: Simulator) -> None:
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: len(kv[1]))
    data = assert_success(*(await api.get(f"/bibs/{bib}", params={"page_size": 100})))
    assert [i["image_id"] for i in data["images"]] == ids
    assert data["pagination"]["total"] == len(ids)
    for image_id in ids:
        assert bib in sim.world.photo(image_id).bibs


async def test_bib_search_is_case_insensitive(api: Api, sim: Simulator) -> None:
    lettered = [b for b in sim.world.bibs if not b.isdigit()]
    assert lettered
    bib = lettered[0]
    upper = assert_success(*(await api.get(f"/bibs/{bib.upper()}")))
    lower = assert_success(*(await api.get(f"/bibs/{bib.lower()}")))
    assert upper["images"] == lower["images"] and upper["images"]


async def test_bib_search_errors(api: Api) -> None:
    assert_error(*(await api.get("/bibs/no-such-bib")), 404)
    assert_error(*(await api.get("/bibs/101", params={"page_size": 101})), 422)


async def test_disabled_bib_search_is_403(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(disabled_features=frozenset({"bib_search"}))
    bib = next(iter(sim.world.bibs))
    assert_error(*(await Api(sim, http).get(f"/bibs/{bib}")), 403)


async def test_disabled_event_is_403(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(disabled_features=frozenset({"event_enabled"}))
    api = Api(sim, http)
    assert_error(*(await api.get("/images")), 403)
    assert_success(*(await api.get("/ping")))
    assert assert_success(*(await api.get("/details")))["event_enabled"] is False


# --- face search --------------------------------------------------------------------------------
async def test_face_search_known_selfie(api: Api, sim: Simulator) -> None:
    request_id, expected = next(iter(sim.world.selfie_request_ids.items()))
    status, body = await api.post("/faces", data=selfie_form(sim.world.selfies[request_id]))
    data = assert_success(status, body)
    result = msgspec.convert(data, FaceSearchResult)
    assert result.request_id == request_id
    assert [i.image_id for i in result.images] == expected[:32]
    assert result.confidence_percentage is not None


async def test_face_search_new_selfie_then_pages_and_cache(api: Api, sim: Simulator) -> None:
    status, body = await api.post("/faces", data=selfie_form(b"\xff\xd8 my face"), params={"page_size": 2})
    data = assert_success(status, body)
    request_id = data["request_id"]
    total = data["pagination"]["total"]
    assert total >= 5 and len(data["images"]) == 2
    assert sim.counters.face_matching_runs == 1
    assert sim.counters.api_requests_by_endpoint["faces_post"] == 1
    # later pages through GET faces/{request_id}
    collected = [i["image_id"] for i in data["images"]]
    page = 2
    while True:
        data = assert_success(*(await api.get(f"/faces/{request_id}", params={"page": page, "page_size": 2})))
        collected += [i["image_id"] for i in data["images"]]
        if not data["pagination"]["hasNextPage"]:
            break
        page += 1
    assert len(collected) == total == len(set(collected))
    # repeating the POST with the request_id returns the cached result without matching again
    status, body = await api.post("/faces", data=selfie_form(b"\xff\xd8 another face", request_id))
    cached = assert_success(status, body)
    assert cached["request_id"] == request_id and cached["pagination"]["total"] == total
    assert sim.counters.face_matching_runs == 1


async def test_face_search_is_deterministic(api: Api) -> None:
    first = assert_success(*(await api.post("/faces", data=selfie_form(b"same selfie"))))
    second = assert_success(*(await api.post("/faces", data=selfie_form(b"same selfie"))))
    assert first == second


async def test_face_search_no_match_pagination(api: Api) -> None:
    data = assert_success(*(await api.post("/faces", data=selfie_form(b"noface at all"))))
    assert data["images"] == []
    assert data["pagination"]["currentPage"] == 0 and data["pagination"]["totalPages"] == 0
    assert data["confidence_percentage"] is None


async def test_face_search_errors(api: Api, sim: Simulator) -> None:
    assert_error(*(await api.post("/faces", data=selfie_form(b""))), 400)
    assert_error(*(await api.post("/faces", data=selfie_form(b"x", field="selfie"))), 422)
    assert_error(*(await api.get("/faces/00000000-0000-4000-8000-000000000000")), 404)
    form = aiohttp.FormData()
    form.add_field(FACE_REQUEST_ID_FIELD, "00000000-0000-4000-8000-000000000000")
    assert_error(*(await api.post("/faces", data=form)), 404)
    known = next(iter(sim.world.selfie_request_ids))
    assert_error(*(await api.get(f"/faces/{known}", params={"page_size": 101})), 422)


async def test_face_search_known_request_id_without_file(api: Api, sim: Simulator) -> None:
    known, ids = next(iter(sim.world.selfie_request_ids.items()))
    form = aiohttp.FormData()
    form.add_field(FACE_REQUEST_ID_FIELD, known)
    data = assert_success(*(await api.post("/faces", data=form)))
    assert data["request_id"] == known and data["pagination"]["total"] == len(ids)
    assert sim.counters.face_matching_runs == 0


async def test_disabled_selfie_search_is_403(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(disabled_features=frozenset({"selfie_search"}))
    api = Api(sim, http)
    assert_error(*(await api.post("/faces", data=selfie_form(b"x"))), 403)
    assert_error(*(await api.get(f"/faces/{next(iter(sim.world.selfie_request_ids))}")), 403)


# --- timeline -----------------------------------------------------------------------------------
async def test_timeline_days(api: Api, sim: Simulator) -> None:
    data = assert_success(*(await api.get("/timeline/days")))
    days = data["days"]
    assert 1 <= len(days) <= 2
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)
    timed = [p for p in sim.world.photos if p.captured_at_s is not None]
    assert sum(d["total"] for d in days) == len(timed) < sim.world.photo_count
    for day in days:
        assert day["total"] == sum(h["count"] for h in day["hours"])
        assert all(0 <= h["hour"] <= 23 for h in day["hours"])


async def test_timeline_images_window(api: Api, sim: Simulator) -> None:
    timed = [p for p in sim.world.photos if p.captured_at_s is not None]
    start = timed[10].captured_at_s
    end = timed[30].captured_at_s
    assert start is not None and end is not None
    expected = [p.image_id for p in timed if start <= p.captured_at_s < end]  # type: ignore[operator]
    params = {TIMELINE_FROM_PARAM: start, TIMELINE_TO_PARAM: end, "page_size": 100}
    data = assert_success(*(await api.get("/timeline/images", params=params)))
    assert [i["image_id"] for i in data["images"]] == expected
    assert data["pagination"]["total"] == len(expected)
    empty = assert_success(
        *(await api.get("/timeline/images", params={TIMELINE_FROM_PARAM: 0, TIMELINE_TO_PARAM: 1}))
    )
    assert empty["pagination"]["currentPage"] == 0


async def test_timeline_errors(api: Api, sim_factory: Any, http: aiohttp.ClientSession) -> None:
    assert_error(*(await api.get("/timeline/images", params={TIMELINE_FROM_PARAM: 5})), 422)
    assert_error(*(await api.get("/timeline/images", params={TIMELINE_TO_PARAM: 5})), 422)
    assert_error(
        *(await api.get("/timeline/images", params={TIMELINE_FROM_PARAM: 9, TIMELINE_TO_PARAM: 5})), 400
    )
    assert_error(
        *(
            await api.get(
                "/timeline/images", params={TIMELINE_FROM_PARAM: 0, TIMELINE_TO_PARAM: 5, "page_size": 101}
            )
        ),
        422,
    )
    sim = await sim_factory(disabled_features=frozenset({"timeline_search"}))
    off = Api(sim, http)
    assert_error(*(await off.get("/timeline/days")), 403)
    assert_error(
        *(await off.get("/timeline/images", params={TIMELINE_FROM_PARAM: 0, TIMELINE_TO_PARAM: 5})), 403
    )


# --- video clipping -----------------------------------------------------------------------------
async def test_video_clipping_by_request_id(api: Api, sim: Simulator) -> None:
    request_id = next(iter(sim.world.selfie_request_ids))
    form = aiohttp.FormData()
    form.add_field(VIDEO_REQUEST_ID_FIELD, request_id)
    data = assert_success(*(await api.post("/video-clipping/search-by-selfie", data=form)))
    assert data["request_id"] == request_id and data["status"] == "queued"
    statuses = []
    for _ in range(sim.config.video_polls_to_complete):
        data = assert_success(*(await api.get(f"/video-clipping/{request_id}")))
        statuses.append(data["status"])
    assert statuses[-1] == "completed"
    assert statuses[0] == "queued"
    assert data["clips"] and set(data["clips"][0]) == {"url", "thumbnail_url", "duration"}
    async with api.http.get(data["clips"][0]["url"]) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4" and await resp.read()
    assert sim.counters.api_requests_by_endpoint["video_status"] == 2


async def test_video_clipping_statuses_over_polls(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(video_polls_to_complete=4)
    api = Api(sim, http)
    form = aiohttp.FormData()
    form.add_field(VIDEO_UPLOAD_FIELD, b"\xff\xd8 video selfie", filename="s.jpg", content_type="image/jpeg")
    data = assert_success(*(await api.post("/video-clipping/search-by-selfie", data=form)))
    request_id = data["request_id"]
    statuses = [assert_success(*(await api.get(f"/video-clipping/{request_id}")))["status"] for _ in range(5)]
    assert statuses == ["queued", "processing", "processing", "completed", "completed"]


async def test_video_clipping_by_time_and_failure(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(video_complete_after_s=60.0, video_outcome="failed")
    api = Api(sim, http)
    request_id = next(iter(sim.world.selfie_request_ids))
    data = assert_success(
        *(await api.post("/video-clipping/search-by-selfie", json={VIDEO_REQUEST_ID_FIELD: request_id}))
    )
    assert assert_success(*(await api.get(f"/video-clipping/{request_id}")))["status"] == "queued"
    assert assert_success(*(await api.get(f"/video-clipping/{request_id}")))["status"] == "processing"
    sim.advance_clock(61)
    data = assert_success(*(await api.get(f"/video-clipping/{request_id}")))
    assert data["status"] == "failed" and data["clips"] == []


async def test_video_clipping_errors(api: Api, sim_factory: Any, http: aiohttp.ClientSession) -> None:
    assert_error(
        *(await api.post("/video-clipping/search-by-selfie", data=aiohttp.FormData({"x": "1"}))), 400
    )
    empty = aiohttp.FormData()
    empty.add_field(VIDEO_UPLOAD_FIELD, b"", filename="s.jpg", content_type="image/jpeg")
    assert_error(*(await api.post("/video-clipping/search-by-selfie", data=empty)), 400)
    unknown = aiohttp.FormData({VIDEO_REQUEST_ID_FIELD: "00000000-0000-4000-8000-000000000000"})
    assert_error(*(await api.post("/video-clipping/search-by-selfie", data=unknown)), 404)
    assert_error(*(await api.get("/video-clipping/00000000-0000-4000-8000-000000000000")), 404)
    for flag in ("video_search", "video_selfie_search"):
        sim = await sim_factory(disabled_features=frozenset({flag}))
        off = Api(sim, http)
        form = aiohttp.FormData({VIDEO_REQUEST_ID_FIELD: next(iter(sim.world.selfie_request_ids))})
        assert_error(*(await off.post("/video-clipping/search-by-selfie", data=form)), 403)


# --- original photos ----------------------------------------------------------------------------
async def originals(api: Api, body: Any, **params: Any) -> tuple[int, Any]:
    return await api.post("/original-photos", json=body, params=params or None)


async def test_originals_by_bib_pages(api: Api, sim: Simulator) -> None:
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: len(kv[1]))
    got: list[str] = []
    page = 1
    while True:
        data = assert_success(
            *(await originals(api, {"method": "bib", "identifier": bib}, page=page, page_size=3))
        )
        decoded = msgspec.convert(data, OriginalPhotos)
        assert decoded.identifier == bib and decoded.total_images == len(ids)
        assert decoded.successful_count == len(decoded.presigned_urls)
        got += [u.url.split("/")[-1].split(".jpg")[0] for u in decoded.presigned_urls]
        assert decoded.pagination is not None
        if not decoded.pagination.has_next_page:
            break
        page += 1
    assert got == ids
    assert sim.counters.original_photos_by_method == {"bib": page}


async def test_originals_by_selfie(api: Api, sim: Simulator) -> None:
    request_id, ids = list(sim.world.selfie_request_ids.items())[1]
    data = assert_success(
        *(await originals(api, {"method": "selfie", "identifier": request_id}, page_size=60))
    )
    assert data["identifier"] == request_id
    assert data["total_images"] == len(ids)
    assert data["pagination"]["page_size"] == 60
    assert data["presigned_urls"][0]["filename"] == f"{ids[0]}.jpg"


async def test_originals_selfie_without_matches(api: Api) -> None:
    face = assert_success(*(await api.post("/faces", data=selfie_form(b"noface"))))
    status, body = await originals(api, {"method": "selfie", "identifier": face["request_id"]})
    data = assert_success(status, body)
    assert data["presigned_urls"] == [] and data["failed_urls"] == [] and data["pagination"] is None
    assert "No images found" in body["message"]


async def test_originals_single_image_id(api: Api, sim: Simulator) -> None:
    image_id = sim.world.photos[5].image_id
    data = assert_success(*(await originals(api, {"method": "image_id", "identifier": image_id})))
    assert data["identifier"] == image_id and data["total_images"] == 1
    assert data["pagination"]["page_size"] == 30
    url = data["presigned_urls"][0]["url"]
    assert url.startswith(f"{sim.storage_url}/raw-memories/imgs/{sim.event_id}/large/{image_id}.jpg?")
    for param in (
        "X-Amz-Algorithm=",
        "X-Amz-Credential=",
        "X-Amz-Date=",
        "X-Amz-Expires=3600",
        "X-Amz-SignedHeaders=",
        "X-Amz-Signature=",
    ):
        assert param in url
    status, body = await originals(
        api, {"method": "image_id", "identifier": "a4402318-0cf4-4e1e-b8e8-ac8e8f2fc244"}
    )
    assert_error(status, body, 400)
    assert body["message"] == "The provided image_id is invalid. The requested image was not found."


async def test_originals_image_ids_mixed_and_missing(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(missing_count=3)
    api = Api(sim, http)
    good = [p.image_id for p in sim.world.photos[:4] if p.image_id not in sim.world.missing_ids]
    missing = sim.world.missing_ids
    bogus = "f6cb3c08-2c7a-4ff7-8c1b-71b6f7d4d932"
    data = assert_success(
        *(await originals(api, {"method": "image_ids", "identifier": [*good, *missing, bogus]}, page_size=60))
    )
    assert data["identifier"] is None
    assert data["total_images"] == len(good) + len(missing) + 1
    assert data["successful_count"] == len(good) and data["failed_count"] == len(missing) + 1
    failed = {f["image_id"]: f for f in data["failed_urls"]}
    assert set(failed) == {*missing, bogus}
    assert failed[bogus]["path"] == f"imgs/{sim.event_id}/large/{bogus}.jpg"
    assert failed[bogus]["error"] == "File not found in raw-memories bucket"
    # every id invalid -> 400, a single missing image_id -> 400
    status, body = await originals(api, {"method": "image_ids", "identifier": [*missing, bogus]})
    assert_error(status, body, 400)
    assert body["message"] == "All provided image_ids are invalid. None of the requested images were found."
    assert_error(*(await originals(api, {"method": "image_id", "identifier": missing[0]})), 400)
    # whole-event listing still shows missing photos; bib downloads report them as failed
    bib = next(b for b, ids in sim.world.bibs.items() if set(ids) & set(missing))
    data = assert_success(*(await originals(api, {"method": "bib", "identifier": bib}, page_size=60)))
    assert {f["image_id"] for f in data["failed_urls"]} == set(sim.world.bibs[bib]) & set(missing)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"identifier": "1"}, 400),  # missing method
        ({"method": "name", "identifier": "1"}, 422),  # method not one of the four
        ({"method": 5, "identifier": "1"}, 422),
        ({"method": "bib"}, 400),  # missing identifier
        ({"method": "bib", "identifier": ["1"]}, 400),  # list for a string method
        ({"method": "selfie", "identifier": ""}, 400),
        ({"method": "image_id", "identifier": "   "}, 400),
        ({"method": "image_ids", "identifier": "a"}, 400),  # string for the list method
        ({"method": "image_ids", "identifier": []}, 400),
        ({"method": "image_ids", "identifier": ["ok", 3]}, 400),
        (["not", "an", "object"], 422),
        ({"method": "bib", "identifier": "no-such-bib"}, 404),
        ({"method": "selfie", "identifier": "00000000-0000-4000-8000-000000000000"}, 404),
    ],
)
async def test_originals_validation(api: Api, sim: Simulator, body: Any, status: int) -> None:
    assert_error(*(await originals(api, body)), status)
    assert sim.counters.api_requests_by_endpoint["original_photos"] == 1


async def test_originals_page_size_limit_and_bad_json(api: Api, sim: Simulator) -> None:
    bib = next(iter(sim.world.bibs))
    assert_success(*(await originals(api, {"method": "bib", "identifier": bib}, page_size=60)))
    assert_error(*(await originals(api, {"method": "bib", "identifier": bib}, page_size=61)), 422)
    status, body = await api.post(
        "/original-photos", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(status, body, 422)


async def test_unknown_method_status_knob(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(unknown_method_status=400, page_size_error_status=400)
    api = Api(sim, http)
    assert_error(*(await originals(api, {"method": "name", "identifier": "1"})), 400)
    assert_error(*(await api.get("/images", params={"page_size": 101})), 400)


async def test_hostile_filenames_are_served(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(hostile_filenames=True)
    api = Api(sim, http)
    ids = [p.image_id for p in sim.world.photos]
    names: list[str] = []
    for start in range(0, len(ids), 60):
        data = assert_success(
            *(
                await originals(
                    api, {"method": "image_ids", "identifier": ids[start : start + 60]}, page_size=60
                )
            )
        )
        names += [u["filename"] for u in data["presigned_urls"]]
    for hostile in (
        "../../x.jpg",
        "/etc/passwd",
        "a/b.jpg",
        "..",
        "",
        "CON",
        "nul\x00byte.jpg",
        "A" * 296 + ".jpg",
    ):
        assert hostile in names
    assert names.count("IMG_0001.jpg") == 2
    assert "Photo.JPG" in names and "photo.jpg" in names


async def test_malformed_multipart_is_400(api: Api) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=zzz"}
    status, body = await api.post("/faces", data=b"--zzz\r\ngarbage without end", headers=headers)
    assert status in (400, 422)
    assert body["responseType"] == "error"


# --- hostile listing knobs ----------------------------------------------------------------------
def url_id(url: str) -> str:
    """The image id in a presigned URL of the default ("id") key layout."""
    return url.split("?")[0].rsplit("/", 1)[-1].removesuffix(".jpg")


async def test_shuffle_image_ids_knob(api: Api, sim: Simulator) -> None:
    ids = [p.image_id for p in sim.world.photos[:5]]
    data = assert_success(*(await originals(api, {"method": "image_ids", "identifier": ids})))
    assert [url_id(u["url"]) for u in data["presigned_urls"]] == ids
    sim.faults.api_shuffle_image_ids = True
    data = assert_success(*(await originals(api, {"method": "image_ids", "identifier": ids})))
    got = [url_id(u["url"]) for u in data["presigned_urls"]]
    assert got != ids and sorted(got) == sorted(ids)
    assert [u["filename"] for u in data["presigned_urls"]] == [f"{i}.jpg" for i in got]
    assert sim.counters.api_shuffled_image_ids == 1
    # other methods keep their order
    data = assert_success(*(await originals(api, {"method": "image_id", "identifier": ids[0]})))
    assert url_id(data["presigned_urls"][0]["url"]) == ids[0]


async def test_listing_repeat_page_all_photos(api: Api, sim: Simulator) -> None:
    all_ids = [p.image_id for p in sim.world.photos]
    sim.faults.listing_repeat_page = 2
    sim.faults.listing_repeat_budget = 2
    first = assert_success(*(await api.get("/images", params={"page": 1, "page_size": 50})))
    assert [i["image_id"] for i in first["images"]] == all_ids[:50]
    for _ in range(2):
        data = assert_success(*(await api.get("/images", params={"page": 2, "page_size": 50})))
        assert [i["image_id"] for i in data["images"]] == all_ids[:50]  # page 1 again
        assert data["pagination"] == {
            "total": 120,
            "currentPage": 2,
            "totalPages": 3,
            "hasNextPage": True,
            "hasPreviousPage": True,
            "page_size": 50,
        }
    data = assert_success(*(await api.get("/images", params={"page": 2, "page_size": 50})))
    assert [i["image_id"] for i in data["images"]] == all_ids[50:100]  # budget spent
    assert sim.faults.listing_repeat_budget == 0 and sim.counters.listing_pages_repeated == 2


async def test_listing_repeat_page_bibs_and_originals(api: Api, sim: Simulator) -> None:
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: len(kv[1]))
    assert len(ids) >= 4
    sim.faults.listing_repeat_page = 2
    sim.faults.listing_repeat_budget = 2
    data = assert_success(*(await api.get(f"/bibs/{bib}", params={"page": 2, "page_size": 2})))
    assert [i["image_id"] for i in data["images"]] == ids[:2]
    assert data["pagination"]["currentPage"] == 2 and data["pagination"]["total"] == len(ids)
    body = {"method": "bib", "identifier": bib}
    data = assert_success(*(await originals(api, body, page=2, page_size=2)))
    assert [url_id(u["url"]) for u in data["presigned_urls"]] == ids[:2]
    assert data["pagination"]["currentPage"] == 2 and data["total_images"] == len(ids)
    data = assert_success(*(await originals(api, body, page=2, page_size=2)))
    assert [url_id(u["url"]) for u in data["presigned_urls"]] == ids[2:4]
    assert sim.counters.listing_pages_repeated == 2


async def test_listing_repeat_page_selfie(api: Api, sim: Simulator) -> None:
    request_id, ids = next(iter(sim.world.selfie_request_ids.items()))
    sim.faults.listing_repeat_page = 3
    body = {"method": "selfie", "identifier": request_id}
    data = assert_success(*(await originals(api, body, page=3, page_size=2)))
    assert [url_id(u["url"]) for u in data["presigned_urls"]] == ids[2:4]
    assert data["pagination"]["currentPage"] == 3


async def test_listing_endless(api: Api, sim: Simulator) -> None:
    sim.faults.listing_endless = True
    real = {p.image_id for p in sim.world.photos}
    data = assert_success(*(await api.get("/images", params={"page": 3, "page_size": 50})))
    ids = [i["image_id"] for i in data["images"]]
    assert len(ids) == 50 and set(ids[:20]) <= real and not set(ids[20:]) & real
    assert data["pagination"] == {
        "total": 120,
        "currentPage": 3,
        "totalPages": 4,
        "hasNextPage": True,
        "hasPreviousPage": True,
        "page_size": 50,
    }
    far = assert_success(*(await api.get("/images", params={"page": 1000, "page_size": 50})))
    fake = [i["image_id"] for i in far["images"]]
    assert len(fake) == 50 and len(set(fake)) == 50 and not set(fake) & real
    assert far["pagination"]["hasNextPage"] is True and far["pagination"]["totalPages"] == 1001
    assert sim.counters.listing_endless_images == 80
    # made-up ids are unknown to original-photos: all unknown -> 400, mixed -> failed_urls
    assert_error(*(await originals(api, {"method": "image_ids", "identifier": fake[:3]})), 400)
    data = assert_success(*(await originals(api, {"method": "image_ids", "identifier": ids[19:22]})))
    assert data["successful_count"] == 1 and {f["image_id"] for f in data["failed_urls"]} == set(ids[20:22])
    sim.faults.listing_endless = False
    data = assert_success(*(await api.get("/images", params={"page": 3, "page_size": 50})))
    assert len(data["images"]) == 20 and data["pagination"]["hasNextPage"] is False
