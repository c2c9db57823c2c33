"""Dedicated threads for the destination's blocking calls: cheaper per call than ``anyio.to_thread``.

A download run sends every blocking file operation (open, write, close, manifest line, rename)
to a :class:`ThreadLane`: a fixed set of daemon threads fed by one ``queue.SimpleQueue``. Per
call that costs a C-level queue put and, for a whole batch of calls finished together, one
``call_soon_threadsafe`` wake-up of the event loop; ``anyio.to_thread.run_sync`` costs a
capacity limiter, a cancel scope, a Python ``queue.Queue`` and one loop wake-up per call.

The run keeps two lanes (:class:`WriteLanes`): ONE thread for the calls that create or rename
a file (first write of a ``.part``, completion with its manifest line and rename), because
threads creating files in the same directory only spin on the directory's lock in the kernel
(measured: a fifth of the run's CPU with 8 threads on ext4), and a few threads for the plain
writes of large files, which do not touch the directory.

Like ``anyio.to_thread.run_sync`` (without ``abandon_on_cancel``), the wait is shielded from
cancel scopes: a call always runs to its end and its result is returned, the cancellation taking
effect at the caller's next checkpoint; so a file whose ``ok`` line was written is reported as
finished, and the caller may close the file descriptor the call was using. A plain
``task.cancel()`` also waits for the call's end before it propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel

from .._exceptions import DestinationError

__all__ = ["ThreadLane", "WriteLanes"]

T = TypeVar("T")

logger = logging.getLogger(__name__)


class _Call(Generic[T]):
    __slots__ = ("done", "error", "fn", "future", "result", "waiter")

    def __init__(self, fn: Callable[[], T], future: asyncio.Future[T]) -> None:
        self.fn = fn
        self.future = future
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False
        """Set on the event loop thread once the call has returned or raised in its thread."""
        self.waiter: asyncio.Future[None] | None = None
        """What a cancelled caller waits on until the call is done (see :meth:`ThreadLane.run`)."""


class ThreadLane:
    """``threads`` daemon threads running submitted callables in submission order (FIFO)."""

    def __init__(self, threads: int, name: str) -> None:
        self._threads = max(1, threads)
        self._name = name
        self._queue: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        self._started: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished: list[_Call[Any]] = []
        self._finished_lock = threading.Lock()
        self._closed = False

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the threads; fewer when the system refuses more, :class:`DestinationError` when none
        starts (the calls would wait forever)."""
        for i in range(self._threads):
            thread = threading.Thread(target=self._work, name=f"{self._name}-{i}", daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:  # "can't start new thread": a process or container limit
                if not self._started:
                    raise DestinationError(f"cannot start a thread for the file operations: {exc}") from exc
                logger.warning("%s runs on %d threads: the system refused more (%s)", self._name, i, exc)
                break
            self._started.append(thread)
        self._loop = loop

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in one of the lane's threads; its result, or its exception raised here."""
        if self._closed:
            raise RuntimeError("the thread lane is closed")
        loop = self._loop
        if loop is None:
            loop = asyncio.get_running_loop()
            self._start(loop)
        # A cancel point before the call, as in anyio.to_thread.run_sync (no loop turn otherwise).
        await anyio.lowlevel.checkpoint_if_cancelled()
        call: _Call[T] = _Call(fn, loop.create_future())
        self._queue.put(call)
        try:
            # Shielded like anyio.to_thread.run_sync: a cancelled scope takes effect at the next
            # checkpoint, after the call's result came back (a completed file is reported).
            with anyio.CancelScope(shield=True):
                result = await call.future
        except asyncio.CancelledError:  # a plain task.cancel(): still wait for the call's end
            await self._finish_cancelled(call, loop)
            raise
        return result

    async def _finish_cancelled(self, call: _Call[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Wait, shielded, until a call whose caller was cancelled has ended in its thread."""
        with anyio.CancelScope(shield=True):
            while not call.done:
                waiter = call.waiter = loop.create_future()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    def _work(self) -> None:
        get = self._queue.get
        while True:
            call = get()
            if call is None:
                return
            try:
                call.result = call.fn()
            except BaseException as exc:  # handed to the awaiting task
                call.error = exc
            with self._finished_lock:
                self._finished.append(call)
                wake = len(self._finished) == 1
            if wake:  # one loop wake-up per batch of calls finished meanwhile
                assert self._loop is not None
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._finished_lock:
            calls, self._finished = self._finished, []
        for call in calls:
            call.done = True
            future = call.future
            if not future.done():
                if call.error is None:
                    future.set_result(call.result)
                else:
                    future.set_exception(call.error)
            waiter = call.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            call.error = None  # no reference cycle through the traceback

    def close(self) -> None:
        """Let the threads end once the calls already queued are done (does not wait)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._started:
            self._queue.put(None)


class WriteLanes:
    """The two lanes of one run: ``meta`` (one thread: creates, renames) and ``data`` (writes)."""

    def __init__(self, data_threads: int) -> None:
        self.meta = ThreadLane(1, "ninepic-files")
        self.data = ThreadLane(data_threads, "ninepic-writes")

    def lane_for(self, *, opens: bool, closes: bool) -> ThreadLane:
        """The routing rule: a call that creates or closes (then renames) a file runs on ``meta``,
        a plain write of an open file on ``data``."""
        return self.meta if opens or closes else self.data

    def close(self) -> None:
        """Let both lanes' threads end once their queued calls are done (does not wait): at run end."""
        self.meta.close()
        self.data.close()
