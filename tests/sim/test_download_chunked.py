"""A store that answers with chunked transfer encoding (no Content-Length): every byte lands,
across many HTTP chunks of odd sizes, and an empty body is a failed photo, not a hang."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from aiohttp import web

from ninepic_async.download import UrlJob, download_url_list

BODIES = {
    "big": hashlib.sha256(b"seed").digest() * 40_000,  # 1.28 MB
    "odd": bytes(range(256)) * 1_234,
    "empty": b"",
}
PIECE_SIZES = (1, 7, 65_536, 300_000, 4_093)


@pytest.fixture
async def chunked_store() -> AsyncIterator[str]:
    async def serve(request: web.Request) -> web.StreamResponse:
        body = BODIES[request.match_info["name"]]
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        offset, n = 0, 0
        while offset < len(body):
            size = PIECE_SIZES[n % len(PIECE_SIZES)]
            await response.write(body[offset : offset + size])
            offset, n = offset + size, n + 1
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{name}.jpg", serve)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_chunked_bodies_are_written_whole(chunked_store: str, tmp_path: Path) -> None:
    jobs = [UrlJob(url=f"{chunked_store}/{name}.jpg", image_id=name) for name in BODIES]
    with anyio.fail_after(20):
        report = await download_url_list(jobs, tmp_path, concurrency=3)
    assert (report.downloaded, report.failed) == (2, 1)
    assert report.failures[0].image_id == "empty" and "empty body" in (report.failures[0].error or "")
    for name, body in BODIES.items():
        if body:
            assert (tmp_path / f"{name}.jpg").read_bytes() == body
    assert not list(tmp_path.glob("*.part"))
