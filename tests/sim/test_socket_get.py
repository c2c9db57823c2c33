"""Storage GETs on sockets the event loop reads (:mod:`ninepic_async.download.socket_get`).

A run that made its own storage session reads ``Content-Length`` answers off the socket
itself; everything else (a caller's session, a proxy, chunked or unlengthed answers) goes
through aiohttp, and the photos come out the same either way. A raw asyncio server plays
the hostile store: cut bodies, garbage heads, connections closed while idle, silence.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio
import pytest
import yarl
from helpers.tls import self_signed_cert

from ninepic_async import NetworkOptions
from ninepic_async.download import DownloadOptions, FileRetrying, UrlJob, download_url_list
from ninepic_async.download import socket_get as socket_get_module
from ninepic_async.download.socket_get import (
    SocketGetError,
    SocketGets,
    Unframed,
    _sendable_target,
    loop_can_watch_sockets,
)

PHOTO = hashlib.sha256(b"photo").digest() * 40_000  # 1.28 MB: several write batches


def _photo(n: int) -> bytes:
    """Photo ``n``: 1.1 MB and a little more per ``n`` (more than a 1 MiB batch)."""
    return bytes([n % 251]) * 1000 + PHOTO[: 1_100_000 + 1000 * n]


def _photo_asked(head: bytes) -> bytes:
    """The photo a request head asks for (``GET /p/<n>?...``)."""
    return _photo(int(head.split(b" ")[1].decode().rsplit("/", 1)[1].split("?")[0]))


Handler = Callable[["Store", bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class Store:
    """A raw HTTP/1.1 store on 127.0.0.1: ``/p/<n>`` answers ``_photo(n)``; ``handler`` may
    answer instead (returning False to close the connection)."""

    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    handler: Handler | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(head)
                if self.handler is not None:
                    if not await self.handler(self, head, reader, writer):
                        return
                    continue
                await answer_photo(head, writer)
        finally:
            writer.close()


async def answer_photo(head: bytes, writer: asyncio.StreamWriter, *, cut_at: int | None = None) -> None:
    """Answer ``GET /p/<n>`` (honouring ``Range: bytes=N-``), sending only ``cut_at`` body bytes if given."""
    body = _photo_asked(head)
    start = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"range: bytes="):
            start = int(line.split(b"=", 1)[1].split(b"-")[0])
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    if start:
        status = f"206 Partial Content\r\nContent-Range: bytes {start}-{len(body) - 1}/{len(body)}"
    else:
        status = "200 OK"
    part = body[start:]
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Length: {len(part)}\r\nETag: {etag}\r\n"
        "Content-Type: image/jpeg\r\n\r\n".encode()
    )
    writer.write(part if cut_at is None else part[:cut_at])
    await writer.drain()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    state = Store()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.close()
    await server.wait_closed()


def jobs(store: Store, count: int) -> list[UrlJob]:
    return [UrlJob(f"{store.url}/p/{n}?X-Sig=abc", f"p{n}.jpg", f"p{n}") for n in range(count)]


def assert_photos(dest: Path, count: int) -> None:
    for n in range(count):
        assert (dest / f"p{n}.jpg").read_bytes() == _photo(n)
    assert not list(dest.glob("*.part"))


@pytest.fixture
def socket_gets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the GETs sent on directly read sockets."""
    sent = [0]
    real_get = SocketGets.get

    async def counted(self: SocketGets, *args: object, **kwargs: object) -> socket_get_module.SocketAnswer:
        sent[0] += 1
        return await real_get(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SocketGets, "get", counted)
    return sent


async def test_photos_come_off_the_socket_whole_over_few_kept_alive_connections(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 12), tmp_path, concurrency=3)
    assert report.complete and report.downloaded == 12
    assert_photos(tmp_path, 12)
    assert socket_gets[0] == 12
    assert store.connections <= 3  # kept alive between photos
    head = store.requests[0].decode()
    assert head.startswith("GET /p/") and "?X-Sig=abc HTTP/1.1\r\n" in head
    assert f"Host: {yarl.URL(store.url).host}:{yarl.URL(store.url).port}\r\n" in head
    assert "Accept-Encoding: identity\r\n" in head


