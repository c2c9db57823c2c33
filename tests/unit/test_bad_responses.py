"""Hostile or broken API bodies: every one ends in a clear APIError quickly, never a hang or a raw crash.

Each case runs under ``anyio.fail_after`` so a regression that loops or waits shows up as a
failure, not as a stuck suite. Bodies are served by aioresponses (see ``mock_api``).
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from helpers.api import EVENT, EVENT_BASE, KEY, ORG, PING, FakeClock, err, mock_api, ok, pagination
from helpers.clients import new_client

from ninepic_async import (
    APIError,
    APIResponseDecodeError,
    APIStatusError,
    InternalServerError,
    NinePicError,
    PermissionDeniedError,
)
from ninepic_async.client import NinePicClient

IMAGES = f"{EVENT_BASE}/images?page=1"
ORIGINALS = f"{EVENT_BASE}/original-photos?page=1"
LIMIT_S = 5.0  # generous: every case here takes milliseconds when the code is right


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    FakeClock().install(monkeypatch)  # any retry would sleep for real otherwise
    yield from mock_api(monkeypatch)


@pytest.fixture
async def client() -> AsyncIterator[NinePicClient]:
    async with new_client(max_retries=2) as c:
        yield c


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _assert_clean(error: BaseException) -> None:
    """A library error whose text is useful and leaks nothing."""
    assert isinstance(error, NinePicError)
    text = str(error)
    assert text and KEY not in text and KEY not in repr(error)
    assert len(text) < 2000  # an excerpt, never the whole hostile body


# --- not JSON -----------------------------------------------------------------------------------------
NOT_JSON: list[tuple[str, bytes]] = [
    ("html error page", b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"),
    ("empty body", b""),
    ("whitespace only", b"  \r\n "),
    ("truncated json", b'{"responseType":"success","message":"ok","data":{"status":"o'),
    ("truncated after envelope key", b'{"responseType":'),
    ("invalid utf-8", b'{"responseType":"success","data":{"status":"\xff\xfe"}}'),
    ("NaN literal", b'{"responseType":"success","data":{"status":"ok","org_id":NaN}}'),
    ("trailing garbage", b'{"responseType":"success","data":{"status":"ok"}} <!-- cache -->'),
    ("utf-16", '{"responseType":"success","data":{"status":"ok"}}'.encode("utf-16")),
]


@pytest.mark.parametrize(("name", "body"), NOT_JSON, ids=[n for n, _ in NOT_JSON])
async def test_2xx_bodies_that_are_not_json(
    mocked: Any, client: NinePicClient, name: str, body: bytes
) -> None:
    mocked.get(PING, status=200, body=body, content_type="text/html")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError) as info:
        await client.ping(EVENT)
    _assert_clean(info.value)
    assert info.value.status == 200
    assert "not JSON" in str(info.value) and "/ping" in str(info.value)
    assert len(mocked.requests[("GET", next(iter(mocked.requests))[1])]) == 1  # never retried


async def test_a_utf8_bom_is_tolerated(mocked: Any, client: NinePicClient) -> None:
    body = codecs.BOM_UTF8 + b'{"responseType":"success","data":{"status":"ok","org_id":903}}'
    mocked.get(PING, status=200, body=body)
    with anyio.fail_after(LIMIT_S):
        assert (await client.ping(EVENT)).org_id == ORG


@pytest.mark.parametrize(("name", "body"), NOT_JSON[:4], ids=[n for n, _ in NOT_JSON[:4]])
async def test_error_statuses_with_bodies_that_are_not_json(
    mocked: Any, client: NinePicClient, name: str, body: bytes
) -> None:
    mocked.get(PING, status=403, body=body, content_type="text/html")
    with anyio.fail_after(LIMIT_S), pytest.raises(PermissionDeniedError) as info:
        await client.ping(EVENT)
    _assert_clean(info.value)
    assert info.value.status == 403 and info.value.body is None


# --- JSON of an unexpected shape ----------------------------------------------------------------------
SHAPES: list[tuple[str, Any]] = [
    ("top-level list", [1, 2, 3]),
    ("top-level string", "ok"),
    ("top-level number", 42),
    ("top-level true", True),
    ("top-level null", b"null"),
    ("envelope without data", {"responseType": "success", "message": "ok"}),
    ("envelope data null", ok(None)),
    ("envelope data list", ok([{"status": "ok"}])),
    ("envelope data string", ok("ok")),
    ("data wrapped twice", ok(ok({"status": "ok"}))),
    ("empty object", {}),
    ("responseType is a number", {"responseType": 1, "message": "ok", "data": {"x": 1}}),
    ("status of the wrong type", ok({"status": 1})),
]


@pytest.mark.parametrize(("name", "body"), SHAPES, ids=[n for n, _ in SHAPES])
async def test_unexpected_shapes_are_decode_errors(
    mocked: Any, client: NinePicClient, name: str, body: Any
) -> None:
    if isinstance(body, bytes):
        mocked.get(PING, status=200, body=body, content_type="application/json")
    else:
        mocked.get(PING, status=200, payload=body)
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError) as info:
        await client.ping(EVENT)
    _assert_clean(info.value)
    assert "PingResult" in str(info.value)


WRONG_TYPES: list[tuple[str, Any, str]] = [
    ("null images", ok({"images": None}), "$.images"),
    ("images is an object", ok({"images": {"image_id": "a"}}), "$.images"),
    ("string width", ok({"images": [{"image_id": "a", "width": "3240"}]}), "$.images[0].width"),
    ("numeric image_id", ok({"images": [{"image_id": 7}]}), "$.images[0].image_id"),
    ("null image item", ok({"images": [None]}), "$.images[0]"),
    ("float page number", ok({"images": [], "pagination": {"currentPage": 1.5}}), "currentPage"),
    ("string hasNextPage", ok({"images": [], "pagination": {"hasNextPage": "yes"}}), "hasNextPage"),
    ("null currentPage", ok({"images": [], "pagination": {"currentPage": None}}), "currentPage"),
    ("pagination a list", ok({"images": [], "pagination": [1]}), "$.pagination"),
    ("float total", ok({"images": [], "pagination": {"total": 2.5}}), "total"),
]


@pytest.mark.parametrize(("name", "body", "where"), WRONG_TYPES, ids=[n for n, _, _ in WRONG_TYPES])
async def test_wrong_field_types_name_the_field(
    mocked: Any, client: NinePicClient, name: str, body: Any, where: str
) -> None:
    mocked.get(IMAGES, status=200, payload=body)
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError) as info:
        await client.all_photos(EVENT)
    _assert_clean(info.value)
    assert "ImagePage" in str(info.value) and where in str(info.value)


async def test_wrong_types_stop_an_iteration_too(mocked: Any, client: NinePicClient) -> None:
    mocked.get(IMAGES, payload=ok({"images": [{"image_id": "a"}], "pagination": pagination(1, 2)}))
    mocked.get(f"{EVENT_BASE}/images?page=2", payload=ok({"images": None, "pagination": pagination(2, 2)}))
    seen: list[str] = []
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError, match=r"\$\.images"):
        async for item in client.all_photos(EVENT):
            seen.append(item.image_id)
    assert seen == ["a"]


# --- bodies built to crash a parser -------------------------------------------------------------------
PARSER_BOMBS: list[tuple[str, bytes]] = [
    ("deeply nested data", b'{"responseType":"success","data":' + _deep(20_000) + b"}"),
    ("deeply nested flat body", _deep(20_000)),
    ("deeply nested field", b'{"responseType":"success","data":{"status":' + _deep(20_000) + b"}}"),
    ("huge integer in the message", b'{"responseType":"success","message":' + b"9" * 5000 + b',"data":{}}'),
    (
        "huge integer in a field",
        b'{"responseType":"success","data":{"status":"ok","org_id":' + b"9" * 5000 + b"}}",
    ),
]


@pytest.mark.parametrize(("name", "body"), PARSER_BOMBS, ids=[n for n, _ in PARSER_BOMBS])
async def test_parser_bombs_are_decode_errors(
    mocked: Any, client: NinePicClient, name: str, body: bytes
) -> None:
    mocked.get(PING, status=200, body=body, content_type="application/json")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError) as info:
        await client.ping(EVENT)
    _assert_clean(info.value)


@pytest.mark.parametrize(("name", "body"), PARSER_BOMBS, ids=[n for n, _ in PARSER_BOMBS])
async def test_parser_bombs_in_error_bodies_keep_the_status_error(
    mocked: Any, client: NinePicClient, name: str, body: bytes
) -> None:
    mocked.get(PING, status=404, body=body, content_type="application/json")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    assert info.value.status == 404
    _assert_clean(info.value)


async def test_deeply_nested_video_payload_is_a_decode_error(mocked: Any, client: NinePicClient) -> None:
    body = b'{"responseType":"success","data":{"status":' + _deep(20_000) + b"}}"
    mocked.get(f"{EVENT_BASE}/video-clipping/r1", status=200, body=body, content_type="application/json")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIResponseDecodeError):
        await client.video_clipping_status(EVENT, "r1")


async def test_error_envelope_with_an_unreadable_message_is_still_an_error(
    mocked: Any, client: NinePicClient
) -> None:
    """A 200 whose envelope says error must never decode as an (empty) success."""
    body = b'{"responseType":"error","message":' + b"9" * 5000 + b',"data":null}'
    mocked.post(ORIGINALS, status=200, body=body, content_type="application/json")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError) as info:
        await client.original_photos(EVENT, "bib", "12")
    assert info.value.status == 200 and "responseType=error" in str(info.value)


# --- 200 with responseType "error" --------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        err("Event not found"),
        {"responseType": "ERROR", "message": "Event not found", "data": None},
        {"responseType": "error", "message": "Event not found", "data": {"status": "ok"}},
        {"responseType": "Error", "message": "Event not found"},
    ],
    ids=["plain", "upper case", "with success-looking data", "without data"],
)
async def test_200_with_an_error_envelope_raises(mocked: Any, client: NinePicClient, body: Any) -> None:
    mocked.get(PING, status=200, payload=body, headers={"X-Request-Id": "r-200"})
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    assert info.value.status == 200
    assert info.value.message == "Event not found"
    assert info.value.request_id == "r-200"
    assert "HTTP 200: Event not found" in str(info.value)
    assert len(next(iter(mocked.requests.values()))) == 1  # not retried


@pytest.mark.parametrize("message", [None, 17, {"nested": "x"}, ""])
async def test_200_error_envelope_without_a_usable_message(
    mocked: Any, client: NinePicClient, message: Any
) -> None:
    mocked.get(PING, status=200, payload={"responseType": "error", "message": message, "data": None})
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError, match="responseType=error"):
        await client.ping(EVENT)


async def test_200_error_envelope_in_a_listing_stops_it(mocked: Any, client: NinePicClient) -> None:
    mocked.get(IMAGES, payload=ok({"images": [{"image_id": "a"}], "pagination": pagination(1, 3)}))
    mocked.get(f"{EVENT_BASE}/images?page=2", payload=err("Internal error while listing"))
    seen: list[str] = []
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError, match="while listing"):
        async for item in client.all_photos(EVENT):
            seen.append(item.image_id)
    assert seen == ["a"]


# --- error statuses that echo things back -------------------------------------------------------------
async def test_error_body_echoing_the_key_is_redacted_everywhere(mocked: Any, client: NinePicClient) -> None:
    body = {"responseType": "error", "message": f"key {KEY} inactive", "data": {"key": KEY, "list": [KEY]}}
    mocked.get(PING, status=403, payload=body)
    with pytest.raises(PermissionDeniedError) as info:
        await client.ping(EVENT)
    assert KEY not in repr(info.value.body) and KEY not in info.value.message
    assert info.value.body["message"] == "key [REDACTED] inactive"


async def test_5xx_storm_ends_with_the_last_error(mocked: Any, client: NinePicClient) -> None:
    mocked.get(PING, status=503, body=b"<html>upstream overloaded</html>", repeat=True)
    with anyio.fail_after(LIMIT_S), pytest.raises(InternalServerError, match="upstream overloaded") as info:
        await client.ping(EVENT)
    assert isinstance(info.value, APIError)
    assert len(next(iter(mocked.requests.values()))) == 1 + client.max_retries


async def test_an_error_body_nested_as_deep_as_the_decoder_allows(mocked: Any, client: NinePicClient) -> None:
    """Redacting the decoded body must not blow the stack where the decoder did not."""
    depth = 900
    body = b'{"message":"nope","data":' + b"[" * depth + f'"{KEY}"'.encode() + b"]" * depth + b"}"
    mocked.get(PING, status=400, body=body, content_type="application/json")
    with anyio.fail_after(LIMIT_S), pytest.raises(APIStatusError) as info:
        await client.ping(EVENT)
    assert info.value.message == "nope"
    inner = info.value.body["data"]
    for _ in range(depth):
        inner = inner[0]
    assert inner == "[REDACTED]"
