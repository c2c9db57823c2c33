"""The download pipeline's shape: look-ahead, write batches, the storage session, timeouts.

- the producer pages lazily (bounded look-ahead) for the whole event and for a BIB;
- bodies are written in batches of at least 256 KiB, never the whole file at once;
- one storage session per run, its connection pool sized to ``concurrency``, with idle
  (``sock_read``) timeouts instead of a total, closed at the end and on cancellation;
- an idle timeout cuts a stalled body and the retry resumes it with ``Range``, while a
  slow but steady body longer than the idle timeout completes in one request;
- storage retries back off exponentially (not at once);
- a URL that is about to expire is refreshed before its download starts (no 403 needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest

from ninepic_async._constants import (
    DEFAULT_CONCURRENCY,
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_SOCK_READ_TIMEOUT_S,
)
from ninepic_async._network import Network
from ninepic_async._retry import backoff_delay
from ninepic_async.download import (
    DownloadEvent,
    DownloadOptions,
    FileFinished,
    UrlJob,
    aiohttp_get,
    download_originals,
    download_url_list,
)
from ninepic_async.download import files as files_module
from ninepic_async.download import policy as policy_module
from ninepic_async.download import run as run_module

MIN_CHUNK = 256 * 1024


# -- lazy paging ------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["whole_event", "bib"])
async def test_listing_and_urls_are_fetched_only_a_bounded_way_ahead_of_the_downloads(
    sim_factory: SimFactory, tmp_path: Path, selection: str
) -> None:
    # 3,000 photos (50 batches of 60 URLs, 30 All Photos pages of 100) and two slow workers:
    # an eager producer would have asked for everything long before 200 files are done.
    sim = await sim_factory(photo_count=3000, photo_size=(1_000, 2_000), seed=41, bib_count=1)
    sim.faults.storage_latency_s = 0.02
    kwargs: dict[str, Any] = (
        {"whole_event": True} if selection == "whole_event" else {"bib": next(iter(sim.world.bibs))}
    )
    method = "image_ids" if selection == "whole_event" else "bib"
    snapshots: dict[int, tuple[int, int]] = {}
    finished = 0

    with anyio.CancelScope() as scope:

        def on_event(event: DownloadEvent) -> None:
            nonlocal finished
            if isinstance(event, FileFinished):
                finished += 1
                if finished in (20, 200):
                    snapshots[finished] = (
                        sim.counters.original_photos_by_method.get(method, 0),
                        sim.counters.api_requests_by_endpoint["images"],
                    )
                if finished == 200:
                    scope.cancel()

        async with new_client(sim) as client:
            await download_originals(
                client, sim.event_id, tmp_path, concurrency=2, on_event=on_event, **kwargs
            )
    assert scope.cancelled_caught
    url_calls_20, pages_20 = snapshots[20]
    url_calls_200, pages_200 = snapshots[200]
    # URLs asked for at most ~8 batches (480 ids) ahead of what was done; eager = 50 calls.
    assert 1 <= url_calls_20 <= 8, snapshots
    assert url_calls_200 <= math.ceil(200 / 60) + 8, snapshots
    if selection == "whole_event":
        # The All Photos walk stays a few pages ahead too (eager = 30 pages).
        assert 1 <= pages_20 <= 8 and pages_200 <= 2 + 8, snapshots
    else:
        assert pages_200 == 0


# -- chunking -----------------------------------------------------------------------------


def test_the_default_chunk_is_at_least_256_kib() -> None:
    assert DOWNLOAD_CHUNK_SIZE >= MIN_CHUNK
    for func in (download_originals, download_url_list):
        assert inspect.signature(func).parameters["chunk_size"].default == DOWNLOAD_CHUNK_SIZE
    assert inspect.signature(func).parameters["concurrency"].default == DEFAULT_CONCURRENCY


@pytest.mark.parametrize("write_on_loop", [True, False])
async def test_bodies_reach_the_disk_in_large_batches_never_whole_files(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_on_loop: bool
) -> None:
    sim = await sim_factory(
        photo_count=6, photo_size=(3_000_000, 4_000_000), seed=42, storage_chunk_size=65_536
    )
    sim.faults.storage_bytes_per_s = 40_000_000  # bodies arrive 64 KiB at a time
    batches: dict[int, list[int]] = defaultdict(list)
    real_write_all = files_module._write_all

    loop_thread = threading.get_ident()
    on_loop: list[bool] = []

    def write_all(fd: int, chunks: list[bytes], hasher: Any) -> None:
        batches[fd].append(sum(len(c) for c in chunks))
        on_loop.append(threading.get_ident() == loop_thread)
        real_write_all(fd, chunks, hasher)

    monkeypatch.setattr(files_module, "_write_all", write_all)
    options = DownloadOptions(concurrency=2, write_on_loop=write_on_loop)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, options=options)
    assert (report.downloaded, report.failed) == (6, 0)
    # The middle batches of a file are appended on the loop's thread when allowed; opening and
    # completing a file always run on a thread.
    assert any(on_loop) is write_on_loop
    assert on_loop.count(False) >= (2 if write_on_loop else 3) * len(sim.world.photos)
    check_dest(sim, tmp_path)
    sizes = [size for per_fd in batches.values() for size in per_fd]
    assert sum(sizes) == sum(p.size for p in sim.world.photos)
    # Every write but the tail of a file carries >= 256 KiB; none carries a whole 3-4 MB photo.
    small = [s for s in sizes if s < MIN_CHUNK]
    assert len(small) <= len(sim.world.photos), sizes
    assert max(sizes) < 3_000_000, sizes
    assert len(sizes) >= 3 * len(sim.world.photos)


async def test_a_body_ending_on_a_full_batch_is_written_and_completed_in_one_thread_hop(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=3, photo_size=MIN_CHUNK, seed=43, storage_chunk_size=65_536)
    hops: dict[str, int] = defaultdict(int)
    real_sync = files_module.PartWriter._sync

    def sync(
        writer: files_module.PartWriter, chunks: list[bytes], close: bool, *, completing: bool = False
    ) -> None:
        hops[writer.path] += 1
        real_sync(writer, chunks, close, completing=completing)

    monkeypatch.setattr(files_module.PartWriter, "_sync", sync)
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, chunk_size=MIN_CHUNK
        )
    assert (report.downloaded, report.failed) == (3, 0)
    check_dest(sim, tmp_path)
    assert sorted(hops.values()) == [1, 1, 1], hops


# -- one storage session: pool size, idle timeouts, closed ---------------------------------


def test_the_storage_session_has_idle_timeouts_and_a_pool_of_concurrency() -> None:
    async def make() -> None:
        session = aiohttp_get.make_storage_session(7)
        try:
            assert isinstance(session.connector, aiohttp.TCPConnector)
            assert session.connector.limit == 7
            assert session.timeout.total is None  # a big file on a slow link may take as long as it needs
            assert session.timeout.sock_read == DOWNLOAD_SOCK_READ_TIMEOUT_S
            assert session.timeout.sock_read is not None and session.timeout.sock_read > 0
            assert "X-API-Key" not in session.headers
        finally:
            await session.close()

    asyncio.run(make())


@pytest.mark.parametrize("cancel", [False, True], ids=["completed", "cancelled"])
async def test_a_run_whose_gets_need_aiohttp_makes_one_storage_session_sized_to_concurrency_and_closes_it(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cancel: bool
) -> None:
    sim = await sim_factory(photo_count=40, photo_size=(20_000, 40_000), seed=43)
    sim.faults.storage_latency_s = 0.01
    made: list[tuple[int, int | None, aiohttp.ClientSession]] = []
    real_make = aiohttp_get.make_storage_session

    def make(concurrency: int = DEFAULT_CONCURRENCY, network: Network | None = None) -> aiohttp.ClientSession:
        session = real_make(concurrency, network)
        connector = session.connector
        limit = connector.limit if isinstance(connector, aiohttp.TCPConnector) else None
        made.append((concurrency, limit, session))
        return session

    monkeypatch.setattr(aiohttp_get, "make_storage_session", make)
    monkeypatch.setattr(run_module, "loop_can_watch_sockets", lambda loop: False)  # as on Proactor
    finished = 0
    with anyio.CancelScope() as scope:

        def on_event(event: DownloadEvent) -> None:
            nonlocal finished
            if isinstance(event, FileFinished):
                finished += 1
                if cancel and finished == 5:
                    scope.cancel()

        async with new_client(sim) as client:
            await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, concurrency=5, on_event=on_event
            )
    assert scope.cancelled_caught == cancel
    assert len(made) == 1
    concurrency, limit, session = made[0]
    assert (concurrency, limit) == (5, 5)
    assert session.closed
    if not cancel:
        check_dest(sim, tmp_path)


async def test_a_run_whose_gets_all_go_over_sockets_makes_no_storage_session(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=12, seed=44)
    made: list[int] = []

    def make(concurrency: int = DEFAULT_CONCURRENCY, network: Network | None = None) -> aiohttp.ClientSession:
        made.append(concurrency)
        raise AssertionError("no GET of this run needs aiohttp")

    monkeypatch.setattr(aiohttp_get, "make_storage_session", make)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed, made) == (12, 0, [])
    check_dest(sim, tmp_path)


# -- idle timeouts in action ----------------------------------------------------------------

BODY = bytes(range(256)) * 2048  # 512 KiB


class StallingStore:
    """A store whose first answer stalls mid-body (headers and half the body, then silence)."""

    def __init__(self, *, stall_s: float, trickle_s: float = 0.0) -> None:
        self.stall_s = stall_s
        self.trickle_s = trickle_s
        self.requests: list[str | None] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rng = request.headers.get("Range")
        self.requests.append(rng)
        start = int(rng.split("=", 1)[1].rstrip("-")) if rng else 0
        response = web.StreamResponse(status=206 if start else 200)
        response.content_length = len(BODY) - start
        response.headers["ETag"] = '"fixed-etag"'
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"
        await response.prepare(request)
        if self.trickle_s:
            pieces = 10
            step = len(BODY) // pieces
            for offset in range(0, len(BODY), step):
                await response.write(BODY[offset : offset + step])
                await asyncio.sleep(self.trickle_s / pieces)
            return response
        if len(self.requests) == 1:
            await response.write(BODY[: len(BODY) // 2])
            with contextlib.suppress(TimeoutError):  # silence: only an idle timeout ends this
                await asyncio.wait_for(self.release.wait(), self.stall_s)
            return response
        await response.write(BODY[start:])
        return response

    async def __aenter__(self) -> StallingStore:
        app = web.Application()
        app.router.add_get("/{name}", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/stall-photo.jpg"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        self.release.set()
        await self.runner.cleanup()


def idle_session(sock_read_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=sock_read_s),
        auto_decompress=False,
    )


@pytest.mark.usefixtures("no_backoff_sleep")
async def test_a_stalled_body_is_cut_by_the_idle_timeout_and_resumed_with_range(tmp_path: Path) -> None:
    async with StallingStore(stall_s=30.0) as store, idle_session(0.3) as session:
        with anyio.fail_after(10):  # never the 30 s stall
            report = await download_url_list(
                [UrlJob(url=store.url, image_id="stall-photo")],
                tmp_path,
                concurrency=1,
                storage_session=session,
            )
    assert (report.downloaded, report.failed) == (1, 0)
    assert store.requests[0] is None
    assert store.requests[1] == f"bytes={len(BODY) // 2}-"  # resumed after what had arrived
    assert len(store.requests) == 2
    assert (tmp_path / "stall-photo.jpg").read_bytes() == BODY


@pytest.mark.parametrize("through", ["sockets", "aiohttp"])
@pytest.mark.usefixtures("no_backoff_sleep")
async def test_a_stalled_body_is_cut_after_the_low_speed_window_when_it_is_shorter_than_the_idle_timeout(
    tmp_path: Path, through: str
) -> None:
    async with StallingStore(stall_s=30.0) as store, idle_session(60.0) as session:
        with anyio.fail_after(10):  # never the 30 s stall, nor the 60 s idle timeout
            report = await download_url_list(
                [UrlJob(url=store.url, image_id="stall-photo")],
                tmp_path,
                concurrency=1,
                low_speed_limit_bps=1.0,
                low_speed_time_s=0.3,
                storage_session=session if through == "aiohttp" else None,
            )
    assert (report.downloaded, report.failed) == (1, 0)
    assert store.requests == [None, f"bytes={len(BODY) // 2}-"]  # resumed after what had arrived
    assert (tmp_path / "stall-photo.jpg").read_bytes() == BODY


async def test_a_slow_steady_body_longer_than_the_idle_timeout_completes_in_one_request(
    tmp_path: Path,
) -> None:
    # The body takes ~1.5 s in all but never pauses 0.5 s: a total timeout would cut it.
    async with StallingStore(stall_s=0.0, trickle_s=1.5) as store, idle_session(0.5) as session:
        report = await download_url_list(
            [UrlJob(url=store.url, image_id="stall-photo")], tmp_path, concurrency=1, storage_session=session
        )
    assert (report.downloaded, report.failed) == (1, 0)
    assert store.requests == [None]
    assert (tmp_path / "stall-photo.jpg").read_bytes() == BODY


# -- storage retries back off ------------------------------------------------------------


async def test_storage_retries_wait_an_exponential_backoff(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=3, seed=44)
    victim = sim.world.photos[1].image_id
    sim.faults.storage_5xx_rate = 1.0
    sim.faults.storage_fault_budget = 3
    sim.faults.storage_fault_image_ids = {victim}
    ceilings: list[float] = []

    def jitter(delay: float) -> float:
        ceilings.append(delay)
        return 0.0  # record the backoff the pool asks for, wait nothing

    monkeypatch.setattr(policy_module, "jitter", jitter)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 0)
    assert sim.counters.storage_5xx == 3
    assert ceilings == [backoff_delay(0), backoff_delay(1), backoff_delay(2)]
    assert ceilings[0] > 0 and ceilings[0] < ceilings[1] < ceilings[2]
    check_dest(sim, tmp_path)