async def test_a_callers_session_keeps_every_get(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(30):
            report = await download_url_list(jobs(store, 3), tmp_path, storage_session=session)
    assert report.complete
    assert_photos(tmp_path, 3)
    assert socket_gets[0] == 0


async def test_a_body_cut_short_resumes_by_range_on_a_new_connection(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    cuts = [0]

    async def cut_once(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        if cuts[0] == 0:
            cuts[0] += 1
            await answer_photo(head, w, cut_at=1_100_000)
            return False
        await answer_photo(head, w)
        return True

    store.handler = cut_once
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 1), tmp_path)
    assert report.complete
    assert (tmp_path / "p0.jpg").read_bytes() == _photo(0)
    resumed = store.requests[1].decode()
    # the bytes after the last full batch were kept too: the resume starts where the cut was
    assert "Range: bytes=1100000-" in resumed and "If-Range: " in resumed
    assert socket_gets[0] == 2 and store.connections == 2


async def test_an_idle_connection_the_store_closed_is_replaced_without_a_failed_attempt(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    served = [0]

    async def one_per_connection(
        store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> bool:
        served[0] += 1
        await answer_photo(head, w)
        return False  # closed after each answer, without saying so

    store.handler = one_per_connection
    retries: list[object] = []
    with anyio.fail_after(30):
        report = await download_url_list(
            jobs(store, 4),
            tmp_path,
            concurrency=1,
            on_event=lambda e: retries.append(e) if isinstance(e, FileRetrying) else None,
        )
    assert report.complete
    assert_photos(tmp_path, 4)
    assert retries == []
    assert served[0] == 4 and store.connections == 4


async def test_a_chunked_answer_is_fetched_again_through_aiohttp_and_the_host_stays_there(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    async def chunked(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        body = _photo_asked(head)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: image/jpeg\r\n\r\n")
        for start in range(0, len(body), 300_000):
            piece = body[start : start + 300_000]
            w.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        w.write(b"0\r\n\r\n")
        await w.drain()
        return True

    store.handler = chunked
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 3), tmp_path, concurrency=1)
    assert report.complete
    assert_photos(tmp_path, 3)
    assert socket_gets[0] == 1  # the first answer showed the framing; the rest went to aiohttp


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 OK\r\n\r\n",
        b"SPDY/3 200 OK\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\n Content-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",  # the head never ends
    ],
)
async def test_a_garbled_answer_fails_the_exchange_with_a_retryable_error(
    store: Store, answer: bytes
) -> None:
    async def garbage(store: Store, _h: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        w.write(answer)
        await w.drain()
        return False

    store.handler = garbage
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    try:
        with anyio.fail_after(10), pytest.raises(SocketGetError):
            await gets.get(yarl.URL(f"{store.url}/p/0"), {}, read_timeout_s=5)
    finally:
        gets.close()


async def test_a_silent_store_times_out(store: Store) -> None:
    async def silent(store: Store, _h: bytes, r: asyncio.StreamReader, _w: asyncio.StreamWriter) -> bool:
        await r.read()  # never answers
        return False

    store.handler = silent
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    try:
        with anyio.fail_after(10), pytest.raises(SocketGetError, match="no data from the storage host"):
            await gets.get(yarl.URL(f"{store.url}/p/0"), {}, read_timeout_s=0.2)
    finally:
        gets.close()


def test_a_request_target_is_sent_only_when_every_character_is_printable_ascii_but_space() -> None:
    for char in [*map(chr, range(0x300)), "\u2028", "\udc80", "\U0001f600"]:
        assert _sendable_target("/p/" + char) is (0x21 <= ord(char) <= 0x7E), repr(char)
    assert _sendable_target("/p/0?X-Amz-Signature=ab%2Fcd&x=1")


@pytest.mark.parametrize("target", ["/p/0\r\nX-Evil: 1", "/p/0 HTTP/1.0", "/p/\x00"])
async def test_a_url_that_would_bend_the_request_line_is_refused_before_sending(
    store: Store, target: str
) -> None:
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    try:
        with pytest.raises(SocketGetError, match="request line"):
            await gets.get(yarl.URL(store.url + target, encoded=True), {}, read_timeout_s=5)
    finally:
        gets.close()
    assert store.connections == 0


async def test_an_answer_without_a_length_is_left_to_aiohttp(store: Store) -> None:
    async def unlengthed(store: Store, _h: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\nabc")
        await w.drain()
        return False

    store.handler = unlengthed
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    url = yarl.URL(f"{store.url}/p/0")
    try:
        with pytest.raises(Unframed):
            await gets.get(url, {}, read_timeout_s=5)
        assert not gets.serves(url)
    finally:
        gets.close()


async def test_a_stopped_download_keeps_every_byte_read_in_its_part_and_resumes_after_them(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    async def stall(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        await answer_photo(head, w, cut_at=1_080_000)
        await release.wait()
        return False

    store.handler = stall
    read = [0]
    stalled = asyncio.Event()
    real_read_into = socket_get_module._Connection.read_into

    async def watched(self: socket_get_module._Connection, view: memoryview, timeout_s: float | None) -> int:
        if read[0] >= 1_080_000:
            stalled.set()  # every byte sent was read: this read waits for more
        n = await real_read_into(self, view, timeout_s)
        read[0] += n
        return n

    monkeypatch.setattr(socket_get_module._Connection, "read_into", watched)
    task = asyncio.ensure_future(download_url_list(jobs(store, 1), tmp_path))
    with anyio.fail_after(20):
        await stalled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert (tmp_path / "p0.jpg.part").read_bytes() == _photo(0)[:1_080_000]
    store.handler = None
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 1), tmp_path)
    assert report.complete
    assert (tmp_path / "p0.jpg").read_bytes() == _photo(0)
    assert b"Range: bytes=1080000-" in store.requests[-1]


async def test_the_stock_loop_and_uvloop_can_both_watch_sockets() -> None:
    assert loop_can_watch_sockets(asyncio.get_running_loop())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory)


async def test_photos_over_tls_come_off_the_socket_whole_when_the_certificate_is_trusted(
    tls_files: tuple[Path, Path], tmp_path: Path, socket_gets: list[int]
) -> None:
    state = Store()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0, ssl=context)
    state.url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        options = DownloadOptions(concurrency=2, network=NetworkOptions(ca_bundle=tls_files[0]))
        with anyio.fail_after(30):
            report = await download_url_list(jobs(state, 5), tmp_path, options=options)
        assert report.complete
        assert_photos(tmp_path, 5)
        assert socket_gets[0] == 5 and state.connections <= 2
        with anyio.fail_after(30):
            refused = await download_url_list(jobs(state, 1), tmp_path / "untrusted")
        (failure,) = refused.failures
        assert (
            failure.error is not None
            and "certificate of the storage host 127.0.0.1 was refused" in failure.error
        )
        assert state.connections <= 3  # no retry of a refused certificate
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("batch", "piece"), [(100_000, 30_000), (65_536, None), (65_536, 1), (1 << 20, 200_000)]
)
async def test_a_body_handed_on_in_pieces_comes_whole_across_buffer_turnovers(
    store: Store, batch: int, piece: int | None
) -> None:
    async def dribble(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        body = _photo(3)
        w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for start in range(0, len(body), 7_000):
            w.write(body[start : start + 7_000])
            await w.drain()
        return True

    store.handler = dribble
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    received = bytearray()
    try:
        with anyio.fail_after(20):
            answer = await gets.get(yarl.URL(f"{store.url}/p/3"), {}, read_timeout_s=5)
            async for view in answer.chunks(batch, piece_bytes=piece):
                assert 0 < len(view) <= batch
                received += view  # copied before the next step, as a writer's flush would
        assert answer.complete and answer.reusable
        gets.release(answer)
    finally:
        gets.close()
    assert bytes(received) == _photo(3)


async def test_a_header_value_with_a_line_break_is_refused_before_sending(store: Store) -> None:
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    try:
        with pytest.raises(SocketGetError, match="line break"):
            await gets.get(yarl.URL(f"{store.url}/p/0"), {"If-Range": '"x"\r\nEvil: 1'}, read_timeout_s=5)
    finally:
        gets.close()
    assert store.connections == 0


async def test_closing_the_pool_closes_connections_still_in_use(store: Store) -> None:
    gets = SocketGets(ssl_setting=True, connect_timeout_s=5)
    answer = await gets.get(yarl.URL(f"{store.url}/p/0"), {}, read_timeout_s=5)
    gets.close()
    with pytest.raises(SocketGetError):
        async for _view in answer.chunks(1 << 20):
            pass


async def test_a_redirect_is_followed_through_aiohttp(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    async def redirect(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        target = head.split(b" ")[1].decode()
        if target.startswith("/p/"):
            location = f"Location: /q/{target[3:]}\r\n"
            w.write(f"HTTP/1.1 307 Temporary Redirect\r\n{location}Content-Length: 0\r\n\r\n".encode())
            await w.drain()
            return True
        await answer_photo(head.replace(b" /q/", b" /p/", 1), w)
        return True

    store.handler = redirect
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 2), tmp_path, concurrency=1)
    assert report.complete
    assert_photos(tmp_path, 2)
    assert socket_gets[0] == 2  # each redirect was seen on the socket, then left to aiohttp


async def test_bytes_past_the_end_of_a_body_retire_the_connection(
    store: Store, tmp_path: Path, socket_gets: list[int]
) -> None:
    async def overlong(store: Store, head: bytes, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        body = _photo_asked(head)[:5000]
        w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body + b"GARBAGE")
        await w.drain()
        return True

    store.handler = overlong
    with anyio.fail_after(30):
        report = await download_url_list(jobs(store, 3), tmp_path, concurrency=1)
    assert report.complete
    for n in range(3):
        assert (tmp_path / f"p{n}.jpg").read_bytes() == _photo(n)[:5000]
    assert socket_gets[0] == 3 and store.connections == 3  # never a GET after the stray bytes
