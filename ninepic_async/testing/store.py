"""The object store: presigned GET/HEAD of originals, on its own port (a different origin).

Bodies are streamed in large chunks so faults can cut them mid-way. The hot path does no
logging and allocates nothing per byte: content comes as memoryview slices of a shared pool.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import zlib
from collections.abc import Iterable, Iterator
from email.utils import formatdate
from xml.sax.saxutils import escape

from aiohttp import web

from .._constants import API_KEY_HEADER
from .signing import SignatureCheck
from .state import SimState

__all__ = ["make_store_app", "parse_range"]

log = logging.getLogger(__name__)
STATE_KEY: web.AppKey[SimState] = web.AppKey("ninepic_sim_store_state", SimState)
THROTTLE_STEP_S = 0.05
"""A throttled body (``storage_bytes_per_s``) is written and slept in steps of about this long."""
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The origin could not be reached. Please try again later.</p>"
    b"<hr><p>sim-edge</p></body></html>\n"
)
"""What ``storage_html_200_rate`` answers, with status 200 (a captive portal or CDN error page)."""


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


class _UnframedResponse(web.StreamResponse):
    """A response sent without Content-Length and without chunking: the body ends at close."""

    _length_check = False  # what aiohttp's WebSocketResponse does: no length, no chunked encoding


def _if_range_matches(value: str, etag: str, last_modified: str) -> bool:
    """RFC 9110 If-Range: a strong ETag must equal the current one, a date the Last-Modified."""
    value = value.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == etag
    return value == last_modified


def _encode(encoding: str, body: bytes) -> bytes:
    coding = encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return gzip.compress(body, compresslevel=6, mtime=0)
    if coding == "deflate":
        return zlib.compress(body, 6)
    return body  # a token we do not implement: announced, not applied (a store whose metadata lies)


def _slices(data: bytes, start: int, end: int, step: int) -> Iterator[memoryview]:
    view = memoryview(data)
    for pos in range(start, end, step):
        yield view[pos : min(pos + step, end)]


class _ShuttingDown(Exception):
    """The simulator is closing while a throttled body is being sent."""


async def _throttle(request: web.Request, seconds: float) -> None:
    """Sleep ``seconds`` in short steps, giving up as soon as the client has gone away
    (ConnectionResetError) or the simulator closes (_ShuttingDown)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    state = request.app[STATE_KEY]
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("client went away while the body was throttled")
        if state.closing:
            raise _ShuttingDown
        left = deadline - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, THROTTLE_STEP_S))


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
    try:
        event_id = int(request.match_info["event_id"])
    except ValueError:
        event_id = -1
    event = state.events.get(event_id)
    index = state.resolve_object(event_id, name) if event is not None else None
    if event is None or index is None or event.world.is_missing(index):
        counters.storage_not_found += 1
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.", path)
    world = event.world
    image_id = name[:-4] if config.storage_key_layout == "id" else world.image_id_at(index)
    counters.storage_requests_by_image[image_id] = counters.storage_requests_by_image.get(image_id, 0) + 1
    if faults.storage_latency_s > 0:
        await asyncio.sleep(faults.storage_latency_s)
    if faults.storage_roll(faults.storage_5xx_rate, image_id):
        counters.storage_5xx += 1
        return _xml_error(
            faults.storage_5xx_status, "InternalError", "We encountered an internal error.", path
        )

    is_get = request.method == "GET"
    size = world.size_at(index)
    etag = world.multipart_etag_at(index) if config.etag_style == "multipart" else world.md5_at(index)
    headers = {
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "image/jpeg",
        # a replaced object is newer: an hour per version
        "Last-Modified": formatdate(world.event_start_s + 3600 * world.version_at(index), usegmt=True),
    }
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None:
        counters.storage_if_range_requests += 1
        if range_header is not None and not _if_range_matches(
            if_range, headers["ETag"], headers["Last-Modified"]
        ):
            counters.storage_if_range_mismatch += 1
            range_header = None  # the object changed: the whole current object, 200
    if is_get and faults.storage_roll(faults.storage_html_200_rate, image_id):
        counters.storage_html_200 += 1
        return web.Response(
            status=200, body=HTML_ERROR_PAGE, headers={"Content-Type": "text/html; charset=utf-8"}
        )
    if is_get and faults.storage_roll(faults.storage_empty_200_rate, image_id):
        counters.storage_empty_200 += 1
        return web.Response(status=200, body=b"", headers=headers)
    encoded: bytes | None = None
    if faults.storage_content_encoding is not None and faults.storage_hit(image_id):
        counters.storage_content_encoded += 1
        encoded = _encode(faults.storage_content_encoding, b"".join(world.iter_content(index)))
        headers["Content-Encoding"] = faults.storage_content_encoding
        size = len(encoded)  # ranges and lengths are of the encoded representation, as stored

    start, end, status = 0, size, 200
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
                total = str(size)
                if faults.storage_bad_content_range is not None and faults.storage_hit(image_id):
                    # half of what was asked, and a header that agrees with the body, not the object
                    counters.storage_bad_content_range += 1
                    end = start + max(1, (end - start) // 2)
                    total = "*" if faults.storage_bad_content_range == "star" else str(end)
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
    length = end - start
    limit = length
    cut = unframed = False
    if is_get and faults.storage_roll(faults.storage_no_framing_cut_rate, image_id):
        counters.storage_no_framing += 1
        counters.storage_no_framing_cut += 1
        limit, cut, unframed = length // 2, True, True
    elif is_get and faults.storage_no_framing and faults.storage_hit(image_id):
        counters.storage_no_framing += 1
        unframed = True
    declared: int | None = None
    if (
        status == 200
        and not unframed
        and faults.storage_declared_length is not None
        and faults.storage_hit(image_id)
    ):
        counters.storage_declared_length += 1
        declared, cut = faults.storage_declared_length, True
    response: web.StreamResponse
    if unframed:
        response = _UnframedResponse(status=status, headers=headers)
        response.force_close()
    else:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = length if declared is None else declared
    if not is_get:
        await response.prepare(request)
        return response

    if not cut and length > 0 and faults.storage_roll(faults.storage_cut_rate, image_id):
        counters.storage_cut += 1
        limit, cut = faults.randint(0, length - 1), True
    elif not cut and length > 0 and faults.storage_roll(faults.storage_short_body_rate, image_id):
        counters.storage_short_body += 1
        limit, cut = length - faults.randint(1, min(length, 1024)), True
    flip_at = -1
    if length > 0 and faults.storage_roll(faults.storage_corrupt_rate, image_id):
        counters.storage_corrupted += 1
        flip_at = faults.randint(0, length - 1)

    step = config.storage_chunk_size
    if faults.storage_bytes_per_s > 0:  # small steps, so a slow body trickles instead of bursting
        step = max(1, min(step, int(faults.storage_bytes_per_s * THROTTLE_STEP_S)))
    pieces: Iterable[bytes | memoryview] = (
        world.iter_content(index, start, start + limit, step)
        if encoded is None
        else _slices(encoded, start, start + limit, step)
    )
    sent = 0
    try:
        await response.prepare(request)  # the client may be gone already (cancelled during latency)
        for piece in pieces:
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
                await _throttle(request, n / faults.storage_bytes_per_s)
    except asyncio.CancelledError:
        raise
    except _ShuttingDown:
        cut = True
    except ConnectionError:
        # The client went away before or during the body (a cancelled download): nothing to report.
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
    app.router.add_get("/raw-memories/imgs/{event_id}/large/{name:.+}", _get_original)  # nested keys
    app.router.add_get("/imgs/{event_id}/{variant}/{name}", _get_preview)
    app.router.add_get("/raw-memories/videos/{event_id}/{request_id}/{name}", _get_clip)
    app.router.add_route("*", "/{tail:.*}", _fallback)
    return app
