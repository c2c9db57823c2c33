"""Threads for the destination's blocking calls, shared by the runs of the process.

A download run sends every blocking file operation (open, write, close, manifest line, rename)
to a :class:`ThreadLane`: its way into a :class:`Workers` group, daemon threads fed by one
``queue.SimpleQueue``. Per call that costs a C-level queue put and, for a whole batch of calls
finished together, one ``call_soon_threadsafe`` wake-up of the caller's event loop;
``anyio.to_thread.run_sync`` costs a capacity limiter, a cancel scope, a Python ``queue.Queue``
and one loop wake-up per call.

Each run leases :class:`WriteLanes` from the process's :class:`LanePool`: ``meta``, ONE thread
for the calls that create or rename a file (first write of a ``.part``, completion with its
manifest line and rename), because threads creating files in the same directory only spin on the
directory's lock in the kernel (measured: a fifth of the run's CPU with 8 threads on ext4); and
``data``, the threads for plain writes of large files, which do not touch the directory.
Those plain writes run on the event loop's own thread instead while they are fast
(:class:`LoopWrites`).

Threads are sized to the work and shared: a thread starts only when a call finds none idle, up
to ``DOWNLOAD_FILE_THREADS`` one-thread create/rename groups (a run takes the least used one, so
a destination's creates and renames stay on one thread) and, for writes, the runs'
``min(concurrency, DOWNLOAD_WRITE_THREADS)`` added up, capped by ``DOWNLOAD_SHARED_WRITE_THREADS``;
threads end when the runs that needed them end. A thread the system refuses to start (a process
or container limit) leaves a group with the threads it has; a group left with none hands its
calls to another group that has one, else the call raises :class:`DestinationError` instead of
waiting forever.

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
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel

from .._constants import (
    DOWNLOAD_FILE_THREADS,
    DOWNLOAD_LOOP_WRITE_PAUSE_S,
    DOWNLOAD_SHARED_WRITE_THREADS,
    DOWNLOAD_SLOW_LOOP_WRITE_S,
)
from .._exceptions import DestinationError

__all__ = ["LanePool", "LoopWrites", "ThreadLane", "Workers", "WriteLanes", "shared_pool"]

T = TypeVar("T")

logger = logging.getLogger(__name__)


class _Inbox:
    """Where a lane's finished calls wait for its event loop, handed over in batches."""

    __slots__ = ("_finished", "_lock", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._finished: list[_Call[Any]] = []
        self._lock = threading.Lock()

    def put(self, call: _Call[Any]) -> None:
        """In a worker thread: hand ``call`` back; one loop wake-up per batch finished meanwhile."""
        with self._lock:
            self._finished.append(call)
            wake = len(self._finished) == 1
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
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


class _Call(Generic[T]):
    __slots__ = ("done", "error", "fn", "future", "inbox", "result", "waiter")

    def __init__(self, fn: Callable[[], T], inbox: _Inbox, future: asyncio.Future[T]) -> None:
        self.fn = fn
        self.inbox = inbox
        self.future = future
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False
        """Set on the event loop thread once the call has returned or raised in its thread."""
        self.waiter: asyncio.Future[None] | None = None
        """What a cancelled caller waits on until the call is done (see :meth:`ThreadLane.run`)."""


class Workers:
    """Daemon threads running the calls of one FIFO queue: one is started when a call finds
    none idle, up to ``limit``; lowering the limit ends the threads beyond it once idle."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._limit = limit
        self._threads = 0
        """Threads running and not asked to end (each end request is one ``None`` in the queue)."""
        self._idle = 0
        """Threads waiting for a call, counting those about to take an end request."""
        self._ending = 0
        """End requests queued and not yet taken."""
        self._waiting = 0
        """Calls queued and not yet taken by a thread."""
        self._started = 0
        self.refusal: str | None = None
        """Why the system last refused a thread (no more tries until the group is empty again)."""

    @property
    def threads(self) -> int:
        """Threads that take calls now."""
        return self._threads

    def submit(self, call: _Call[Any]) -> bool:
        """Queue ``call``, first starting a thread if none is idle for it and the limit allows;
        False, with nothing queued, when the group has no thread and none can start."""
        with self._lock:
            idle = self._idle - self._ending
            if idle <= self._waiting and self._threads < self._limit and self.refusal is None:
                self._start_one()
            if self._threads == 0:
                return False
            self._waiting += 1
            self._queue.put(call)
        return True

    def _start_one(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{self._started}", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread": a process or container limit
            self.refusal = str(exc)
            if self._threads:
                logger.warning(
                    "%s runs on %d threads: the system refused more (%s)", self.name, self._threads, exc
                )
            return
        self._started += 1
        self._threads += 1

    def set_limit(self, limit: int) -> None:
        """Run at most ``limit`` threads from now on: the ones beyond it end after the calls queued."""
        with self._lock:
            self._limit = limit
            for _ in range(self._threads - limit):
                self._threads -= 1
                self._ending += 1
                self._queue.put(None)
            if self._threads == 0:
                self.refusal = None  # the next run may try again

    def _work(self) -> None:
        get, lock = self._queue.get, self._lock
        with lock:
            self._idle += 1
        while True:
            call = get()
            with lock:
                self._idle -= 1
                if call is None:
                    self._ending -= 1
                else:
                    self._waiting -= 1
            if call is None:
                return
            try:
                call.result = call.fn()
            except BaseException as exc:  # handed to the awaiting task
                call.error = exc
            with lock:  # idle before the caller hears back, so its next call needs no new thread
                self._idle += 1
            call.inbox.put(call)


class ThreadLane:
    """A caller's way into a :class:`Workers` group: ``await lane.run(fn)`` runs ``fn()`` there and
    returns its result to the caller's event loop. One thread: calls run in submission order."""

    def __init__(
        self,
        workers: Workers,
        *,
        fallback: Callable[[], Workers | None] | None = None,
        owns_workers: bool = False,
    ) -> None:
        self._workers = workers
        self._fallback = fallback
        self._owns_workers = owns_workers
        self._inbox: _Inbox | None = None
        self._closed = False

    @classmethod
    def dedicated(cls, threads: int, name: str) -> ThreadLane:
        """A lane with its own ``threads`` threads, ended by :meth:`close`."""
        return cls(Workers(name, max(1, threads)), owns_workers=True)

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in one of the lane's threads; its result, or its exception raised here."""
        if self._closed:
            raise RuntimeError("the thread lane is closed")
        # A cancel point before the call, as in anyio.to_thread.run_sync (no loop turn otherwise).
        await anyio.lowlevel.checkpoint_if_cancelled()
        call = self._submit(fn)
        loop = call.future.get_loop()
        try:
            # Shielded like anyio.to_thread.run_sync: a cancelled scope takes effect at the next
            # checkpoint, after the call's result came back (a completed file is reported).
            with anyio.CancelScope(shield=True):
                result = await call.future
        except asyncio.CancelledError:  # a plain task.cancel(): still wait for the call's end
            await self._finish_cancelled(call, loop)
            raise
        return result

    def start(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """``fn()`` in one of the lane's threads, not waited for: its future. The caller must
        await it (shielded) before the lane closes."""
        if self._closed:
            raise RuntimeError("the thread lane is closed")
        return self._submit(fn).future

    def _submit(self, fn: Callable[[], T]) -> _Call[T]:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = _Inbox(asyncio.get_running_loop())
        call: _Call[T] = _Call(fn, inbox, inbox.loop.create_future())
        if not self._workers.submit(call):
            self._submit_elsewhere(call)
        return call

    def _submit_elsewhere(self, call: _Call[Any]) -> None:
        """The lane's group has no thread and cannot start one: use a group that has one."""
        refusal = self._workers.refusal
        other = self._fallback() if self._fallback is not None else None
        if other is not None and other.submit(call):
            logger.warning(
                "%s has no thread (the system refused one: %s); its calls run on %s",
                self._workers.name,
                refusal,
                other.name,
            )
            self._workers = other
            return
        raise DestinationError(f"cannot start a thread for the file operations: {refusal or 'no thread'}")

    async def _finish_cancelled(self, call: _Call[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Wait, shielded, until a call whose caller was cancelled has ended in its thread."""
        with anyio.CancelScope(shield=True):
            while not call.done:
                waiter = call.waiter = loop.create_future()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    def close(self) -> None:
        """Refuse new calls; a lane with its own threads lets them end once the queued calls are done."""
        if self._closed:
            return
        self._closed = True
        if self._owns_workers:
            self._workers.set_limit(0)


class LanePool:
    """The process's file threads (their one owner), leased by each run as :class:`WriteLanes`."""

    def __init__(
        self, *, file_groups: int = DOWNLOAD_FILE_THREADS, write_threads: int = DOWNLOAD_SHARED_WRITE_THREADS
    ) -> None:
        self._lock = threading.Lock()
        self._file_groups = max(1, file_groups)
        self._write_threads = max(1, write_threads)
        self._files: dict[Workers, int] = {}
        """The create/rename groups (one thread each) and how many runs lease each."""
        self._serial = 0
        self.writes = Workers("ninepic-writes", 0)
        self._write_demand = 0

    def lease(self, write_threads: int) -> tuple[Workers, int]:
        """A create/rename group for one run (the least leased; a new one while fewer than the
        maximum exist) and the write threads it may use, added to the writes' limit."""
        need = max(1, write_threads)
        with self._lock:
            group = min(self._files, key=self._files.__getitem__, default=None)
            if group is None or (self._files[group] and len(self._files) < self._file_groups):
                group = Workers(f"ninepic-files{self._serial}", 1)
                self._serial += 1
                self._files[group] = 0
            self._files[group] += 1
            self._write_demand += need
            self.writes.set_limit(min(self._write_threads, self._write_demand))
        return group, need

    def release(self, group: Workers, write_threads: int) -> None:
        """End a lease: threads no other run needs end once their queued calls are done."""
        with self._lock:
            leases = self._files.get(group, 0) - 1
            if leases <= 0:
                self._files.pop(group, None)
                group.set_limit(0)
            else:
                self._files[group] = leases
            self._write_demand = max(0, self._write_demand - write_threads)
            self.writes.set_limit(min(self._write_threads, self._write_demand))

    def fallback(self, failed: Workers) -> Workers | None:
        """A group that has a thread now, to take the calls of ``failed``, which has none."""
        with self._lock:
            for group in (*self._files, self.writes):
                if group is not failed and group.threads:
                    return group
        return None

    def threads(self) -> int:
        """Threads of the pool that take calls now."""
        with self._lock:
            return self.writes.threads + sum(group.threads for group in self._files)


_shared: LanePool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> LanePool:
    """The process's :class:`LanePool` (made on first use; a forked child starts a fresh one)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LanePool()
        return _shared


def _forget_pool_in_child() -> None:
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()  # the parent's threads do not exist here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


class LoopWrites:
    """Whether a plain write of an open file runs on the event loop's thread: yes while writes are
    fast. One that takes longer than ``slow_s`` sends the run's writes to threads for a pause
    (``pause_s``: the first, doubled after each slow write up to the second; a fast write starts
    over): a disk that stays slow costs the loop one slow write per pause, a moment's stall (the
    loop's thread preempted, a burst of writeback) only a short spell on threads.

    A write handed to a thread makes that thread and the loop's take the GIL from each other
    thousands of times a second, because the loop's thread lets go of it for every 16 KiB TLS
    record it decrypts: over HTTPS the hand-offs cost as much CPU as the download itself
    (measured on 256 MiB photos: 3.2 CPU s per GB with writes on threads, 1.7 on the loop;
    curl 1.8). Appending 256 KiB to the page cache takes well under a millisecond, but a disk
    that throttles dirty pages or a stalled network mount can block a write for seconds.
    """

    __slots__ = ("_clock", "_pause_s", "_pauses", "_until", "enabled", "slow_s", "slow_writes")

    def __init__(
        self,
        enabled: bool,
        slow_s: float = DOWNLOAD_SLOW_LOOP_WRITE_S,
        pause_s: tuple[float, float] = DOWNLOAD_LOOP_WRITE_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.slow_s = slow_s
        self._pauses = pause_s
        self._pause_s = pause_s[0]
        self._until: float | None = None
        """While writes are paused: when the loop's thread may write again."""
        self._clock = clock
        self.slow_writes = 0
        """Writes that took longer than ``slow_s`` (each started a pause)."""

    @property
    def allowed(self) -> bool:
        """Whether the next write may run on the loop's thread."""
        if not self.enabled:
            return False
        until = self._until
        if until is None:
            return True
        if self._clock() < until:
            return False
        self._until = None
        return True

    def run(self, write: Callable[[], None]) -> None:
        """``write()`` here and now (the caller checked :attr:`allowed`), timed."""
        started = self._clock()
        try:
            write()
        finally:
            ended = self._clock()
            if ended - started <= self.slow_s:
                self._pause_s = self._pauses[0]
            else:
                self.slow_writes += 1
                self._until = ended + self._pause_s
                logger.info(
                    "a write took %.0f ms on the event loop's thread; writing on threads for %g s",
                    (ended - started) * 1000,
                    self._pause_s,
                )
                self._pause_s = min(self._pause_s * 2, self._pauses[1])


class WriteLanes:
    """One run's lease on the pool: ``meta`` (one thread: creates, renames) and ``data`` (writes),
    and whether plain writes may run on the loop's thread instead (``on_loop``, :class:`LoopWrites`).

    ``write_threads``: the most write threads this run can keep busy (its concurrency, at most
    ``DOWNLOAD_WRITE_THREADS``). :meth:`close` ends the lease.
    """

    def __init__(self, write_threads: int, pool: LanePool | None = None, *, on_loop: bool = False) -> None:
        self.on_loop = LoopWrites(on_loop)
        self._pool = pool = pool if pool is not None else shared_pool()
        self._group, self._need = pool.lease(write_threads)
        group = self._group
        self.meta = ThreadLane(group, fallback=lambda: pool.fallback(group))
        self.data = ThreadLane(
            pool.writes, fallback=lambda: group if group.threads else pool.fallback(pool.writes)
        )
        self._closed = False

    def lane_for(self, *, opens: bool, closes: bool) -> ThreadLane:
        """The routing rule: a call that creates or closes (then renames) a file runs on ``meta``,
        a plain write of an open file on ``data``."""
        return self.meta if opens or closes else self.data

    def close(self) -> None:
        """End the lease (every call was awaited to its end); idempotent."""
        if self._closed:
            return
        self._closed = True
        self.meta.close()
        self.data.close()
        self._pool.release(self._group, self._need)
