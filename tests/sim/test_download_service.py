"""A download inside a long-running service: the event loop is never held for long on a rerun of
a large destination, concurrent runs share a bounded set of file threads, and a run whose file
threads cannot start fails with the library's error, its lock released."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from ninepic_async.testing.standalone import read_coordinates

SLOW_STEP_S = 0.1
"""A library step longer than this fails the test (generous: the machine may be loaded)."""


BIG = ("--photos", "20000", "--photo-size", "48", "--seed", "140")
"""The large event: 20,000 tiny photos."""


@dataclass(frozen=True)
class BigEvent:
    coordinates: dict[str, str]
    image_ids: list[str]
    dest: Path
    """A destination holding all of it, as a finished run leaves it."""


@pytest.fixture(scope="module")
def big_event(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigEvent]:
    """The large event served by a simulator in another process (the test's process holds only
    the library: no simulator thread or heap in the measurement), and a complete destination of
    it written directly (every file and its ``ok`` line)."""
    command = [sys.executable, "-m", "ninepic_async.testing", "--port", "0", *BIG]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        coordinates = read_coordinates(proc.stdout.readline)
        dest = tmp_path_factory.mktemp("complete")
        world = Simulator(SimulatorConfig(photo_count=20_000, photo_size=48, seed=140)).world
        allocator = NameAllocator()
        manifest = Manifest(dest)
        manifest.open()
        try:
            for photo in world.photos:
                name = allocator.allocate(photo.image_id, photo.filename)
                data = world.content(photo.image_id)
                (dest / name).write_bytes(data)
                manifest.ok(photo.image_id, name, len(data), None)
        finally:
            manifest.close()
        ids = [photo.image_id for photo in world.photos]
        del world, allocator
        gc.collect()
        yield BigEvent(coordinates, ids, dest)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize("selection", ["whole_event", "image_ids"])
async def test_rerunning_a_20k_photo_destination_never_holds_the_event_loop(
    big_event: BigEvent, caplog: pytest.LogCaptureFixture, selection: str
) -> None:
    where = big_event.coordinates
    client = new_client(where["base_url"], api_key=where["api_key"], org_id=int(where["org_id"]))
    kwargs: dict[str, Any] = (
        {"whole_event": True} if selection == "whole_event" else {"image_ids": big_event.image_ids}
    )
    loop = asyncio.get_running_loop()
    async with client:
        await client.ping(int(where["event_id"]))  # the client's own first use is not measured
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_STEP_S
        gc.freeze()  # the test process's own heap (pytest, modules): its full collections are not ours
        try:
            with caplog.at_level(logging.WARNING, logger="asyncio"):
                report = await client.download_originals(int(where["event_id"]), big_event.dest, **kwargs)
        finally:
            gc.unfreeze()
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


@pytest.fixture
def one_file_thread(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The system refuses every file thread of the library after the first; the names of those
    that started."""
    real_start = threading.Thread.start
    started: list[str] = []

    def start_one_only(self: threading.Thread) -> None:
        if self.name.startswith("ninepic-"):
            if started:
                raise RuntimeError("can't start new thread")
            started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_one_only)
    return started


async def test_a_run_goes_on_with_the_file_threads_that_started_when_the_system_refuses_more(
    rsim: SimFactory, tmp_path: Path, one_file_thread: list[str]
) -> None:
    sim = await rsim(photo_count=8, photo_size=(60_000, 90_000), seed=142)
    async with new_client(sim) as client:
        with anyio.fail_after(30):
            report = await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, chunk_size=16_384
            )
    assert report.downloaded == 8 and len(one_file_thread) == 1
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


async def test_the_destination_lock_is_taken_and_given_back_off_the_event_loop(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its open, write and unlink wait on a disk busy with other runs' writes: a file thread's
    work, also when the run is cancelled."""
    sim = await rsim(photo_count=4, seed=146)
    sim.faults.storage_bytes_per_s = 100_000
    loop_thread = threading.get_ident()
    calls: list[tuple[str, bool]] = []
    real_acquire, real_release = DestinationLock.acquire, DestinationLock.release

    def acquire(self: DestinationLock) -> None:
        calls.append(("acquire", threading.get_ident() == loop_thread))
        real_acquire(self)

    def release(self: DestinationLock) -> None:
        calls.append(("release", threading.get_ident() == loop_thread))
        real_release(self)

    monkeypatch.setattr(DestinationLock, "acquire", acquire)
    monkeypatch.setattr(DestinationLock, "release", release)
    first_bytes = asyncio.Event()

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived):
            first_bytes.set()

    async with new_client(sim) as client:
        task = asyncio.ensure_future(
            download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
        )
        await first_bytes.wait()
        task.cancel()
        with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
            await task
        sim.faults.storage_bytes_per_s = 0
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete
    assert calls == [("acquire", False), ("release", False)] * 2
    check_dest(sim, tmp_path)


async def test_a_run_cancelled_while_it_takes_the_destination_leaves_no_empty_folder(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service cancelling a job that had only just started: the folder the run made is gone
    (``ninepic check`` would call it "nothing was downloaded there"), and the job can start again."""
    sim = await rsim(photo_count=3, seed=147)
    dest = tmp_path / "job"
    taking, go_on = threading.Event(), threading.Event()
    real_acquire = DestinationLock.acquire

    def slow_acquire(self: DestinationLock) -> None:
        taking.set()
        go_on.wait(10)
        real_acquire(self)

    monkeypatch.setattr(DestinationLock, "acquire", slow_acquire)
    async with new_client(sim) as client:
        task = asyncio.ensure_future(download_originals(client, sim.event_id, dest, whole_event=True))
        await asyncio.to_thread(taking.wait, 10)
        task.cancel()
        go_on.set()
        with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
            await task
        assert not dest.exists()
        monkeypatch.undo()
        report = await download_originals(client, sim.event_id, dest, whole_event=True)
    assert report.complete
    check_dest(sim, dest)


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
    rsim: SimFactory,
    tmp_path: Path,
    one_file_thread: list[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    sim = await rsim(photo_count=10, photo_size=(60_000, 90_000), seed=145, storage_chunk_size=8_192)
    sim.faults.storage_bytes_per_s = 30_000  # no file can finish within the timeout
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
