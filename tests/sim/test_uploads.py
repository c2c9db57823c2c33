"""Multipart uploads (Face Search, Video Clipping) against a real local aiohttp server."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, KEY, ORG, FakeClock, image, ok, pagination
from helpers.clients import new_client

from ninepic_async import RequestValidationError
from ninepic_async._constants import (
    FACE_REQUEST_ID_FIELD,
    FACE_UPLOAD_FIELD,
    VIDEO_REQUEST_ID_FIELD,
    VIDEO_UPLOAD_FIELD,
)
from ninepic_async.client import NinePicClient

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"


class Recorder:
    """Parses each multipart request into {field: (filename, content type, bytes or text)}."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = 0

    async def handle(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            data = await part.read()
            if part.filename:
                fields[part.name or ""] = (part.filename, part.headers.get("Content-Type"), bytes(data))
            else:
                fields[part.name or ""] = bytes(data).decode()
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "key": request.headers.get("X-API-Key"),
                "fields": fields,
                "content_type": request.content_type,
            }
        )
        if self.fail_first:
            self.fail_first -= 1
            return web.json_response({"responseType": "error", "message": "boom", "data": None}, status=500)
        if request.path.endswith("/faces"):
            return web.json_response(
                ok(
                    {
                        "request_id": fields.get(FACE_REQUEST_ID_FIELD, "new-rid"),
                        "confidence_percentage": None,
                        "images": [image("m1")],
                        "pagination": pagination(1, 1),
                    }
                )
            )
        return web.json_response(ok({"request_id": "video-1", "status": "queued"}))


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, Recorder]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post(f"{PREFIX}/faces", recorder.handle)
    app.router.add_post(f"{PREFIX}/video-clipping/search-by-selfie", recorder.handle)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield srv, recorder
    finally:
        await srv.close()


@pytest.fixture
async def client(
    server: tuple[TestServer, Recorder], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NinePicClient]:
    srv, _ = server
    FakeClock().install(monkeypatch)  # retries never really sleep
    async with new_client(str(srv.make_url(""))) as c:
        yield c


async def test_face_search_with_bytes(server: tuple[TestServer, Recorder], client: NinePicClient) -> None:
    _, rec = server
    result = await client.face_search(EVENT, b"\xff\xd8jpeg", page_size=50)
    assert result.request_id == "new-rid" and result.images[0].image_id == "m1"
    (req,) = rec.requests
    assert req["key"] == KEY
    assert req["content_type"] == "multipart/form-data"
    assert req["query"] == {"page_size": "50"}
    assert req["fields"] == {FACE_UPLOAD_FIELD: ("selfie.jpg", "image/jpeg", b"\xff\xd8jpeg")}


async def test_face_search_with_path_and_request_id(
    server: tuple[TestServer, Recorder], client: NinePicClient, tmp_path: Path
) -> None:
    _, rec = server
    selfie = tmp_path / "me.png"
    selfie.write_bytes(b"png-bytes")
    result = await client.face_search(EVENT, selfie, request_id="cached-1")
    assert result.request_id == "cached-1"
    fields = rec.requests[0]["fields"]
    assert fields[FACE_UPLOAD_FIELD] == ("me.png", "image/png", b"png-bytes")
    assert fields[FACE_REQUEST_ID_FIELD] == "cached-1"
    # str paths too
    await client.face_search(EVENT, str(selfie))
    assert rec.requests[1]["fields"][FACE_UPLOAD_FIELD][2] == b"png-bytes"


async def test_face_search_with_file_object(
    server: tuple[TestServer, Recorder], client: NinePicClient
) -> None:
    _, rec = server
    await client.face_search(EVENT, io.BytesIO(b"from-a-file"))
    assert rec.requests[0]["fields"][FACE_UPLOAD_FIELD] == ("selfie.jpg", "image/jpeg", b"from-a-file")


async def test_multipart_is_rebuilt_for_a_retry(
    server: tuple[TestServer, Recorder], client: NinePicClient
) -> None:
    _, rec = server
    rec.fail_first = 1
    await client.face_search(EVENT, b"retry-me")
    assert len(rec.requests) == 2
    assert rec.requests[0]["fields"] == rec.requests[1]["fields"]
    assert rec.requests[1]["fields"][FACE_UPLOAD_FIELD][2] == b"retry-me"


async def test_start_video_clipping_with_selfie(
    server: tuple[TestServer, Recorder], client: NinePicClient
) -> None:
    _, rec = server
    job = await client.start_video_clipping(EVENT, b"selfie!")
    assert job.request_id == "video-1" and job.status == "queued"
    assert job.raw == {"request_id": "video-1", "status": "queued"}
    assert rec.requests[0]["fields"] == {VIDEO_UPLOAD_FIELD: ("selfie.jpg", "image/jpeg", b"selfie!")}


async def test_start_video_clipping_with_request_id(
    server: tuple[TestServer, Recorder], client: NinePicClient
) -> None:
    _, rec = server
    await client.start_video_clipping(EVENT, request_id="face-rid")
    assert rec.requests[0]["fields"] == {VIDEO_REQUEST_ID_FIELD: "face-rid"}
    assert rec.requests[0]["content_type"] == "multipart/form-data"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"selfie": b""}, "selfie"),
        ({"selfie": io.BytesIO(b"")}, "selfie"),
        ({"selfie": io.StringIO("text")}, "selfie"),
        ({"selfie": 12}, "selfie"),
        ({"selfie": "/definitely/not/here.jpg"}, "selfie"),
        ({"selfie": b"x", "request_id": "  "}, "request_id"),
    ],
)
async def test_face_search_rejects_bad_selfies(
    server: tuple[TestServer, Recorder], client: NinePicClient, kwargs: dict[str, Any], field: str
) -> None:
    _, rec = server
    with pytest.raises(RequestValidationError) as info:
        await client.face_search(EVENT, **kwargs)
    assert info.value.field == field
    assert rec.requests == []


@pytest.mark.parametrize("kwargs", [{}, {"selfie": b"x", "request_id": "r"}])
async def test_start_video_clipping_needs_exactly_one_source(
    server: tuple[TestServer, Recorder], client: NinePicClient, kwargs: dict[str, Any]
) -> None:
    _, rec = server
    with pytest.raises(RequestValidationError):
        await client.start_video_clipping(EVENT, **kwargs)
    assert rec.requests == []
