"""The simulator's object store: signing, expiry, tampering, Range, ETag, HEAD, X-API-Key rejection."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
import yarl

from ninepic_async.testing import Simulator
from ninepic_async.testing.signing import SignatureCheck, Signer
from ninepic_async.testing.store import RangeNotSatisfiable, parse_range


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any, bytes]:
    async with http.request(method, yarl.URL(url, encoded=True), **kwargs) as resp:
        return resp.status, resp.headers, await resp.read()


async def api_url(sim: Simulator, http: aiohttp.ClientSession, image_id: str) -> str:
    """A presigned URL as the API hands it out."""
    url = f"{sim.base_url}/api/v1/ext/{sim.org_id}/event/{sim.event_id}/original-photos"
    body = {"method": "image_id", "identifier": image_id}
    async with http.post(url, json=body, headers={"X-API-Key": sim.api_key}) as resp:
        assert resp.status == 200
        return str((await resp.json())["data"]["presigned_urls"][0]["url"])


async def test_get_serves_the_world_content(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = sim.world.photos[3]
    url = await api_url(sim, http, photo.image_id)
    assert urlsplit(url).netloc != urlsplit(sim.base_url).netloc
    status, headers, body = await fetch(http, url)
    assert status == 200
    assert body == sim.world.content(photo.image_id)
    assert len(body) == photo.size == int(headers["Content-Length"])
    assert body[:2] == b"\xff\xd8"
    md5 = hashlib.md5(body).hexdigest()
    assert headers["ETag"] == f'"{md5}"' and sim.world.md5(photo.image_id) == md5
    assert headers["Accept-Ranges"] == "bytes"
    c = sim.counters
    assert c.storage_requests == 1 and c.storage_bytes_served == photo.size
    assert c.storage_bytes_by_image == {photo.image_id: photo.size}
    assert c.storage_requests_by_image == {photo.image_id: 1}


async def test_url_survives_decoding_by_the_client(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = sim.world.photos[0]
    url = sim.presign(photo.image_id)
    async with http.get(url) as resp:  # yarl may re-encode the query; the signature still holds
        assert resp.status == 200


async def test_head(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = sim.world.photos[1]
    status, headers, body = await fetch(http, sim.presign(photo.image_id), "HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == photo.size
    assert headers["ETag"] == f'"{sim.world.md5(photo.image_id)}"'
    assert sim.counters.storage_bytes_served == 0


@pytest.mark.parametrize(
    ("header", "window"),
    [("bytes=100-", (100, None)), ("bytes=10-19", (10, 20)), ("bytes=-50", (-50, None))],
)
async def test_range_206(
    sim: Simulator, http: aiohttp.ClientSession, header: str, window: tuple[int, int | None]
) -> None:
    photo = sim.world.photos[2]
    full = sim.world.content(photo.image_id)
    status, headers, body = await fetch(http, sim.presign(photo.image_id), headers={"Range": header})
    assert status == 206
    expected = full[window[0] : window[1]]
    assert body == expected
    start = window[0] % len(full)
    assert headers["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(full)}"
    assert int(headers["Content-Length"]) == len(expected)
    assert sim.counters.storage_ranged == 1


async def test_range_past_the_end_is_416(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = sim.world.photos[2]
    status, headers, _ = await fetch(
        http, sim.presign(photo.image_id), headers={"Range": f"bytes={photo.size}-"}
    )
    assert status == 416 and headers["Content-Range"] == f"bytes */{photo.size}"


def test_parse_range() -> None:
    assert parse_range("bytes=0-", 10) == (0, 10)
    assert parse_range("bytes=5-100", 10) == (5, 10)
    assert parse_range("bytes=-3", 10) == (7, 10)
    assert parse_range("bytes=-30", 10) == (0, 10)
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=0-1,3-4", 10) is None
    assert parse_range("bytes=5-2", 10) is None
    assert parse_range("bytes=x-", 10) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=10-", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 10)


async def test_ignore_range_knob(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.storage_ignore_range = True
    photo = sim.world.photos[2]
    status, headers, body = await fetch(http, sim.presign(photo.image_id), headers={"Range": "bytes=100-"})
    assert status == 200 and len(body) == photo.size and "Content-Range" not in headers
    assert sim.counters.storage_range_ignored == 1 and sim.counters.storage_ranged == 0


async def test_multipart_etag(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(etag_style="multipart")
    photo = sim.world.photos[0]
    status, headers, body = await fetch(http, sim.presign(photo.image_id))
    assert status == 200
    assert re.fullmatch(r'"[0-9a-f]{32}-2"', headers["ETag"])
    assert headers["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'


async def test_api_key_header_rejected_and_counted(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = sim.world.photos[0]
    status, _, body = await fetch(http, sim.presign(photo.image_id), headers={"X-API-Key": sim.api_key})
    assert status == 400
    assert b"<Code>InvalidArgument</Code>" in body
    assert sim.counters.storage_requests_with_api_key == 1
    assert sim.counters.storage_bytes_served == 0


def tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    params.update(changes)
    return parts._replace(query=urlencode(params)).geturl()


async def test_tampered_urls_are_403(sim: Simulator, http: aiohttp.ClientSession) -> None:
    photo, other = sim.world.photos[0], sim.world.photos[1]
    url = sim.presign(photo.image_id)
    for bad in (
        tamper(url, **{"X-Amz-Expires": "999999"}),
        tamper(url, **{"X-Amz-Signature": "0" * 64}),
        tamper(url, **{"X-Amz-Date": "20990101T000000Z"}),
        url.replace(photo.image_id, other.image_id),
    ):
        status, headers, body = await fetch(http, bad)
        assert status == 403
        assert b"<Code>SignatureDoesNotMatch</Code>" in body
        assert headers["Content-Type"].startswith("application/xml")
    assert sim.counters.storage_bad_signature == 4
    status, _, body = await fetch(http, url.split("?")[0])
    assert status == 403 and b"AccessDenied" in body


async def test_expired_url_by_clock(sim: Simulator, http: aiohttp.ClientSession) -> None:
    url = sim.presign(sim.world.photos[0].image_id)
    sim.advance_clock(sim.config.url_lifetime_s + 1)
    status, _, body = await fetch(http, url)
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body and b"<Message>Request has expired</Message>" in body
    assert sim.counters.storage_expired == 1


async def test_expired_url_in_real_time(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(url_lifetime_s=1, expired_error_code="ExpiredRequest")
    url = await api_url(sim, http, sim.world.photos[0].image_id)
    assert "X-Amz-Expires=1&" in url
    await asyncio.sleep(1.05)
    status, _, body = await fetch(http, url)
    assert status == 403 and b"<Code>ExpiredRequest</Code>" in body


async def test_missing_object_is_404(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(missing_count=2)
    status, _, body = await fetch(http, sim.presign(sim.world.missing_ids[0]))
    assert status == 404 and b"NoSuchKey" in body
    status, _, _ = await fetch(http, sim.presign("00000000-0000-4000-8000-000000000000"))
    assert status == 404
    assert sim.counters.storage_not_found == 2


def test_signer_roundtrip() -> None:
    signer = Signer(b"secret")
    url = signer.presign("http://h", "/raw-memories/imgs/1/large/a.jpg", lifetime_s=60, now_s=1_700_000_000)
    params = dict(parse_qsl(urlsplit(url).query))
    path = urlsplit(url).path
    assert signer.check(path, params, now_s=1_700_000_030) is SignatureCheck.OK
    assert signer.check(path, params, now_s=1_700_000_060) is SignatureCheck.EXPIRED
    assert signer.check(path + "x", params, now_s=1_700_000_030) is SignatureCheck.BAD_SIGNATURE
    assert Signer(b"other").check(path, params, now_s=1_700_000_030) is SignatureCheck.BAD_SIGNATURE
    assert signer.check(path, {}, now_s=0) is SignatureCheck.MISSING
    assert params["X-Amz-Date"] == "20231114T221320Z" and params["X-Amz-Expires"] == "60"


async def test_client_abort_is_quiet_and_counted(
    sim_factory: Any, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await sim_factory(photo_count=2, photo_size=8_000_000, storage_chunk_size=65_536)
    photo = sim.world.photos[0]
    async with http.get(yarl.URL(sim.presign(photo.image_id), encoded=True)) as resp:
        await resp.content.read(10_000)
        resp.close()
    for _ in range(200):
        if sim.counters.storage_client_aborted:
            break
        await asyncio.sleep(0.01)
    assert sim.counters.storage_client_aborted == 1
    assert 0 < sim.counters.storage_bytes_served < photo.size
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_gone_before_the_headers_is_quiet_and_counted(
    sim_factory: Any, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A download cancelled while the store is still thinking (its latency) leaves no error
    traceback in the simulator's log: the service trial cancels downloads at every point."""
    sim = await sim_factory(photo_count=1, photo_size=50_000)
    sim.faults.storage_latency_s = 0.3
    photo = sim.world.photos[0]
    request = asyncio.create_task(http.get(yarl.URL(sim.presign(photo.image_id), encoded=True)))
    while not sim.counters.storage_requests_by_image.get(photo.image_id):
        await asyncio.sleep(0.01)
    request.cancel()
    await asyncio.gather(request, return_exceptions=True)
    for _ in range(500):
        if sim.counters.storage_client_aborted:
            break
        await asyncio.sleep(0.01)
    assert sim.counters.storage_client_aborted == 1
    assert sim.counters.storage_bytes_served == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
