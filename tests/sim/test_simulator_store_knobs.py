"""Hostile object-store knobs of the simulator: each one does what its docstring says.

Plain aiohttp against the simulator's store; no downloader involved.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yarl

from ninepic_async.testing import Simulator, build_arg_parser, config_from_args

SIZE = 10_000


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def hsim(sim_factory: Any) -> Simulator:
    """A simulator whose photos are all SIZE bytes, streamed in small chunks."""
    sim: Simulator = await sim_factory(photo_count=12, photo_size=SIZE, storage_chunk_size=1024)
    return sim


async def fetch(
    http: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any, bytes]:
    """(status, headers, body) of a request; a body cut short raises ClientPayloadError."""
    async with http.request(method, yarl.URL(url, encoded=True), **kwargs) as resp:
        return resp.status, resp.headers, await resp.read()


async def fetch_partial(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any, bytes, bool]:
    """(status, headers, bytes received, whether the body ended in a payload error)."""
    received = bytearray()
    async with http.get(yarl.URL(url, encoded=True), **kwargs) as resp:
        try:
            async for chunk in resp.content.iter_any():
                received += chunk
        except aiohttp.ClientPayloadError:
            return resp.status, resp.headers, bytes(received), True
        return resp.status, resp.headers, bytes(received), False


async def originals(sim: Simulator, http: aiohttp.ClientSession, ids: list[str]) -> Any:
    url = f"{sim.base_url}/api/v1/ext/{sim.org_id}/event/{sim.event_id}/original-photos"
    body = {"method": "image_ids", "identifier": ids}
    async with http.post(url, json=body, headers={"X-API-Key": sim.api_key}, params={"page_size": 60}) as r:
        assert r.status == 200
        return (await r.json())["data"]


# --- Content-Range that contradicts the object ---------------------------------------------------
@pytest.mark.parametrize(("mode", "total"), [("wrong_total", "5500"), ("star", "*")])
async def test_bad_content_range(hsim: Simulator, http: aiohttp.ClientSession, mode: Any, total: str) -> None:
    photo = hsim.world.photos[0]
    full = hsim.world.content(photo.image_id)
    hsim.faults.storage_bad_content_range = mode
    status, headers, body = await fetch(http, hsim.presign(photo.image_id), headers={"Range": "bytes=1000-"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-5499/{total}"
    assert int(headers["Content-Length"]) == len(body) == 4500 and body == full[1000:5500]
    assert hsim.counters.storage_bad_content_range == 1
    # a 200 is untouched; so are other images when the knob is restricted
    status, _, body = await fetch(http, hsim.presign(photo.image_id))
    assert status == 200 and body == full
    hsim.faults.storage_fault_image_ids = {hsim.world.photos[1].image_id}
    status, headers, _ = await fetch(http, hsim.presign(photo.image_id), headers={"Range": "bytes=1000-"})
    assert status == 206 and headers["Content-Range"] == f"bytes 1000-9999/{SIZE}"
    assert hsim.counters.storage_bad_content_range == 1


# --- close-delimited bodies --------------------------------------------------------------------
async def test_no_framing_whole_body(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_no_framing = True
    status, headers, body, error = await fetch_partial(http, hsim.presign(photo.image_id))
    assert status == 200 and not error
    assert "Content-Length" not in headers and "Transfer-Encoding" not in headers
    assert headers["Connection"] == "close"
    assert headers["ETag"] == f'"{hsim.world.md5(photo.image_id)}"'
    assert body == hsim.world.content(photo.image_id)
    assert hsim.counters.storage_no_framing == 1 and hsim.counters.storage_no_framing_cut == 0
    # a non-rate knob spends the storage budget too: with none left, the answer is framed again
    hsim.faults.storage_fault_budget = 0
    status, headers, body, error = await fetch_partial(http, hsim.presign(photo.image_id))
    assert headers["Content-Length"] == str(SIZE) and body == hsim.world.content(photo.image_id)
    assert hsim.counters.storage_no_framing == 1


async def test_no_framing_cut_looks_complete(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_no_framing_cut_rate = 1.0
    status, headers, body, error = await fetch_partial(http, hsim.presign(photo.image_id))
    assert status == 200 and not error  # nothing tells the client the body is short
    assert "Content-Length" not in headers and "Transfer-Encoding" not in headers
    assert body == hsim.world.content(photo.image_id)[: SIZE // 2]
    assert hsim.counters.storage_no_framing_cut == 1
    assert hsim.counters.storage_bytes_served == SIZE // 2


# --- Content-Encoding ---------------------------------------------------------------------------
async def test_content_encoding_gzip(hsim: Simulator) -> None:
    photo = hsim.world.photos[0]
    full = hsim.world.content(photo.image_id)
    hsim.faults.storage_content_encoding = "gzip"
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        status, headers, body = await fetch(raw, hsim.presign(photo.image_id))
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body) and body[:2] == b"\x1f\x8b"
    assert gzip.decompress(body) == full
    assert headers["ETag"] == f'"{hashlib.md5(full).hexdigest()}"'
    async with aiohttp.ClientSession() as decoding:  # what a default client hands back
        assert (await fetch(decoding, hsim.presign(photo.image_id)))[2] == full
    assert hsim.counters.storage_content_encoded == 2


# --- bodies that are not the object ---------------------------------------------------------------
async def test_html_200(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_html_200_rate = 1.0
    status, headers, body = await fetch(http, hsim.presign(photo.image_id))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.startswith(b"<!DOCTYPE html>") and len(body) < 1000
    assert hsim.counters.storage_html_200 == 1
    hsim.faults.storage_html_200_rate = 0.0
    assert (await fetch(http, hsim.presign(photo.image_id)))[2] == hsim.world.content(photo.image_id)


async def test_empty_200(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_empty_200_rate = 1.0
    status, headers, body = await fetch(http, hsim.presign(photo.image_id))
    assert status == 200 and body == b"" and headers["Content-Length"] == "0"
    assert headers["ETag"] == f'"{hsim.world.md5(photo.image_id)}"'
    assert hsim.counters.storage_empty_200 == 1


async def test_declared_length(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_declared_length = 30 * 10**9
    status, headers, body, error = await fetch_partial(http, hsim.presign(photo.image_id))
    assert status == 200 and headers["Content-Length"] == str(30 * 10**9)
    assert error and body == hsim.world.content(photo.image_id)
    status, headers, _ = await fetch(http, hsim.presign(photo.image_id), "HEAD")
    assert status == 200 and headers["Content-Length"] == str(30 * 10**9)
    # ranged answers are not 200s: untouched
    status, headers, body = await fetch(http, hsim.presign(photo.image_id), headers={"Range": "bytes=0-9"})
    assert status == 206 and headers["Content-Length"] == "10" and len(body) == 10
    assert hsim.counters.storage_declared_length == 2


# --- object replacement and If-Range --------------------------------------------------------------
async def test_replace_object(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[2]
    url = hsim.presign(photo.image_id)
    old, old_md5 = hsim.world.content(photo.image_id), hsim.world.md5(photo.image_id)
    hsim.replace_object(photo.image_id)
    new, new_md5 = hsim.world.content(photo.image_id), hsim.world.md5(photo.image_id)
    assert len(new) == len(old) and new_md5 != old_md5
    assert all(a != b for a, b in zip(old, new, strict=True))  # from byte 0 on
    assert new_md5 == hashlib.md5(new).hexdigest()
    status, headers, body = await fetch(http, url)  # an old URL serves the new version
    assert status == 200 and body == new and headers["ETag"] == f'"{new_md5}"'
    hsim.replace_object(photo.image_id)
    third = hsim.world.content(photo.image_id)
    assert third not in (old, new) and hsim.world.md5(photo.image_id) not in (old_md5, new_md5)
    other = hsim.world.photos[3].image_id
    assert (await fetch(http, hsim.presign(other)))[2] == hsim.world.content(other)  # others unchanged
    assert hsim.counters.objects_replaced == 2
    with pytest.raises(KeyError):
        hsim.replace_object("00000000-0000-4000-8000-000000000000")


async def test_replace_object_multipart_etag(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim = await sim_factory(photo_count=3, etag_style="multipart")
    photo = sim.world.photos[0]
    before = (await fetch(http, sim.presign(photo.image_id), "HEAD"))[1]["ETag"]
    sim.replace_object(photo.image_id)
    after = (await fetch(http, sim.presign(photo.image_id), "HEAD"))[1]["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}-2"', after) and after != before


async def test_if_range(hsim: Simulator, http: aiohttp.ClientSession) -> None:
    photo = hsim.world.photos[0]
    url = hsim.presign(photo.image_id)
    etag = f'"{hsim.world.md5(photo.image_id)}"'
    full = hsim.world.content(photo.image_id)
    status, headers, body = await fetch(http, url, headers={"Range": "bytes=100-", "If-Range": etag})
    assert status == 206 and body == full[100:]
    status, _, body = await fetch(http, url, headers={"Range": "bytes=100-", "If-Range": '"0000"'})
    assert status == 200 and body == full
    status, _, body = await fetch(http, url, headers={"Range": "bytes=100-", "If-Range": f"W/{etag}"})
    assert status == 200  # a weak validator never matches
    status, _, body = await fetch(http, url, headers={"If-Range": '"0000"'})  # no Range: plain 200
    assert status == 200 and body == full
    assert hsim.counters.storage_if_range_requests == 4 and hsim.counters.storage_if_range_mismatch == 2
    # the object changes under a resuming client: the old ETag gets the whole new object
    hsim.replace_object(photo.image_id)
    status, headers, body = await fetch(http, url, headers={"Range": "bytes=100-", "If-Range": etag})
    assert status == 200 and body == hsim.world.content(photo.image_id) != full
    assert "Content-Range" not in headers and headers["ETag"] != etag
    assert hsim.counters.storage_if_range_mismatch == 3


# --- slow bodies -------------------------------------------------------------------------------
async def test_one_byte_per_second_trickles_and_notices_an_abort(
    hsim: Simulator, http: aiohttp.ClientSession
) -> None:
    photo = hsim.world.photos[0]
    hsim.faults.storage_bytes_per_s = 1.0
    async with http.get(yarl.URL(hsim.presign(photo.image_id), encoded=True)) as resp:
        assert resp.status == 200
        first = await resp.content.readany()
        assert first == hsim.world.content(photo.image_id)[: len(first)] and len(first) == 1
        resp.close()
    for _ in range(500):
        if hsim.counters.storage_client_aborted:
            break
        await asyncio.sleep(0.01)
    assert hsim.counters.storage_client_aborted == 1
    assert hsim.counters.storage_bytes_served <= 2


async def test_one_byte_per_second_closes_promptly(sim_factory: Any, http: aiohttp.ClientSession) -> None:
    sim: Simulator = await sim_factory(photo_count=2, photo_size=SIZE)
    sim.faults.storage_bytes_per_s = 1.0
    async with http.get(yarl.URL(sim.presign(sim.world.photos[0].image_id), encoded=True)) as resp:
        await resp.content.readany()
        closing = asyncio.create_task(sim.close())  # a handler mid-sleep is cancelled, not awaited
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    await asyncio.wait_for(closing, timeout=30)


# --- object key layouts ------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["id", "shared_basenames", "opaque"])
async def test_key_layouts(sim_factory: Any, http: aiohttp.ClientSession, layout: str) -> None:
    sim: Simulator = await sim_factory(photo_count=10, missing_count=2, storage_key_layout=layout)
    present = [p for p in sim.world.photos if p.image_id not in sim.world.missing_ids]
    missing = sim.world.missing_ids
    data = await originals(sim, http, [p.image_id for p in sim.world.photos])
    assert data["successful_count"] == len(present)
    prefix = f"/raw-memories/imgs/{sim.event_id}/large/"
    paths = []
    for entry, photo in zip(data["presigned_urls"], present, strict=True):
        path = yarl.URL(entry["url"], encoded=True).path
        assert path.startswith(prefix)
        key = path[len(prefix) :]
        paths.append(key)
        if layout == "id":
            assert key == f"{photo.image_id}.jpg" and entry["filename"] == key
        elif layout == "shared_basenames":
            n, folder = divmod(photo.index, 2)
            assert key == f"{'ab'[folder]}/IMG_{n:04d}.jpg"
            assert entry["filename"] == f"IMG_{n:04d}.jpg" == photo.filename
        else:
            assert re.fullmatch(r"[0-9a-f]{16}\.jpg", key) and photo.image_id not in key
            assert entry["filename"] == f"{photo.image_id}.jpg"
        assert key == sim.presign(photo.image_id).split("?")[0].removeprefix(sim.storage_url + prefix)
        status, headers, body = await fetch(http, entry["url"])
        assert status == 200 and body == sim.world.content(photo.image_id)
        status, headers, body = await fetch(http, entry["url"], "HEAD")
        assert status == 200 and int(headers["Content-Length"]) == photo.size
    assert len(set(paths)) == len(paths)
    if layout == "shared_basenames":
        assert len({p.rsplit("/", 1)[1] for p in paths}) < len(paths)  # basenames collide
    assert sim.counters.storage_requests_by_image == {p.image_id: 2 for p in present}
    # failed_urls report the layout's key; storage agrees the objects are missing
    failed = {f["image_id"]: f["path"] for f in data["failed_urls"]}
    assert set(failed) == set(missing)
    for image_id, path in failed.items():
        assert path == sim.state.object_path(sim.event_id, image_id)
        assert path.startswith(f"imgs/{sim.event_id}/large/")
        assert (image_id in path) == (layout == "id")
        status, _, body = await fetch(http, sim.presign(image_id))
        assert status == 404 and b"NoSuchKey" in body
    # signatures still cover the key: another photo's key with this URL's query is refused
    url_a, url_b = data["presigned_urls"][0]["url"], data["presigned_urls"][1]["url"]
    swapped = url_b.split("?")[0] + "?" + url_a.split("?")[1]
    status, _, body = await fetch(http, swapped)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    # a signed key that is no photo is a 404
    status, _, _ = await fetch(
        http,
        sim.state.signer.presign(
            sim.storage_url, f"{prefix}c/IMG_0001.jpg", lifetime_s=60, now_s=sim.faults.now_s()
        ),
    )
    assert status == 404


# --- the standalone server's flags ------------------------------------------------------------------
def test_standalone_flags_reach_the_config() -> None:
    ns = build_arg_parser().parse_args(
        [
            "--storage-key-layout", "opaque",
            "--storage-bad-content-range", "star",
            "--storage-no-framing-cut-rate", "0.5",
            "--storage-no-framing",
            "--storage-content-encoding", "gzip",
            "--storage-html-200-rate", "0.1",
            "--storage-empty-200-rate", "0.2",
            "--storage-declared-length", "123",
            "--storage-bytes-per-s", "1",
            "--api-shuffle-image-ids",
            "--listing-repeat-page", "3",
            "--listing-repeat-budget", "2",
            "--listing-endless",
        ]
    )  # fmt: skip
    config = config_from_args(ns)
    f = config.faults
    assert config.storage_key_layout == "opaque"
    assert (f.storage_bad_content_range, f.storage_no_framing_cut_rate, f.storage_no_framing) == (
        "star",
        0.5,
        True,
    )
    assert (f.storage_content_encoding, f.storage_html_200_rate, f.storage_empty_200_rate) == (
        "gzip",
        0.1,
        0.2,
    )
    assert (f.storage_declared_length, f.storage_bytes_per_s) == (123, 1.0)
    assert (f.api_shuffle_image_ids, f.listing_repeat_page, f.listing_repeat_budget, f.listing_endless) == (
        True,
        3,
        2,
        True,
    )
