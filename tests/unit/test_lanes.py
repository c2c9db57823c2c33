"""The thread lanes that run the destination's blocking calls: order, errors, cancellation, routing."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from ninepic_async import DestinationError
from ninepic_async.download.lanes import LanePool, LoopWrites, ThreadLane, WriteLanes


async def test_one_thread_runs_calls_in_submission_order_off_the_event_loop() -> None:
    lane = ThreadLane.dedicated(1, "test-lane")
    seen: list[tuple[int, str]] = []
    try:
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(lane.run, lambda n=n: seen.append((n, threading.current_thread().name)))
    finally:
        lane.close()
    assert [n for n, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test-lane-0"}


async def test_a_calls_exception_is_raised_in_the_caller() -> None:
    lane = ThreadLane.dedicated(2, "test-lane")

    def boom() -> None:
        raise OSError(28, "No space left on device")

    try:
        with pytest.raises(OSError, match="No space"):
            await lane.run(boom)
        assert await lane.run(lambda: 7) == 7  # the lane goes on
    finally:
        lane.close()


async def test_a_cancelled_caller_still_waits_for_its_call_to_end() -> None:
    lane = ThreadLane.dedicated(1, "test-lane")
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow() -> None:
        started.set()
        release.wait(10)
        finished.append(True)

    try:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lane.run, slow)
                await anyio.to_thread.run_sync(started.wait)
                scope.cancel()
                release.set()
        assert finished == [True]  # the cancellation took effect only after the call's end
    finally:
        lane.close()


async def test_a_closed_lane_refuses_new_calls() -> None:
    lane = ThreadLane.dedicated(1, "test-lane")
    lane.close()
    with pytest.raises(RuntimeError, match="closed"):
        await lane.run(lambda: None)


def test_calls_that_create_or_close_a_file_go_to_the_meta_lane_plain_writes_to_data() -> None:
    lanes = WriteLanes(4, LanePool())
    try:
        assert lanes.lane_for(opens=True, closes=False) is lanes.meta
        assert lanes.lane_for(opens=False, closes=True) is lanes.meta
        assert lanes.lane_for(opens=True, closes=True) is lanes.meta
        assert lanes.lane_for(opens=False, closes=False) is lanes.data
    finally:
        lanes.close()


async def test_a_lane_whose_threads_cannot_start_raises_instead_of_waiting_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading.Thread, "start", refuse_threads)
    lane = ThreadLane.dedicated(2, "test-lane")
    with anyio.fail_after(10), pytest.raises(DestinationError, match="cannot start a thread"):
        await lane.run(lambda: None)
    lane.close()


def pool_threads(prefix: str = "ninepic-") -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(prefix)}


async def until_no_pool_threads(prefix: str = "ninepic-") -> None:
    """Threads told to end leave once idle: wait for that (bounded, not a timing assertion)."""
    with anyio.fail_after(10):
        while pool_threads(prefix):
            await anyio.sleep(0.005)


async def test_concurrent_runs_share_a_bounded_set_of_threads_that_ends_with_them() -> None:
    pool = LanePool(file_groups=2, write_threads=3)
    leases = [WriteLanes(8, pool) for _ in range(6)]
    release = threading.Event()
    peak: list[int] = []

    def busy() -> None:
        peak.append(pool.threads())
        release.wait(10)

    try:
        async with anyio.create_task_group() as tg:
            for lanes in leases:
                tg.start_soon(lanes.meta.run, busy)
                for _ in range(4):
                    tg.start_soon(lanes.data.run, busy)
            with anyio.fail_after(10):
                while len(peak) < 2 + 3:  # every thread the pool may have is busy
                    await anyio.sleep(0.005)
            release.set()
        assert max(peak) <= 2 + 3 and pool.threads() == 2 + 3
    finally:
        release.set()
        for lanes in leases:
            lanes.close()
    assert pool.threads() == 0
    await until_no_pool_threads()


async def test_a_runs_creates_and_renames_all_run_on_one_thread_though_runs_share_it() -> None:
    pool = LanePool(file_groups=2, write_threads=2)
    leases = [WriteLanes(2, pool) for _ in range(3)]
    seen: dict[int, set[str]] = {}
    try:
        async with anyio.create_task_group() as tg:
            for n, lanes in enumerate(leases):
                for _ in range(10):
                    tg.start_soon(
                        lanes.meta.run,
                        lambda n=n: seen.setdefault(n, set()).add(threading.current_thread().name),
                    )
    finally:
        for lanes in leases:
            lanes.close()
    assert all(len(names) == 1 for names in seen.values())
    assert len(set().union(*seen.values())) == 2  # three runs, two create/rename threads
    await until_no_pool_threads()


async def test_threads_start_only_for_the_work_a_run_sends() -> None:
    pool = LanePool()
    lanes = WriteLanes(8, pool)
    try:
        for _ in range(5):
            await lanes.meta.run(lambda: None)  # small files: creates and renames only
            await lanes.data.run(lambda: None)  # one write at a time
        assert pool.threads() == 2
    finally:
        lanes.close()
    await until_no_pool_threads()


async def test_a_lane_runs_on_the_threads_that_started_when_the_system_refuses_more(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_start = threading.Thread.start
    started: list[str] = []

    def start_one_only(self: threading.Thread) -> None:
        if started:
            raise RuntimeError("can't start new thread")
        started.append(self.name)
        real_start(self)

    lane = ThreadLane.dedicated(4, "test-refused")
    release = threading.Event()
    monkeypatch.setattr(threading.Thread, "start", start_one_only)
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(lane.run, lambda: release.wait(10))
            await anyio.sleep(0.01)
            release.set()
        assert await lane.run(lambda: threading.current_thread().name) == started[0]
    finally:
        release.set()
        lane.close()
    assert any("refused more" in r.getMessage() for r in caplog.records)
    await until_no_pool_threads("test-refused")


async def test_a_run_whose_own_thread_is_refused_borrows_a_running_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = LanePool(file_groups=4)
    first = WriteLanes(1, pool)
    await first.meta.run(lambda: None)  # its thread is running
    monkeypatch.setattr(threading.Thread, "start", refuse_threads)
    second = WriteLanes(1, pool)
    try:
        assert await second.meta.run(lambda: threading.current_thread().name) == "ninepic-files0-0"
        assert await second.data.run(lambda: threading.current_thread().name) == "ninepic-files0-0"
    finally:
        second.close()
        first.close()
    await until_no_pool_threads()


def refuse_threads(self: threading.Thread) -> None:
    raise RuntimeError("can't start new thread")


async def test_a_pool_that_can_start_no_thread_raises_and_tries_again_for_the_next_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = LanePool()
    monkeypatch.setattr(threading.Thread, "start", refuse_threads)
    lanes = WriteLanes(2, pool)
    with anyio.fail_after(10), pytest.raises(DestinationError, match="cannot start a thread"):
        await lanes.meta.run(lambda: None)
    lanes.close()
    monkeypatch.undo()
    again = WriteLanes(2, pool)
    try:
        assert await again.meta.run(lambda: 7) == 7
    finally:
        again.close()
    await until_no_pool_threads()


class _Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _timed_write(writes: LoopWrites, clock: _Clock, took_s: float) -> None:
    def write() -> None:
        clock.now += took_s

    writes.run(write)


def test_loop_writes_stay_allowed_while_each_write_is_fast() -> None:
    clock = _Clock()
    writes = LoopWrites(True, slow_s=0.02, pause_s=(1.0, 60.0), clock=clock)
    for _ in range(3):
        _timed_write(writes, clock, 0.019)
        assert writes.allowed


def test_a_slow_loop_write_sends_writes_to_threads_for_a_pause(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    writes = LoopWrites(True, slow_s=0.02, pause_s=(1.0, 60.0), clock=clock)
    with caplog.at_level(logging.INFO, logger="ninepic_async.download.lanes"):
        _timed_write(writes, clock, 0.5)
    assert "500 ms" in caplog.text
    assert not writes.allowed
    clock.now += 0.99
    assert not writes.allowed
    clock.now += 0.02
    assert writes.allowed


def test_pauses_double_while_writes_stay_slow_and_start_over_after_a_fast_one() -> None:
    clock = _Clock()
    writes = LoopWrites(True, slow_s=0.02, pause_s=(1.0, 4.0), clock=clock)
    pauses = []
    for _ in range(4):
        _timed_write(writes, clock, 0.1)
        paused_at = clock.now
        while not writes.allowed:
            clock.now += 0.25
        pauses.append(clock.now - paused_at)
    assert pauses == [1.0, 2.0, 4.0, 4.0]
    _timed_write(writes, clock, 0.001)
    _timed_write(writes, clock, 0.1)
    clock.now += 1.0
    assert writes.allowed


def test_a_failing_loop_write_raises_and_is_still_timed() -> None:
    clock = _Clock()
    writes = LoopWrites(True, slow_s=0.02, pause_s=(1.0, 60.0), clock=clock)

    def full() -> None:
        clock.now += 3.0
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        writes.run(full)
    assert not writes.allowed


def test_write_lanes_allow_loop_writes_only_when_asked() -> None:
    pool = LanePool()
    asked, default = WriteLanes(2, pool, on_loop=True), WriteLanes(2, pool)
    try:
        assert asked.on_loop.allowed
        assert not default.on_loop.allowed
    finally:
        asked.close()
        default.close()
