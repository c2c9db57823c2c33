"""The thread lanes that run the destination's blocking calls: order, errors, cancellation, routing."""

from __future__ import annotations

import threading

import anyio
import pytest

from ninepic_async import DestinationError
from ninepic_async.download.lanes import ThreadLane, WriteLanes


async def test_one_thread_runs_calls_in_submission_order_off_the_event_loop() -> None:
    lane = ThreadLane(1, "test-lane")
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
    lane = ThreadLane(2, "test-lane")

    def boom() -> None:
        raise OSError(28, "No space left on device")

    try:
        with pytest.raises(OSError, match="No space"):
            await lane.run(boom)
        assert await lane.run(lambda: 7) == 7  # the lane goes on
    finally:
        lane.close()


async def test_a_cancelled_caller_still_waits_for_its_call_to_end() -> None:
    lane = ThreadLane(1, "test-lane")
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
    lane = ThreadLane(1, "test-lane")
    lane.close()
    with pytest.raises(RuntimeError, match="closed"):
        await lane.run(lambda: None)


def test_calls_that_create_or_close_a_file_go_to_the_meta_lane_plain_writes_to_data() -> None:
    lanes = WriteLanes(4)
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
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    lane = ThreadLane(2, "test-lane")
    with anyio.fail_after(10), pytest.raises(DestinationError, match="cannot start a thread"):
        await lane.run(lambda: None)
    lane.close()
