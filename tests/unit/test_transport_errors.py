"""Status -> exception mapping, envelope and flat-body decoding, bad bodies, the response size cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.api import EVENT, EVENT_BASE, KEY, ORG, err, ok, pagination
from helpers.clients import new_client

from ninepic_async import (
    APIResponseDecodeError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ninepic_async.client import NinePicClient


@pytest.fixture
async def client() -> AsyncIterator[NinePicClient]:
    async with new_client(max_retries=0, max_rate_limit_retries=0) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (409, APIStatusError),
    ],
)
async def test_status_maps_to_class_with_message_and_request_id(
    mocked: Any, client: NinePicClient, status: int, cls: type[APIStatusError]
) -> None:
    mocked.get(
        f"{EVENT_BASE}/ping",
        status=status,
        payload=err(f"server says {status}"),
        headers={"X-Request-Id": f"req-{status}"},
    )
    with pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.message == f"server says {status}"
    assert error.request_id == f"req-{status}"
    assert error.method == "GET"
    assert error.url == f"{EVENT_BASE}/ping"
    assert error.body == err(f"server says {status}")
    text = str(error)
    assert str(status) in text and f"server says {status}" in text and f"{EVENT_BASE}/ping" in text
    assert KEY not in text and KEY not in repr(error)


async def test_rate_limit_error_carries_retry_after(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=429, payload=err("slow down"), headers={"Retry-After": "7"})
    with pytest.raises(RateLimitError) as info:
        await client.ping(EVENT)
    assert info.value.retry_after_s == 7.0


@pytest.mark.parametrize("header", ["X-Request-ID", "Request-Id", "X-Amzn-Requestid"])
async def test_other_request_id_headers(mocked: Any, client: NinePicClient, header: str) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=404, payload=err("no such event"), headers={header: "rid-9"})
    with pytest.raises(NotFoundError) as info:
        await client.ping(EVENT)
    assert info.value.request_id == "rid-9"


async def test_fastapi_style_422_detail_is_flattened(mocked: Any, client: NinePicClient) -> None:
    detail = {
        "detail": [
            {"loc": ["query", "page_size"], "msg": "less than or equal to 100"},
            {"loc": ["body", "method"], "msg": "unknown"},
        ]
    }
    mocked.get(f"{EVENT_BASE}/ping", status=422, payload=detail)
    with pytest.raises(UnprocessableEntityError) as info:
        await client.ping(EVENT)
    assert info.value.message == "query.page_size: less than or equal to 100; body.method: unknown"


async def test_non_json_error_body_gives_an_excerpt(mocked: Any, client: NinePicClient) -> None:
    mocked.get(
        f"{EVENT_BASE}/ping", status=502, body="<html>Bad gateway " + "x" * 5000, content_type="text/html"
    )
    with pytest.raises(InternalServerError) as info:
        await client.ping(EVENT)
    assert info.value.message.startswith("<html>Bad gateway")
    assert len(info.value.message) <= 200


async def test_server_message_echoing_the_key_is_redacted(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=403, payload=err(f"key {KEY} is inactive"))
    with pytest.raises(PermissionDeniedError) as info:
        await client.ping(EVENT)
    assert KEY not in str(info.value) and KEY not in info.value.message
    assert "[REDACTED]" in str(info.value)


async def test_error_envelope_with_2xx_raises(mocked: Any, client: NinePicClient) -> None:
    mocked.get(
        f"{EVENT_BASE}/ping", status=200, payload=err("feature disabled"), headers={"X-Request-Id": "r1"}
    )
    with pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    assert info.value.status == 200
    assert info.value.message == "feature disabled"
    assert info.value.request_id == "r1"


async def test_non_json_success_body(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=200, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(APIResponseDecodeError) as info:
        await client.ping(EVENT)
    assert "not JSON" in str(info.value)
    assert info.value.body_excerpt.startswith("<html>maintenance")
    assert info.value.status == 200


@pytest.mark.parametrize(
    "body",
    [
        ok({"images": "not a list"}),
        ok({"images": [{"no_image_id": 1}]}),
        [1, 2, 3],
        "just a string",
    ],
)
async def test_wrong_shapes_are_decode_errors(mocked: Any, client: NinePicClient, body: Any) -> None:
    mocked.get(f"{EVENT_BASE}/images?page=1", payload=body)
    with pytest.raises(APIResponseDecodeError, match="ImagePage"):
        await client.all_photos(EVENT)


async def test_empty_body_is_a_decode_error(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=200, body="")
    with pytest.raises(APIResponseDecodeError):
        await client.ping(EVENT)


async def test_flat_legacy_bodies_with_misspelled_fields(mocked: Any, client: NinePicClient) -> None:
    flat = {
        "images": [
            {
                "image_id": "old",
                "img_url": "https://p.example/l.jpg",
                "widht": 10,
                "height": 20,
                "thumbanail_url": "https://p.example/s.jpg",
                "orginal_url": "https://p.example/o.jpg",
            }
        ],
        "pagination": pagination(1, 1),
    }
    mocked.get(f"{EVENT_BASE}/images?page=1", payload=flat)
    page = await client.all_photos(EVENT)
    item = page.images[0]
    assert (item.width, item.height) == (10, 20)
    assert item.thumbnail_url == "https://p.example/s.jpg"
    assert item.original_url == "https://p.example/o.jpg"


async def test_flat_ping_and_details_without_new_flags(mocked: Any, client: NinePicClient) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload={"status": "ok", "org_id": ORG, "event_id": EVENT})
    mocked.get(
        f"{EVENT_BASE}/details", payload={"event_id": EVENT, "bib_search": True, "selfie_search": True}
    )
    assert (await client.ping(EVENT)).status == "ok"
    details = await client.event_details(EVENT)
    assert details.bib_search is True and details.video_search is None and details.timeline_search is None


async def test_unknown_fields_are_ignored_everywhere(mocked: Any, client: NinePicClient) -> None:
    body = ok({"status": "ok", "org_id": ORG, "event_id": EVENT, "new_field": [1, {"x": None}]})
    body["traceId"] = "abc"
    mocked.get(f"{EVENT_BASE}/ping", payload=body)
    result = await client.ping(EVENT)
    assert result.event_id == EVENT


async def test_null_data_on_success_decodes_to_an_empty_result(mocked: Any, client: NinePicClient) -> None:
    mocked.post(f"{EVENT_BASE}/original-photos?page=1", payload=ok(None, "No images found"))
    result = await client.original_photos(EVENT, "bib", "12")
    assert result.presigned_urls == [] and result.pagination is None


async def test_empty_result_with_page_zero_is_not_an_error(mocked: Any, client: NinePicClient) -> None:
    empty = ok({"images": [], "pagination": pagination(0, 0, size=32)})
    mocked.get(f"{EVENT_BASE}/images?page=1", payload=empty, repeat=True)
    page = await client.all_photos(EVENT)
    assert page.images == [] and page.pagination is not None and page.pagination.current_page == 0
    assert [i async for i in client.all_photos(EVENT)] == []


async def test_response_size_is_capped(mocked: Any, client: NinePicClient) -> None:
    client._transport.max_response_bytes = 100
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok", "pad": "x" * 500}))
    with pytest.raises(APIResponseDecodeError, match="100-byte limit"):
        await client.ping(EVENT)


async def test_declared_oversized_response_is_refused_unread(mocked: Any, client: NinePicClient) -> None:
    client._transport.max_response_bytes = 100
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}), headers={"Content-Length": "5000000"})
    with pytest.raises(APIResponseDecodeError, match="5000000 bytes"):
        await client.ping(EVENT)
