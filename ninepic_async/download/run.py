"""One download run: an async context manager that owns everything a run holds.

:class:`DownloadRun` takes the destination's lock, reads the manifest's resume state, opens
the manifest, the storage session, the file-thread lanes and the URL refresher, and closes
them all, in reverse, on the way out. :meth:`DownloadRun.run` drives the pipeline in anyio
task groups: ONE producer walks the selection (:mod:`.sources`) into the :class:`~.queue.JobQueue`
(back-pressure on the API paging) and ``concurrency`` workers take jobs and hand each to the
:class:`~.fetch.Fetcher`. A fatal error (:class:`DestinationError`, an API error of the
listing) stops the run and is raised alone, unwrapped; cancellation leaves ``.part`` files
for a resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from anyio.lowlevel import RunVar

from .._constants import (
    DOWNLOAD_CONNECT_TIMEOUT_S,
    DOWNLOAD_LOOP_SLICE_S,
    DOWNLOAD_QUEUE_SIZE,
    DOWNLOAD_SOCK_READ_TIMEOUT_S,
    DOWNLOAD_SYNC_INTERVAL_S,
    DOWNLOAD_WRITE_THREADS,
    MANIFEST_NAME,
    PART_SUFFIX,
)
from .._exceptions import DestinationError, NinePicError
from .._network import NetworkOptions
from ..instrumentation import Instrumentation
from .events import FileFinished, PlannedEvent
from .fetch import Fetcher
from .integrity import Announced
from .lanes import WriteLanes
from .lock import DestinationLock
from .manifest import Manifest, ManifestState
from .names import NameTemplate
from .options import DownloadOptions
from .queue import JobQueue
from .report import DownloadReport, FileResult
from .socket_get import SocketGets, loop_can_watch_sockets
from .sources import ApiFailure, Job, Listing, Planner, Skip, SourceItem, aclose
from .stats import DownloadMonitor
from .urls import UrlRefresher

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DownloadRun", "ItemsFactory", "Sink", "make_dest"]

logger = logging.getLogger(__name__)

Sink = Callable[[FileResult], Awaitable[None]]
Task = Callable[[], Coroutine[Any, Any, None]]
"""A task of the pipeline (:func:`run_pipeline`)."""
ItemsFactory = Callable[[Planner, Callable[[int | None], None], Listing], AsyncIterator[SourceItem]]
"""Makes the run's source: ``(planner, on_total, listing) -> items`` (see :mod:`.sources`)."""


