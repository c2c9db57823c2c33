"""The object store: presigned GET/HEAD of originals, on its own port (a different origin).

Bodies are streamed in large chunks so faults can cut them mid-way. The hot path does no
logging and allocates nothing per byte: content comes as memoryview slices of a shared pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from email.utils import formatdate
from xml.sax.saxutils import escape

from aiohttp import web

from .._constants import API_KEY_HEADER
from .signing import SignatureCheck
from .state import SimState

__all__ = ["make_store_app", "parse_range"]

log = logging.getLogger(__name__)
STATE_KEY: web.AppKey[SimState] = web.AppKey("ninepic_sim_store_state", SimState)


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes past the end of the object."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=N-``, ``bytes=N-M`` or ``bytes=-K`` -> [start, end) of a ``size``-byte object.

    ``None`` when the header is not a single byte range we understand (serve the whole
    object, as RFC 9110 allows); :class:`RangeNotSatisfiable` when it starts past the end.
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable
            return max(0, size - suffix), size
        start = int(first)
        end = int(last) + 1 if last else None
    except ValueError:
        return None
    if start < 0 or (end is not None and end <= start):
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, size if end is None else min(end, size)


def _xml_error(status: int, code: str, message: str, resource: str = "") -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


async def _get_original(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    counters, faults, config = state.counters, state.faults, state.config
    counters.storage_requests += 1
    path = request.path
    if API_KEY_HEADER in request.headers:
        counters.storage_requests_with_api_key += 1
        return _xml_error(
            400, "InvalidArgument", "Unsupported header 'X-API-Key' received for this API call.", path
        )
    check = state.signer.check(path, request.query, now_s=faults.now_s())
    if check is not SignatureCheck.OK:
        if check is SignatureCheck.EXPIRED:
            counters.storage_expired += 1
            return _xml_error(403, config.expired_error_code, "Request has expired", path)
        if check is SignatureCheck.BAD_SIGNATURE:
            counters.storage_bad_signature += 1
            return _xml_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                path,
            )
        if check is SignatureCheck.MALFORMED:
            return _xml_error(
                400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is invalid."
            )
        return _xml_error(403, "AccessDenied", "Query-string authentication requires a signature.", path)
    name = request.match_info["name"]
    image_id = name[:-4] if name.endswith(".jpg") else ""
    try:
        event = state.events.get(int(request.match_info["event_id"]))
    except ValueError:
        event = None
    index = event.world.index_of(image_id) if event is not None else None
    if event is None or index is None or event.world.is_missing(index):
        counters.storage_not_found += 1
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.", path)
    world = event.world
    counters.storage_requests_by_image[image_id] = counters.storage_requests_by_image.get(image_id, 0) + 1
    if faults.storage_latency_s > 0:
        await asyncio.sleep(faults.storage_latency_s)
    if faults.storage_roll(faults.storage_5xx_rate, image_id):
        counters.storage_5xx += 1
        return _xml_error(
            faults.storage_5xx_status, "InternalError", "We encountered an internal error.", path
        )

    size = world.size_at(index)
    etag = world.multipart_etag_at(index) if config.etag_style == "multipart" else world.md5_at(index)
    headers = {
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "image/jpeg",
        "Last-Modified": formatdate(world.event_start_s, usegmt=True),
    }
    start, end, status = 0, size, 200
    range_header = request.headers.get("Range")
    if range_header is not None:
        if faults.storage_ignore_range:
            counters.storage_range_ignored += 1
        else:
            try:
                window = parse_range(range_header, size)
            except RangeNotSatisfiable:
                return web.Response(
                    status=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}
                )
            if window is not None:
                start, end = window
                status = 206
                counters.storage_ranged += 1
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    length = end - start
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = length
    if request.method == "HEAD":
        await response.prepare(request)
        return response

    limit = length
    cut = False
    if length > 0 and faults.storage_roll(faults.storage_cut_rate, image_id):
        counters.storage_cut += 1
        limit, cut = faults.randint(0, length - 1), True
    elif length > 0 and faults.storage_roll(faults.storage_short_body_rate, image_id):
        counters.storage_short_body += 1
        limit, cut = length - faults.randint(1, min(length, 1024)), True
    flip_at = -1
    if length > 0 and faults.storage_roll(faults.storage_corrupt_rate, image_id):
        counters.storage_corrupted += 1
        flip_at = faults.randint(0, length - 1)

    await response.prepare(request)
    sent = 0
    try:
        for piece in world.iter_content(index, start, start + limit, config.storage_chunk_size):
            n = len(piece)
            if sent <= flip_at < sent + n:
                mutable = bytearray(piece)
                mutable[flip_at - sent] ^= 0xFF
                await response.write(mutable)
            else:
                await response.write(piece)
            sent += n
            _count_bytes(state, image_id, n)  # per piece: a throttled or killed body is counted as it goes
            if faults.storage_bytes_per_s > 0:
                await asyncio.sleep(n / faults.storage_bytes_per_s)
    except asyncio.CancelledError:
        raise
    except ConnectionError:
        # The client went away mid-body (a cancelled download): nothing to report.
        counters.storage_client_aborted += 1
        transport = request.transport
        if transport is not None:
            transport.close()
        return response
    if cut:
        transport = request.transport
        if transport is not None:
            transport.close()
        return response
    await response.write_eof()
    return response


def _count_bytes(state: SimState, image_id: str, sent: int) -> None:
    counters = state.counters
    counters.storage_bytes_served += sent
    counters.storage_bytes_by_image[image_id] = counters.storage_bytes_by_image.get(image_id, 0) + sent


async def _get_preview(request: web.Request) -> web.Response:
    """Watermarked previews (img_url / thumbnail_url): small, unsigned, not counted as downloads."""
    state = request.app[STATE_KEY]
    name = request.match_info["name"]
    try:
        event = state.events.get(int(request.match_info["event_id"]))
    except ValueError:
        event = None
    index = event.world.index_of(name[:-4]) if event is not None and name.endswith(".jpg") else None
    if event is None or index is None or request.match_info["variant"] not in ("large", "small"):
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.", request.path)
    limit = 8192 if request.match_info["variant"] == "large" else 2048
    body = b"".join(event.world.iter_content(index, 0, limit))
    return web.Response(body=body, content_type="image/jpeg")


async def _get_clip(request: web.Request) -> web.Response:
    """Video clips and their thumbnails (clip URLs of completed video jobs): small deterministic bytes."""
    seed = hashlib.sha256(request.path.encode()).digest()
    size = 64 * 1024 if request.match_info["name"].endswith(".mp4") else 4 * 1024
    body = (seed * (size // len(seed) + 1))[:size]
    ctype = "video/mp4" if request.match_info["name"].endswith(".mp4") else "image/jpeg"
    return web.Response(body=body, content_type=ctype)


async def _fallback(request: web.Request) -> web.Response:
    return _xml_error(404, "NoSuchKey", "The specified key does not exist.", request.path)


def make_store_app(state: SimState) -> web.Application:
    """The aiohttp app of the object store."""
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_get("/raw-memories/imgs/{event_id}/large/{name}", _get_original)
    app.router.add_get("/imgs/{event_id}/{variant}/{name}", _get_preview)
    app.router.add_get("/raw-memories/videos/{event_id}/{request_id}/{name}", _get_clip)
    app.router.add_route("*", "/{tail:.*}", _fallback)
    return app
