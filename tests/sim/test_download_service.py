"""A download inside a long-running service: the event loop is never held for long on a rerun of
a large destination, concurrent runs share a bounded set of file threads, and a run whose file
threads cannot start fails with the library's error, its lock released."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest

from ninepic_async import DestinationError
from ninepic_async._constants import DOWNLOAD_FILE_THREADS, DOWNLOAD_SHARED_WRITE_THREADS
from ninepic_async.download import BytesReceived, DownloadEvent, PlannedEvent, download_originals
from ninepic_async.download.lock import DestinationLock
from ninepic_async.download.manifest import Manifest
from ninepic_async.download.names import NameAllocator
from ninepic_async.testing import Simulator, SimulatorConfig

SLOW_STEP_S = 0.1
"""A library step longer than this fails the test (generous: the machine may be loaded)."""


@pytest.fixture(scope="module")
def big_sim() -> Iterator[Simulator]:
    """A 20,000-photo simulator served from its own thread and loop: the test's loop runs only
    the library, so every slow step it logs is the library's."""
    loop = asyncio.new_event_loop()
    sim = Simulator(SimulatorConfig(photo_count=20_000, photo_size=48, seed=140))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(30)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture(scope="module")
def big_dest(big_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a finished run of ``big_sim`` leaves, written directly: every file and ``ok`` line."""
    dest = tmp_path_factory.mktemp("complete")
    allocator = NameAllocator()
    manifest = Manifest(dest)
    manifest.open()
    try:
        for photo in big_sim.world.photos:
            name = allocator.allocate(photo.image_id, photo.filename)
            data = big_sim.world.content(photo.image_id)
            (dest / name).write_bytes(data)
            manifest.ok(photo.image_id, name, len(data), None)
    finally:
        manifest.close()
    return dest


@pytest.mark.parametrize("selection", ["whole_event", "image_ids"])
async def test_rerunning_a_20k_photo_destination_never_holds_the_event_loop(
    big_sim: Simulator, big_dest: Path, caplog: pytest.LogCaptureFixture, selection: str
) -> None:
    kwargs = (
        {"whole_event": True}
        if selection == "whole_event"
        else {"image_ids": [p.image_id for p in big_sim.world.photos]}
    )
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_STEP_S
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            async with new_client(big_sim) as client:
                report = await client.download_originals(big_sim.event_id, big_dest, **kwargs)
    finally:
        loop.set_debug(False)
    assert report.skipped == 20_000 and report.complete
    slow = [r.getMessage()[:300] for r in caplog.records if "took" in r.getMessage()]
    assert not slow, slow


def pool_threads() -> int:
    return sum(t.name.startswith("ninepic-") for t in threading.enumerate())


async def until_pool_threads_end() -> None:
    with anyio.fail_after(10):
        while pool_threads():
            await anyio.sleep(0.005)


async def test_concurrent_runs_share_a_bounded_set_of_file_threads(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=6, photo_size=(100_000, 150_000), seed=141, storage_chunk_size=16_384)
    before = threading.active_count()
    peak = 0

    def on_event(event: DownloadEvent) -> None:
        nonlocal peak
        peak = max(peak, threading.active_count() - before)

    runs = 10
    async with new_client(sim) as client:
        # Small chunks: every file takes several plain writes, so every run uses both lanes.
        reports = await asyncio.gather(
            *(
                download_originals(
                    client,
                    sim.event_id,
                    tmp_path / str(n),
                    whole_event=True,
                    chunk_size=16_384,
                    on_event=on_event,
                )
                for n in range(runs)
            )
        )
    assert all(r.downloaded == 6 for r in reports)
    for n in range(runs):
        check_dest(sim, tmp_path / str(n))
    # One run alone may use 1 + 8 file threads; ten share at most 4 + 16 (and one os.sync thread).
    assert 0 < peak <= DOWNLOAD_FILE_THREADS + DOWNLOAD_SHARED_WRITE_THREADS + 1
    await until_pool_threads_end()


async def test_a_run_goes_on_with_the_file_threads_that_started_when_the_system_refuses_more(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=8, photo_size=(60_000, 90_000), seed=142)
    real_start = threading.Thread.start
    started: list[str] = []

    def start_one_only(self: threading.Thread) -> None:
        if self.name.startswith("ninepic-"):
            if started:
                raise RuntimeError("can't start new thread")
            started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_one_only)
    async with new_client(sim) as client:
        with anyio.fail_after(30):
            report = await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, chunk_size=16_384
            )
    assert report.downloaded == 8 and len(started) == 1
    check_dest(sim, tmp_path)
    await until_pool_threads_end()


async def test_a_run_whose_file_threads_cannot_start_fails_and_releases_its_destination(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=5, seed=143)
    real_start = threading.Thread.start

    def refuse_ours(self: threading.Thread) -> None:
        if self.name.startswith("ninepic-"):
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse_ours)
    async with new_client(sim) as client:
        with anyio.fail_after(30), pytest.raises(DestinationError, match="cannot start a thread"):
            await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        lock = DestinationLock(tmp_path)
        lock.acquire()  # the failed run let go of the destination
        lock.release()
        monkeypatch.undo()
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 5
    check_dest(sim, tmp_path)


@pytest.mark.parametrize("at", ["planned", "first_bytes"])
@pytest.mark.parametrize("how", ["task_cancel", "cancel_scope"])
async def test_a_run_cancelled_as_its_file_threads_start_stops_and_releases_everything(
    rsim: SimFactory, tmp_path: Path, at: str, how: str
) -> None:
    sim = await rsim(photo_count=20, photo_size=(60_000, 90_000), seed=144, storage_chunk_size=8_192)
    sim.faults.storage_bytes_per_s = 200_000
    reached = asyncio.Event()
    scope = anyio.CancelScope()

    def on_event(event: DownloadEvent) -> None:
        if (at == "planned" and isinstance(event, PlannedEvent)) or (
            at == "first_bytes" and isinstance(event, BytesReceived)
        ):
            reached.set()
            scope.cancel()  # asyncio.timeout() and anyio.fail_after() cancel the same way

    async with new_client(sim) as client:
        if how == "task_cancel":
            task = asyncio.ensure_future(
                download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
            )
            await reached.wait()
            task.cancel()
            with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
                await task
        else:
            with anyio.fail_after(10), scope:
                await download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
            assert scope.cancelled_caught
    lock = DestinationLock(tmp_path)
    lock.acquire()  # released by the cancelled run
    lock.release()
    await until_pool_threads_end()


@pytest.mark.parametrize("how", ["wait_for", "task_cancel"])
async def test_a_run_short_of_file_threads_still_stops_when_cancelled_or_timed_out(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    sim = await rsim(photo_count=10, photo_size=(60_000, 90_000), seed=145, storage_chunk_size=8_192)
    sim.faults.storage_bytes_per_s = 30_000  # no file can finish within the timeout
    real_start = threading.Thread.start
    started: list[str] = []

    def start_one_only(self: threading.Thread) -> None:
        if self.name.startswith("ninepic-"):
            if started:
                raise RuntimeError("can't start new thread")
            started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_one_only)
    reached = asyncio.Event()

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived):
            reached.set()

    async with new_client(sim) as client:
        run = download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
        with anyio.fail_after(30):
            if how == "wait_for":
                with pytest.raises((asyncio.TimeoutError, TimeoutError)):
                    await asyncio.wait_for(run, timeout=0.5)
            else:
                task = asyncio.ensure_future(run)
                await reached.wait()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
    lock = DestinationLock(tmp_path)
    lock.acquire()
    lock.release()
    monkeypatch.undo()
    await until_pool_threads_end()