def make_dest(dest: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The destination directory, created if missing, and whether this call created it;
    :class:`DestinationError` if it cannot be used."""
    path = Path(dest)
    if path.exists() and not path.is_dir():
        raise DestinationError(f"destination {str(path)!r} exists and is not a directory")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"cannot create the destination {str(path)!r}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise DestinationError(f"destination {str(path)!r} is not writable")
    return path, created


def _part_names(dest: Path, depth: int = 0) -> frozenset[str]:
    """The ``.part`` files in ``dest`` now, as ``/``-separated paths relative to it (one scan per
    directory instead of a stat per file), in folders down to ``depth`` levels (those a name
    template makes); symlinks are never followed."""
    found: list[str] = []
    folders = [("", 0)]
    try:
        while folders:
            prefix, level = folders.pop()
            with os.scandir(os.path.join(dest, prefix) if prefix else dest) as entries:
                for entry in entries:
                    if entry.name.endswith(PART_SUFFIX):
                        found.append(prefix + entry.name)
                    elif level < depth and entry.is_dir(follow_symlinks=False):
                        folders.append((prefix + entry.name + "/", level + 1))
    except OSError as exc:
        raise DestinationError(f"cannot list the destination {str(dest)!r}: {exc.strerror or exc}") from exc
    return frozenset(found)


def _undo_untouched_dest(dest: Path, manifest: Path) -> None:
    """After a run that stopped before recording anything: drop its empty manifest and the
    directory it created, so a typo'd event id leaves no trace. Anything else there stays."""
    with contextlib.suppress(OSError):  # no manifest at all when it stopped before opening one
        if manifest.stat().st_size == 0:
            manifest.unlink()
    with contextlib.suppress(OSError):
        dest.rmdir()  # fails, harmlessly, unless the directory is now empty


_SYNC_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("ninepic_sync_limiter")


def _sync_limiter() -> anyio.CapacityLimiter:
    """One ``os.sync`` at a time per event loop: it syncs every file system for every run anyway."""
    try:
        return _SYNC_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(1)
        _SYNC_LIMITER.set(limiter)
        return limiter


class _Pacer:
    """``await pace()`` in a loop that may not suspend for long (a rerun settling thousands of
    completed photos): gives the event loop a turn once ``DOWNLOAD_LOOP_SLICE_S`` has passed."""

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def __call__(self) -> None:
        if time.perf_counter() - self._since >= DOWNLOAD_LOOP_SLICE_S:
            await anyio.lowlevel.checkpoint()
            self._since = time.perf_counter()


def _leaves(exc: BaseException) -> list[BaseException]:
    members = getattr(exc, "exceptions", None)
    if not isinstance(members, tuple):
        return [exc]
    found: list[BaseException] = []
    for member in members:
        found.extend(_leaves(member))
    return found


def _single_error(group: BaseException) -> BaseException | None:
    """The one error worth raising from a task-group failure, unwrapped: the destination's, else
    the first of ours, else the first other (an ``on_event`` callback's own exception: several
    workers may have raised it at once)."""
    if not isinstance(getattr(group, "exceptions", None), tuple):
        return None
    cancelled = anyio.get_cancelled_exc_class()
    leaves = [e for e in _leaves(group) if not isinstance(e, cancelled)]
    if not leaves:
        return None
    ours = [e for e in leaves if isinstance(e, NinePicError)]
    for exc in ours:
        if isinstance(exc, DestinationError):
            return exc
    return ours[0] if ours else leaves[0]


async def run_pipeline(
    produce: Task,
    work: Task,
    workers: int,
    queue: JobQueue[Job | Skip],
    beside: Sequence[Task],
) -> None:
    """Run ``produce`` and ``workers`` copies of ``work`` to their end, the ``beside`` tasks (URL
    refresher, periodic sync or flush) until then; a failure raises its one error, unwrapped."""
    try:
        async with anyio.create_task_group() as outer:
            for task in beside:
                outer.start_soon(task)
            async with anyio.create_task_group() as group:
                group.start_soon(produce)
                for _ in range(workers):
                    group.start_soon(work)
            outer.cancel_scope.cancel()
    except Exception as group_error:
        single = _single_error(group_error)
        if single is None:
            raise
        raise single from None
    finally:
        queue.close()


def close_counts(
    report: DownloadReport, listing: Listing, planner: Planner, sharded: bool, started_s: float
) -> None:
    """Fill in what only the run's end knows: the photos missing, how many were announced (a
    shard's own count when sharded) and the time it took."""
    report.missing = listing.missing
    if sharded:
        report.announced = planner.owned
    elif report.announced is None:
        report.announced = listing.announced
    report.elapsed_s = time.monotonic() - started_s


class DownloadRun:
    """One run into ``dest``: ``async with DownloadRun(...) as run: report = await run.run(items)``."""

    def __init__(
        self,
        dest: Path,
        options: DownloadOptions,
        *,
        refresher: UrlRefresher | None,
        storage_session: aiohttp.ClientSession | None = None,
        sink: Sink | None = None,
        created_dest: bool = False,
        template: NameTemplate | None = None,
        monitor: DownloadMonitor | None = None,
        instrumentation: Instrumentation | None = None,
    ) -> None:
        self.dest = dest
        self._template = template
        self.options = options
        self._refresher = refresher
        self._given_session = storage_session
        self._sink = sink
        self._created_dest = created_dest
        self._lock = DestinationLock(dest, options.shard)
        self._manifest = Manifest(dest, options.shard.manifest_name if options.shard else MANIFEST_NAME)
        self._lanes: WriteLanes | None = None
        self._session: aiohttp.ClientSession | None = storage_session
        self._sockets: SocketGets | None = None
        self.report = DownloadReport(manifest_path=str(self._manifest.path))
        self.monitor = monitor or DownloadMonitor()
        self._instrumentation = instrumentation

    async def __aenter__(self) -> DownloadRun:
        try:
            self.monitor.attach(self.report, self._refresher)
        except BaseException:
            if self._refresher is not None:
                self._refresher.close()
            raise
        try:
            self._network = (self.options.network or NetworkOptions()).resolve()
        except BaseException:
            self.monitor.detach()
            if self._refresher is not None:
                self._refresher.close()
            raise
        try:
            concurrency = self.options.effective_concurrency()
            self._lanes = WriteLanes(
                min(DOWNLOAD_WRITE_THREADS, concurrency), on_loop=self.options.write_on_loop
            )
            self.monitor.watch_writes(self._lanes.on_loop)
            # The lock file's open, write and unlink wait on a busy disk: off the event loop too.
            await self._lanes.meta.run(self._lock.acquire)
            # Reading a large manifest and reserving its names takes a while: off the event loop.
            self._planner, self._parts_at_start = await self._lanes.data.run(self._open_destination)
        except BaseException:
            await self._close()
            if self._created_dest:  # cancelled or failed before recording anything: no empty folder
                _undo_untouched_dest(self.dest, self._manifest.path)
            raise
        if self._given_session is None and loop_can_watch_sockets(asyncio.get_running_loop()):
            # A caller's session keeps every GET (its trace hooks, its connector); ours reads
            # sockets directly where it can (direct connections, Content-Length answers).
            self._sockets = SocketGets(
                ssl_setting=self._network.ssl, connect_timeout_s=DOWNLOAD_CONNECT_TIMEOUT_S
            )
        return self

    def _storage_session(self) -> aiohttp.ClientSession:
        """The session for GETs the sockets cannot make: the caller's, or the run's own, made on
        first use (a run that never needs one loads no aiohttp) and closed with the run."""
        if self._session is None:
            from .aiohttp_get import make_storage_session

            self._session = make_storage_session(self.options.effective_concurrency(), self._network)
        return self._session

    def _open_destination(self) -> tuple[Planner, frozenset[str]]:
        """In a file thread: the resume state (manifest, names, ``.part`` files); open the manifest."""
        state = ManifestState.load_dest(self.dest)
        planner = Planner(self.dest, state, self._template, self.options.shard)
        depth = max((name.count("/") for _, name in state.names()), default=0)
        if self._template is not None:
            depth = max(depth, len(self._template.segments) - 1)
        parts = _part_names(self.dest, depth)
        self._manifest.open()
        return planner, parts

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()
        if exc is not None and isinstance(exc, Exception) and self._created_dest:
            # a fatal error, not an interruption: Ctrl-C keeps all
            _undo_untouched_dest(self.dest, self._manifest.path)

    async def _close(self) -> None:
        self._manifest.close()
        if self._refresher is not None:
            self._refresher.close()
        if self._sockets is not None:
            self._sockets.close()
        try:
            if self._session is not None and self._given_session is None:
                with anyio.CancelScope(shield=True):
                    await self._session.close()
        finally:
            try:
                await self._release_lock()
            finally:
                if self._lanes is not None:
                    self._lanes.close()  # every call was awaited to its end: the lease ends
                self.monitor.detach()

    async def _release_lock(self) -> None:
        """Give the destination back from a file thread (a cancelled caller still waits for it);
        on the loop when the lane cannot run it."""
        if self._lanes is not None:
            try:
                with anyio.CancelScope(shield=True):
                    await self._lanes.meta.run(self._lock.release)
                return
            except Exception as exc:  # no thread left for it, or the lane closed
                logger.debug("releasing the lock of %s on the event loop: %s", self.dest, exc)
        self._lock.release()

    def _planned(self, total: int | None) -> None:
        if self.options.shard is not None:
            total = None  # the selection's total, not this shard's: known when the listing ends
        self.report.announced = total
        if self.options.on_event is not None:
            self.options.on_event(PlannedEvent(total))

    async def _finish(self, result: FileResult) -> None:
        self.report.add(result)
        if result.status == "skipped":
            self.monitor.bytes_skipped += result.bytes
        if self.options.on_event is not None:
            self.options.on_event(FileFinished(result))
        if self._sink is not None:
            await self._sink(result)

    async def run(self, items_factory: ItemsFactory) -> DownloadReport:
        """Download every item the factory's source yields; the report, or the run's one fatal error."""
        assert self._lanes is not None, "use DownloadRun in async with"
        started_s = time.monotonic()
        planner = self._planner
        planner.offload = self._lanes.data.run
        if self.options.shard is not None:
            # a name a shard claimed is recorded at once: a rerun after a kill finds it the photo's
            planner.on_claim = lambda image_id, name: self._manifest.partial(
                image_id, name, Announced(None, None)
            )
        listing = Listing()
        queue: JobQueue[Job | Skip] = JobQueue(DOWNLOAD_QUEUE_SIZE)
        fetcher = Fetcher(
            dest=str(self.dest),
            session=self._storage_session,
            read_timeout_s=(
                self._given_session.timeout.sock_read
                if self._given_session is not None
                else DOWNLOAD_SOCK_READ_TIMEOUT_S
            ),
            manifest=self._manifest,
            state=planner.state,
            planner=planner,
            refresher=self._refresher,
            lanes=self._lanes,
            report=self.report,
            options=self.options,
            parts_at_start=self._parts_at_start,
            network=self._network,
            monitor=self.monitor,
            sockets=self._sockets,
        )
        if self._refresher is not None:
            self._refresher.waiting = queue
            self._refresher.on_event = self.options.on_event
        items = items_factory(planner, self._planned, listing)
        beside: list[Task] = [self._sync_periodically]
        if self._refresher is not None:
            beside.insert(0, self._refresher.run)
        await run_pipeline(
            lambda: self._produce(items, queue, fetcher),
            lambda: self._work(queue, fetcher),
            self.options.effective_concurrency(),
            queue,
            beside,
        )
        close_counts(self.report, listing, planner, self.options.shard is not None, started_s)
        self.monitor.detach()
        self.report.stats = self.monitor.snapshot()
        return self.report

    async def _sync_periodically(self) -> None:
        """Every ``DOWNLOAD_SYNC_INTERVAL_S``: sync the file system, then vouch for the lines
        written before the sync began (a ``synced`` line; see :mod:`.manifest`). Runs until the
        run ends; a run shorter than the interval leaves its files to be re-hashed after a crash."""
        synced = 0
        while True:
            await anyio.sleep(DOWNLOAD_SYNC_INTERVAL_S)
            covers = self._manifest.size
            if covers > synced:
                await anyio.to_thread.run_sync(os.sync, limiter=_sync_limiter())
                self._manifest.synced(covers)
                synced = self._manifest.size

    async def _produce(
        self, items: AsyncIterator[SourceItem], queue: JobQueue[Job | Skip], fetcher: Fetcher
    ) -> None:
        pace = _Pacer()
        try:
            async for item in items:
                await pace()
                if isinstance(item, Job):
                    await queue.put(item)
                elif isinstance(item, Skip):
                    if self.options.verify or item.recheck:
                        await queue.put(item)  # re-hashed by a worker before it counts as skipped
                    else:
                        await self._finish(await fetcher.settle_skip(item))
                else:
                    await self._api_failure(item)
        finally:
            queue.close_input()
            await aclose(items)

    async def _api_failure(self, item: ApiFailure) -> None:
        self._manifest.failed(item.image_id, item.error, file=item.filename, path=item.path)
        await self._finish(
            FileResult(item.image_id, "failed", None, 0, item.error, item.path, retryable=False)
        )

    async def _work(self, queue: JobQueue[Job | Skip], fetcher: Fetcher) -> None:
        while (item := await queue.get()) is not None:
            await self._finish(await self._observed(fetcher, item))

    async def _observed(self, fetcher: Fetcher, item: Job | Skip) -> FileResult:
        """Fetch (or re-check) one photo, counted in flight and seen by the instrumentation."""
        instrumentation = self._instrumentation
        observer = None if instrumentation is None else instrumentation.file_download(item.image_id)
        self.monitor.files_active += 1
        try:
            result = await (fetcher.settle_skip(item) if isinstance(item, Skip) else fetcher.fetch(item))
        except BaseException as exc:
            if observer is not None:
                observer.end(None, exc)
            raise
        finally:
            self.monitor.files_active -= 1
        if observer is not None:
            observer.end(result, None)
        return result
