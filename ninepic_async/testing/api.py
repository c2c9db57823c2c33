"""The 9Pic external API as an aiohttp.web app, every endpoint of the reference.

Every response, success or error, carries the envelope ``{responseType, message, data}``
(legacy mode sends success bodies flat). Order of checks per request: counters, injected
latency/429/5xx, auth (401 missing key, 403 wrong key or org), event (404), feature flag
(403), then validation (400/422) and the work.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict, MultiDictProxy

from .._constants import (
    API_KEY_HEADER,
    API_PREFIX,
    BIBS_PAGE_SIZE,
    EVENTS_PAGE_SIZE,
    FACE_REQUEST_ID_FIELD,
    FACE_UPLOAD_FIELD,
    FACES_PAGE_SIZE,
    IMAGES_PAGE_SIZE,
    ORIGINALS_PAGE_SIZE,
    TIMELINE_FROM_PARAM,
    TIMELINE_PAGE_SIZE,
    TIMELINE_TO_PARAM,
    VIDEO_REQUEST_ID_FIELD,
    VIDEO_UPLOAD_FIELD,
)
from .state import EventMeta, SimState, VideoJob
from .world import FaceResult, World

__all__ = ["DOWNLOAD_METHODS", "ApiError", "make_api_app"]

log = logging.getLogger(__name__)
STATE_KEY: web.AppKey[SimState] = web.AppKey("ninepic_sim_api_state", SimState)
DOWNLOAD_METHODS: tuple[str, ...] = ("bib", "selfie", "image_id", "image_ids")
NOT_FOUND_IN_BUCKET = "File not found in raw-memories bucket"
_FLAG_NAMES = {
    "bib_search": "BIB search",
    "selfie_search": "Selfie search",
    "timeline_search": "Timeline search",
    "video_search": "Video search",
    "video_selfie_search": "Video selfie search",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An error answer: status and the human-readable envelope message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(state: SimState, status: int, body: Any) -> web.Response:
    state.request_seq += 1
    return web.Response(
        status=status,
        body=_encoder.encode(body),
        content_type="application/json",
        headers={"X-Request-Id": f"sim-{state.request_seq:08d}"},
    )


def _error(state: SimState, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    response = _json(state, status, {"responseType": "error", "message": message, "data": None})
    if headers:
        response.headers.update(headers)
    return response


def _ok(state: SimState, message: str, data: Any) -> web.Response:
    if state.config.legacy_flat:
        return _json(state, 200, data)
    return _json(state, 200, {"responseType": "success", "message": message, "data": data})


# --- request parsing -------------------------------------------------------------------------
def _int_query(
    request: web.Request,
    name: str,
    default: int | None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    range_status: int = 422,
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            return None
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            422, f"query.{name}: Input should be a valid integer, unable to parse string as an integer"
        ) from None
    if minimum is not None and value < minimum:
        raise ApiError(range_status, f"query.{name}: Input should be greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise ApiError(range_status, f"query.{name}: Input should be less than or equal to {maximum}")
    return value


def _paging(request: web.Request, limits: tuple[int, int]) -> tuple[int, int]:
    status = request.app[STATE_KEY].config.page_size_error_status
    page = _int_query(request, "page", 1, minimum=1, range_status=status)
    size = _int_query(request, "page_size", limits[0], minimum=1, maximum=limits[1], range_status=status)
    assert page is not None and size is not None
    return page, size


def pagination(total: int, page: int, page_size: int) -> dict[str, Any]:
    """PaginationInfo as documented; no results -> currentPage 0, totalPages 0."""
    if total == 0:
        return {
            "total": 0,
            "currentPage": 0,
            "totalPages": 0,
            "hasNextPage": False,
            "hasPreviousPage": False,
            "page_size": page_size,
        }
    pages = math.ceil(total / page_size)
    return {
        "total": total,
        "currentPage": page,
        "totalPages": pages,
        "hasNextPage": page < pages,
        "hasPreviousPage": page > 1,
        "page_size": page_size,
    }


def _page_slice(total: int, page: int, page_size: int) -> range:
    start = (page - 1) * page_size
    return range(min(start, total), min(start + page_size, total))


def _image_item(state: SimState, world: World, index: int) -> dict[str, Any]:
    photo = world.photo_at(index)
    return _item_dict(state, world, photo.image_id, photo.width, photo.height)


def _item_dict(state: SimState, world: World, image_id: str, width: int, height: int) -> dict[str, Any]:
    base = f"{state.storage_url}/imgs/{world.event_id}"
    img_url = f"{base}/large/{image_id}.jpg"
    thumb = f"{base}/small/{image_id}.jpg"
    if state.config.legacy_flat:
        return {
            "img_url": img_url,
            "height": height,
            "widht": width,
            "image_id": image_id,
            "thumbanail_url": thumb,
            "orginal_url": None,
        }
    return {
        "img_url": img_url,
        "height": height,
        "width": width,
        "image_id": image_id,
        "thumbnail_url": thumb,
        "original_url": None,
    }


def _listing_page(state: SimState, page: int) -> int:
    """The page whose items a listing request for ``page`` gets: ``page - 1`` when
    ``Faults.listing_repeat_page`` fires (spending one ``listing_repeat_budget``), else ``page``."""
    faults = state.faults
    target = faults.listing_repeat_page
    if target is None or target < 2 or page != target or faults.listing_repeat_budget <= 0:
        return page
    faults.listing_repeat_budget -= 1
    state.counters.listing_pages_repeated += 1
    return page - 1


def _images_page(
    state: SimState,
    world: World,
    indices: Sequence[int],
    page: int,
    page_size: int,
    *,
    repeatable: bool = False,
) -> dict[str, Any]:
    source = _listing_page(state, page) if repeatable else page
    window = _page_slice(len(indices), source, page_size)
    return {
        "images": [_image_item(state, world, indices[i]) for i in window],
        "pagination": pagination(len(indices), page, page_size),
    }


def _endless_page(state: SimState, world: World, page: int, page_size: int) -> dict[str, Any]:
    """An All Photos page of ``Faults.listing_endless``: always a next page, made-up ids past the end."""
    source = _listing_page(state, page)
    items = []
    for position in range((source - 1) * page_size, source * page_size):
        if position < world.photo_count:
            items.append(_image_item(state, world, position))
        else:  # an id that is no photo of any event: original-photos reports it as failed
            image_id = world.new_request_id(f"endless-image-{position}")
            items.append(_item_dict(state, world, image_id, 4860, 3240))
            state.counters.listing_endless_images += 1
    block = pagination(world.photo_count, page, page_size)
    block.update(currentPage=page, totalPages=page + 1, hasNextPage=True, hasPreviousPage=page > 1)
    return {"images": items, "pagination": block}


def _event(request: web.Request) -> EventMeta:
    return request.app[STATE_KEY].events[int(request.match_info["event_id"])]


def _require(event: EventMeta, *flags: str) -> None:
    if not event.flags["event_enabled"]:
        raise ApiError(403, "This event is disabled")
    for flag in flags:
        if not event.flags[flag]:
            raise ApiError(403, f"{_FLAG_NAMES.get(flag, flag)} is disabled for this event")


async def _form(request: web.Request) -> MultiDictProxy[Any]:
    ctype = request.content_type
    if ctype.startswith("multipart/") or ctype == "application/x-www-form-urlencoded":
        try:
            return await request.post()
        except (ValueError, AssertionError, LookupError, HttpProcessingError) as exc:
            raise ApiError(400, f"Malformed form body: {exc}") from None
    return MultiDictProxy(MultiDict())


def _upload_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, web.FileField):
        return bytes(value.file.read())
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return None


def _text_field(value: Any) -> str | None:
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


# --- handlers ----------------------------------------------------------------------------------
async def ping(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    event = _event(request)
    return _ok(state, "pong", {"status": "ok", "org_id": state.config.org_id, "event_id": event.event_id})


async def list_events(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    page, size = _paging(request, EVENTS_PAGE_SIZE)
    events = list(state.events.values())
    window = _page_slice(len(events), page, size)
    items = []
    for i in window:
        ev = events[i]
        cover = None
        if ev.world.photo_count:
            cover = f"{state.storage_url}/imgs/{ev.event_id}/small/{ev.world.image_id_at(0)}.jpg"
        items.append(
            {
                "event_id": ev.event_id,
                "event_name": ev.name,
                "event_slug": ev.slug,
                "event_date": f"{ev.date}T07:00:00Z",
                "status": ev.status,
                "cover_image": cover,
            }
        )
    message = "Events fetched successfully" if events else "No events found"
    return _ok(state, message, {"events": items, "pagination": pagination(len(events), page, size)})


async def details(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    data: dict[str, Any] = {
        "event_id": ev.event_id,
        "event_name": ev.name,
        "event_slug": ev.slug,
        "event_date": f"{ev.date}T07:00:00Z",
        "status": ev.status,
    }
    flags = dict(ev.flags)
    if state.config.legacy_flat:
        for name in ("video_search", "video_selfie_search", "timeline_search"):
            flags.pop(name)
    data.update(flags)
    return _ok(state, "Event details fetched successfully", data)


async def images(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev)
    page, size = _paging(request, IMAGES_PAGE_SIZE)
    if state.faults.listing_endless:
        data = _endless_page(state, ev.world, page, size)
    else:
        data = _images_page(state, ev.world, range(ev.world.photo_count), page, size, repeatable=True)
    return _ok(state, "Records for all images" if data["images"] else "No images found", data)


async def bibs(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "bib_search")
    page, size = _paging(request, BIBS_PAGE_SIZE)
    bib = request.match_info["bib"]
    found = ev.world.bib_indices(bib)
    if found is None:
        raise ApiError(404, f"No photos found for BIB {bib}")
    data = _images_page(state, ev.world, found, page, size, repeatable=True)
    return _ok(state, f"Records for BIB {bib}", data)


def _face_payload(state: SimState, ev: EventMeta, result: FaceResult, page: int, size: int) -> dict[str, Any]:
    data = _images_page(state, ev.world, result.indices, page, size)
    return {"request_id": result.request_id, "confidence_percentage": result.confidence_percentage, **data}


async def faces_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "selfie_search")
    page, size = _paging(request, FACES_PAGE_SIZE)
    form = await _form(request)
    selfie = _upload_bytes(form.get(FACE_UPLOAD_FIELD))
    request_id = _text_field(form.get(FACE_REQUEST_ID_FIELD))
    if selfie is not None and not selfie:
        raise ApiError(400, "Uploaded file is empty")
    world = ev.world
    cached = world.face_results.get(request_id) if request_id else None
    if cached is None:
        if selfie is None:
            if request_id:
                raise ApiError(404, f"request_id {request_id} not found")
            raise ApiError(422, f"body.{FACE_UPLOAD_FIELD}: Field required")
        state.counters.face_matching_runs += 1
        matched = world.match_selfie(selfie)
        if request_id:
            matched = FaceResult(
                request_id, matched.indices, matched.confidence_percentage, matched.selfie_md5
            )
        world.face_results[matched.request_id] = matched
        cached = matched
    data = _face_payload(state, ev, cached, page, size)
    return _ok(state, "Face search completed" if cached.indices else "No matching images found", data)


async def faces_get(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "selfie_search")
    page, size = _paging(request, FACES_PAGE_SIZE)
    request_id = request.match_info["request_id"]
    result = ev.world.face_results.get(request_id)
    if result is None:
        raise ApiError(404, f"request_id {request_id} not found")
    data = _face_payload(state, ev, result, page, size)
    return _ok(state, "Face search results" if result.indices else "No matching images found", data)


async def timeline_days(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "timeline_search")
    days = [
        {"date": day, "total": total, "hours": [{"hour": h, "count": c} for h, c in hours]}
        for day, total, hours in ev.world.timeline_days()
    ]
    return _ok(state, "Timeline days" if days else "No images found", {"days": days})


async def timeline_images(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "timeline_search")
    start = _int_query(request, TIMELINE_FROM_PARAM, None)
    end = _int_query(request, TIMELINE_TO_PARAM, None)
    if start is None:
        raise ApiError(422, f"query.{TIMELINE_FROM_PARAM}: Field required")
    if end is None:
        raise ApiError(422, f"query.{TIMELINE_TO_PARAM}: Field required")
    if end < start:
        raise ApiError(400, f"'{TIMELINE_TO_PARAM}' must not be before '{TIMELINE_FROM_PARAM}'")
    page, size = _paging(request, TIMELINE_PAGE_SIZE)
    data = _images_page(state, ev.world, ev.world.timeline_range(start, end), page, size)
    return _ok(state, "Timeline images" if data["images"] else "No images found", data)


async def video_start(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "video_search", "video_selfie_search")
    if request.content_type == "application/json":
        try:
            body = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise ApiError(422, "body: Input should be a valid JSON object") from None
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
    else:
        fields = dict(await _form(request))
    selfie = _upload_bytes(fields.get(VIDEO_UPLOAD_FIELD))
    request_id = _text_field(fields.get(VIDEO_REQUEST_ID_FIELD))
    world = ev.world
    if request_id:
        if request_id not in world.face_results:
            raise ApiError(404, f"request_id {request_id} not found")
    elif selfie is None:
        raise ApiError(400, f"Provide a selfie upload ({VIDEO_UPLOAD_FIELD}) or a {VIDEO_REQUEST_ID_FIELD}")
    elif not selfie:
        raise ApiError(400, "Uploaded file is empty")
    else:
        state.counters.face_matching_runs += 1
        matched = world.match_selfie(selfie)
        world.face_results.setdefault(matched.request_id, matched)
        request_id = matched.request_id
    key = (ev.event_id, request_id)
    job = state.video_jobs.get(key)
    if job is None:
        state.counters.video_jobs_started += 1
        state.video_jobs[key] = VideoJob(request_id, state.faults.now_s())
    return _ok(
        state, "Video clipping job queued", {"request_id": request_id, "status": "queued", "clips": []}
    )


async def video_status(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev, "video_search", "video_selfie_search")
    request_id = request.match_info["request_id"]
    job = state.video_jobs.get((ev.event_id, request_id))
    if job is None:
        raise ApiError(404, f"request_id {request_id} not found")
    job.polls += 1
    cfg = state.config
    if cfg.video_complete_after_s is not None:
        elapsed = state.faults.now_s() - job.started_s
        done = elapsed >= cfg.video_complete_after_s
        progress = 100 if done else int(100 * elapsed / max(cfg.video_complete_after_s, 1e-9))
    else:
        done = job.polls >= cfg.video_polls_to_complete
        progress = 100 if done else int(100 * job.polls / max(cfg.video_polls_to_complete, 1))
    data: dict[str, Any] = {"request_id": request_id, "clips": []}
    if done and cfg.video_outcome == "failed":
        data.update(status="failed", progress=100, error="Video generation failed (simulated)")
    elif done:
        count = 1 + int(request_id[:8], 16) % 3
        base = f"{state.storage_url}/raw-memories/videos/{ev.event_id}/{request_id}"
        clips = [
            {
                "url": f"{base}/clip-{n}.mp4",
                "thumbnail_url": f"{base}/clip-{n}.jpg",
                "duration": 5.0 + 2.5 * n,
            }
            for n in range(1, count + 1)
        ]
        data.update(status="completed", progress=100, clips=clips)
    else:
        data.update(status="queued" if job.polls == 1 else "processing", progress=min(progress, 99))
    return _ok(state, f"Video clipping job {data['status']}", data)


def _validate_originals(state: SimState, body: Any) -> tuple[str, str | list[str]]:
    if not isinstance(body, dict):
        raise ApiError(422, "body: Input should be a valid dictionary or object to extract fields from")
    if "method" not in body or body["method"] is None:
        raise ApiError(400, "Invalid request: 'method' is required (one of bib, selfie, image_id, image_ids)")
    method = body["method"]
    if not isinstance(method, str):
        raise ApiError(422, "body.method: Input should be a valid string")
    if method not in DOWNLOAD_METHODS:
        raise ApiError(
            state.config.unknown_method_status,
            "body.method: Input should be 'bib', 'selfie', 'image_id' or 'image_ids'",
        )
    if "identifier" not in body or body["identifier"] is None:
        raise ApiError(400, "Invalid request: 'identifier' is required")
    identifier = body["identifier"]
    if method == "image_ids":
        if not isinstance(identifier, list):
            raise ApiError(
                400, "Invalid identifier: must be a non-empty list of strings when method is 'image_ids'"
            )
        if not identifier:
            raise ApiError(400, "Invalid identifier: must not be empty")
        if not all(isinstance(item, str) and item.strip() for item in identifier):
            raise ApiError(400, "Invalid identifier: every item must be a non-empty string")
        return method, [item.strip() for item in identifier]
    if not isinstance(identifier, str):
        raise ApiError(400, f"Invalid identifier: must be a string when method is '{method}'")
    if not identifier.strip():
        raise ApiError(400, "Invalid identifier: must not be empty")
    return method, identifier.strip()


async def original_photos(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ev = _event(request)
    _require(ev)
    page, size = _paging(request, ORIGINALS_PAGE_SIZE)
    raw = await request.read()
    try:
        body = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise ApiError(422, "body: JSON decode error") from None
    method, identifier = _validate_originals(state, body)
    by_method = state.counters.original_photos_by_method
    by_method[method] = by_method.get(method, 0) + 1
    world = ev.world
    # Resolve to a list of (image_id, index-or-None).
    entries: list[tuple[str, int | None]]
    echo: str | None
    if method == "bib":
        assert isinstance(identifier, str)
        found = world.bib_indices(identifier)
        if found is None:
            raise ApiError(404, f"No photos found for BIB {identifier}")
        entries, echo = [(world.image_id_at(i), i) for i in found], identifier
    elif method == "selfie":
        assert isinstance(identifier, str)
        result = world.face_results.get(identifier)
        if result is None:
            raise ApiError(404, f"request_id {identifier} not found")
        entries, echo = [(world.image_id_at(i), i) for i in result.indices], identifier
    elif method == "image_id":
        assert isinstance(identifier, str)
        index = world.index_of(identifier)
        if index is None or world.is_missing(index):
            raise ApiError(400, "The provided image_id is invalid. The requested image was not found.")
        entries, echo = [(identifier, index)], identifier
    else:
        assert isinstance(identifier, list)
        entries = [(image_id, world.index_of(image_id)) for image_id in identifier]
        if all(i is None or world.is_missing(i) for _, i in entries):
            raise ApiError(
                400, "All provided image_ids are invalid. None of the requested images were found."
            )
        echo = None
    if not entries:
        data = {
            "presigned_urls": [],
            "failed_urls": [],
            "total_images": 0,
            "successful_count": 0,
            "failed_count": 0,
            "identifier": echo,
            "pagination": None,
        }
        return _ok(state, f"No images found for {method} identifier {echo}", data)
    presigned: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    source = _listing_page(state, page) if method in ("bib", "selfie") else page
    for n in _page_slice(len(entries), source, size):
        image_id, index = entries[n]
        if index is None or world.is_missing(index):
            failed.append(
                {
                    "image_id": image_id,
                    "error": NOT_FOUND_IN_BUCKET,
                    "path": state.object_path(ev.event_id, image_id),
                }
            )
        else:
            presigned.append(
                {"url": state.presign(ev.event_id, image_id), "filename": world.photo_at(index).filename}
            )
    if method == "image_ids" and state.faults.api_shuffle_image_ids and max(len(presigned), len(failed)) > 1:
        presigned.reverse()  # never the request's order for 2+ distinct ids
        failed.reverse()
        state.counters.api_shuffled_image_ids += 1
    data = {
        "presigned_urls": presigned,
        "failed_urls": failed,
        "total_images": len(entries),
        "successful_count": len(presigned),
        "failed_count": len(failed),
        "identifier": echo,
        "pagination": pagination(len(entries), page, size),
    }
    return _ok(state, "Presigned URLs generated", data)


# --- middleware and app ----------------------------------------------------------------------
@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    counters = state.counters
    counters.api_requests += 1
    route_name = request.match_info.route.name
    endpoint = route_name or ""
    if endpoint in counters.api_requests_by_endpoint:
        counters.api_requests_by_endpoint[endpoint] += 1
    response = await _guarded(request, handler, state, endpoint)
    status = response.status
    counters.api_responses_by_status[status] = counters.api_responses_by_status.get(status, 0) + 1
    if status == 429:
        counters.responses_429 += 1
    elif status >= 500:
        counters.responses_5xx += 1
    return response


async def _guarded(
    request: web.Request, handler: Handler, state: SimState, endpoint: str
) -> web.StreamResponse:
    faults, config = state.faults, state.config
    if faults.api_latency_s > 0:
        await asyncio.sleep(faults.api_latency_s)
    if faults.api_roll(faults.api_429_rate, endpoint):
        headers = None
        if faults.api_retry_after_s is not None:
            headers = {"Retry-After": f"{faults.api_retry_after_s:g}"}
        return _error(state, 429, "Too many requests. Please retry later.", headers)
    if faults.api_roll(faults.api_5xx_rate, endpoint):
        return _error(state, faults.api_5xx_status, "Internal server error (simulated)")
    if not endpoint:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _error(state, exc.status, exc.reason)
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        state.counters.api_requests_without_key += 1
        return _error(state, 401, "API key is missing")
    if key != config.api_key:
        return _error(state, 403, "Invalid or inactive API key")
    try:
        org_id = int(request.match_info["org_id"])
        event_raw = request.match_info.get("event_id")
        event_id = int(event_raw) if event_raw is not None else None
    except ValueError:
        return _error(state, 422, "path: Input should be a valid integer")
    if org_id != config.org_id:
        return _error(state, 403, "Organisation is not owned by this API key")
    if event_id is not None and event_id not in state.events:
        return _error(state, 404, "Event configuration not found")
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(state, exc.status, exc.message)
    except web.HTTPException as exc:
        return _error(state, exc.status, exc.reason)
    except Exception:
        log.exception("simulator API handler failed on %s %s", request.method, request.path)
        return _error(state, 500, "Internal failure")


def make_api_app(state: SimState) -> web.Application:
    """The aiohttp app of the API (paths under API_PREFIX)."""
    app = web.Application(middlewares=[_middleware], client_max_size=32 * 1024 * 1024)
    app[STATE_KEY] = state
    org = f"{API_PREFIX}/{{org_id}}"
    ev = f"{org}/event/{{event_id}}"
    r = app.router
    r.add_get(f"{org}/events", list_events, name="events")
    r.add_get(f"{ev}/ping", ping, name="ping")
    r.add_get(f"{ev}/details", details, name="details")
    r.add_get(f"{ev}/images", images, name="images")
    r.add_get(f"{ev}/bibs/{{bib}}", bibs, name="bibs")
    r.add_post(f"{ev}/faces", faces_post, name="faces_post")
    r.add_get(f"{ev}/faces/{{request_id}}", faces_get, name="faces_get")
    r.add_get(f"{ev}/timeline/days", timeline_days, name="timeline_days")
    r.add_get(f"{ev}/timeline/images", timeline_images, name="timeline_images")
    r.add_post(f"{ev}/video-clipping/search-by-selfie", video_start, name="video_start")
    r.add_get(f"{ev}/video-clipping/{{request_id}}", video_status, name="video_status")
    r.add_post(f"{ev}/original-photos", original_photos, name="original_photos")
    return app
