"""The download pool: a producer feeding N workers that stream presigned URLs to disk.

One producer task walks the selection (:mod:`.sources`) and pushes jobs into a bounded
memory stream (``DOWNLOAD_QUEUE_SIZE``), so URLs are requested only shortly before use
and memory stays flat however large the event. ``concurrency`` workers take jobs, GET
them through ONE storage session (separate from the API session: no API key, connection
limit = concurrency, idle read timeout, URLs passed pre-encoded), and write
``<name>.part`` files that are renamed only when complete and checked.

Per file: refresh first if the URL is about to expire; a 403 "expired" refreshes once;
connection errors, truncated bodies and 5xx retry with jittered backoff, resuming with
``Range: bytes=N-`` when the store answers 206 (else from byte 0); ``verify=True`` checks
an MD5 ETag while streaming (one retry on mismatch). Fatal destination problems raise
:class:`DestinationError` and stop the run; cancellation leaves ``.part`` files for resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import logging
import os
import re
import stat
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio
import yarl
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._constants import (
    DEFAULT_CONCURRENCY,
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_CONNECT_TIMEOUT_S,
    DOWNLOAD_MAX_ATTEMPTS,
    DOWNLOAD_MAX_RETRIES,
    DOWNLOAD_PROACTIVE_REFRESHES,
    DOWNLOAD_QUEUE_SIZE,
    DOWNLOAD_READ_BUFFER_BYTES,
    DOWNLOAD_SOCK_READ_TIMEOUT_S,
    DOWNLOAD_WRITE_THREADS,
    MANIFEST_NAME,
    PART_SUFFIX,
    USER_AGENT,
)
from .._exceptions import (
    DestinationError,
    DownloadError,
    IntegrityError,
    NinePicError,
    RequestValidationError,
    StorageStatusError,
    URLExpiredError,
    redact,
)
from .._retry import backoff_delay, jitter, should_retry_status
from ._types import DownloadClient
from .events import BytesReceived, EventCallback, FileFinished, FileStarted, PlannedEvent
from .files import PartWriter, finalize, part_size, truncate_part
from .lanes import WriteLanes
from .lock import DestinationLock
from .manifest import Manifest, ManifestState
from .report import DownloadReport, FileResult, PlannedFile
from .sources import (
    ApiFailure,
    Job,
    Planner,
    Selection,
    Skip,
    SourceItem,
    UrlJob,
    iter_source,
    iter_url_jobs,
    make_selection,
)
from .urls import UrlRefresher, is_expired_response, needs_refresh, storage_error_text

__all__ = [
    "download_originals",
    "download_url_list",
    "iter_download_originals",
    "make_storage_session",
    "plan_originals",
]

logger = logging.getLogger(__name__)

_ERROR_BODY_BYTES = 16 * 1024
_PLAIN_MD5 = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)

Sink = Callable[[FileResult], Awaitable[None]]


class _Transient(Exception):
    """An attempt failed in a way worth retrying (connection, truncation, 5xx)."""


def plain_md5(etag: str | None) -> str | None:
    """The MD5 hex digest an ETag stands for, when it is a plain single-part MD5."""
    if not etag or etag.startswith("W/"):
        return None
    match = _PLAIN_MD5.match(etag.strip())
    return match.group(1).lower() if match else None


def _lexists(path: str) -> bool:
    """Whether anything (a file, a link, a directory) is at ``path``."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _same_regular_file(existing: str, part: str) -> bool:
    """Whether ``existing`` is a regular file (not a link) with exactly the bytes of ``part``."""
    try:
        if not stat.S_ISREG(os.lstat(existing).st_mode):
            return False
        return filecmp.cmp(existing, part, shallow=False)
    except OSError:
        return False


def _part_names(dest: Path) -> frozenset[str]:
    """The ``.part`` files in ``dest`` now (one directory scan instead of a stat per file)."""
    try:
        with os.scandir(dest) as entries:
            return frozenset(e.name for e in entries if e.name.endswith(PART_SUFFIX))
    except OSError as exc:
        raise DestinationError(f"cannot list the destination {str(dest)!r}: {exc.strerror or exc}") from exc


def make_storage_session(concurrency: int = DEFAULT_CONCURRENCY) -> aiohttp.ClientSession:
    """The storage session: no API key, ``concurrency`` connections, idle timeouts, raw bodies."""
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=DOWNLOAD_CONNECT_TIMEOUT_S, sock_read=DOWNLOAD_SOCK_READ_TIMEOUT_S
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        headers={"User-Agent": USER_AGENT},
        read_bufsize=DOWNLOAD_READ_BUFFER_BYTES,
    )


def _check_options(concurrency: object, chunk_size: object) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise RequestValidationError("concurrency", f"must be an integer >= 1; got {concurrency!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise RequestValidationError("chunk_size", f"must be an integer >= 1; got {chunk_size!r}")


def _check_event_id(event_id: object) -> None:
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 0:
        raise RequestValidationError("event_id", f"must be a non-negative integer; got {event_id!r}")


def prepare_dest(dest: str | os.PathLike[str]) -> Path:
    """The destination directory, created if missing; :class:`DestinationError` if unusable."""
    return _make_dest(dest)[0]


def _make_dest(dest: str | os.PathLike[str]) -> tuple[Path, bool]:
    """:func:`prepare_dest`, and whether this call created the directory."""
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


def _undo_untouched_dest(dest: Path) -> None:
    """After a run that stopped before recording anything: drop its empty manifest and the
    directory it created, so a typo'd event id leaves no trace. Anything else there stays."""
    manifest = dest / MANIFEST_NAME
    try:
        if manifest.stat().st_size == 0:
            manifest.unlink()
        dest.rmdir()  # fails, harmlessly, unless the directory is now empty
    except OSError:
        pass


async def _received_chunks(content: aiohttp.StreamReader, chunk_size: int) -> AsyncGenerator[bytes, None]:
    """The body's bytes: as received (no join copy) when ``chunk_size`` is at least the read
    buffer, else in pieces of at most ``chunk_size``."""
    if chunk_size < DOWNLOAD_READ_BUFFER_BYTES:
        async for chunk in content.iter_chunked(chunk_size):
            yield chunk
        return
    async for chunk, _end_of_http_chunk in content.iter_chunks():
        if chunk:  # an empty piece marks a chunked-encoding boundary, not the end
            yield chunk


def _group_members(exc: BaseException) -> tuple[BaseException, ...] | None:
    """The members of an exception group (without naming the 3.11 builtin), else None."""
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and all(isinstance(m, BaseException) for m in members):
        return members
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    members = _group_members(exc)
    if members is None:
        return [exc]
    found: list[BaseException] = []
    for member in members:
        found.extend(_leaves(member))
    return found


def _single_error(group: BaseException) -> BaseException | None:
    """The one error worth raising from a task-group failure, if the group holds only our errors."""
    if _group_members(group) is None:
        return None
    cancelled = anyio.get_cancelled_exc_class()
    leaves = [e for e in _leaves(group) if not isinstance(e, cancelled)]
    if not leaves or not all(isinstance(e, NinePicError) for e in leaves):
        return None
    for exc in leaves:
        if isinstance(exc, DestinationError):
            return exc
    return leaves[0]


@dataclass
class _FileState:
    started: bool = False
    etag: str | None = None


class _Pool:
    """One run: the workers' shared state (session, manifest, refresher, report, events)."""

    def __init__(
        self,
        *,
        dest: Path,
        session: aiohttp.ClientSession,
        manifest: Manifest,
        refresher: UrlRefresher | None,
        verify: bool,
        chunk_size: int,
        on_event: EventCallback | None,
        sink: Sink | None,
        report: DownloadReport,
        planner: Planner,
    ) -> None:
        self.dest = dest
        self._dest_prefix = os.path.join(dest, "")
        self.planner = planner
        self.session = session
        self.manifest = manifest
        self.refresher = refresher
        self.verify = verify
        self.chunk_size = chunk_size
        self.on_event = on_event
        self.sink = sink
        self.report = report
        self.lanes = WriteLanes(DOWNLOAD_WRITE_THREADS)
        """Threads that create, write, complete and rename ``.part`` files (see :mod:`.lanes`)."""
        self.parts_at_start: frozenset[str] = frozenset()
        """Names of the ``.part`` files in ``dest`` when the run began (see :meth:`download`)."""

    def file_path(self, name: str) -> str:
        """``dest/name`` as a string: no ``Path`` per file (pathlib interns every name it parses)."""
        return self._dest_prefix + name

    # -- outcomes --------------------------------------------------------------------
    def planned(self, total: int | None) -> None:
        if self.on_event is not None:
            self.on_event(PlannedEvent(total))

    async def finish(self, result: FileResult) -> None:
        self.report.add(result)
        if self.on_event is not None:
            self.on_event(FileFinished(result))
        if self.sink is not None:
            await self.sink(result)

    def _failed(self, job: Job, error: str, path: str | None = None) -> FileResult:
        error = redact(error)
        logger.info("download of %s failed: %s", job.image_id, error)
        self.manifest.failed(job.image_id, error, file=job.filename, path=path)
        return FileResult(job.image_id, "failed", None, 0, error, path)

    # -- tasks -----------------------------------------------------------------------
    async def produce(self, items: AsyncIterator[SourceItem], send: MemoryObjectSendStream[Job]) -> None:
        async with send:
            try:
                async for item in items:
                    if isinstance(item, Job):
                        if self.refresher is not None:
                            self.refresher.queued[item.image_id] = item
                        try:
                            send.send_nowait(item)  # no loop turn per job while there is room
                        except anyio.WouldBlock:
                            await send.send(item)
                    elif isinstance(item, Skip):
                        self._settle_skip(item)
                        await self.finish(
                            FileResult(item.image_id, "skipped", item.filename, item.size_bytes)
                        )
                    else:
                        await self._api_failure(item)
            finally:
                aclose = getattr(items, "aclose", None)
                if aclose is not None:
                    await aclose()

    def _settle_skip(self, item: Skip) -> None:
        """Finish the rename an interrupted run left (see :mod:`.manifest`), or drop a stale ``.part``."""
        part = self.file_path(item.filename + PART_SUFFIX)
        if item.from_part:
            finalize(part, self.file_path(item.filename))
            logger.info("renamed %s: its run was interrupted after recording it", item.filename)
        else:
            truncate_part(part)

    async def _api_failure(self, item: ApiFailure) -> None:
        self.manifest.failed(item.image_id, item.error, file=item.filename, path=item.path)
        await self.finish(FileResult(item.image_id, "failed", None, 0, item.error, item.path))

    async def work(self, receive: MemoryObjectReceiveStream[Job]) -> None:
        async with receive:
            while True:
                try:
                    job = receive.receive_nowait()  # the download itself yields to the loop
                except anyio.WouldBlock:
                    try:
                        job = await receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                if self.refresher is not None:
                    self.refresher.queued.pop(job.image_id, None)
                await self.finish(await self.download(job))

    # -- one file --------------------------------------------------------------------
    async def _refresh(self, job: Job, stale_url: str) -> tuple[str | None, FileResult | None]:
        assert self.refresher is not None
        refreshed = await self.refresher.refresh(job.image_id, stale_url)
        if refreshed.url is None:
            return None, self._failed(job, refreshed.error or "URL refresh failed", refreshed.path)
        return refreshed.url, None

    async def download(self, job: Job) -> FileResult:
        """Fetch one job to its final name, or record why not. Raises only DestinationError."""
        part = self.file_path(job.filename + PART_SUFFIX)
        url = job.url
        can_refresh = job.refreshable and self.refresher is not None
        state = _FileState()
        transient = 0
        attempts = 0
        integrity = 0
        proactive = 0
        expired_refreshed = False
        while True:
            if can_refresh and proactive < DOWNLOAD_PROACTIVE_REFRESHES and needs_refresh(url):
                proactive += 1
                new_url, failure = await self._refresh(job, url)
                if new_url is None:
                    assert failure is not None
                    return failure
                url = new_url
            if attempts == 0 and job.filename + PART_SUFFIX not in self.parts_at_start:
                # No .part was there when the run began, and only this job writes this name
                # (names are unique in a run): a first attempt starts at byte 0 without a stat.
                before_bytes = 0
            else:
                before_bytes = part_size(part)
            attempts += 1
            try:
                return await self._attempt(job, url, part, state, before_bytes)
            except _Transient as exc:
                # An attempt that grew the .part is progress (the next one resumes after it):
                # only attempts without progress count against DOWNLOAD_MAX_RETRIES.
                if part_size(part) <= before_bytes:
                    transient += 1
                if transient > DOWNLOAD_MAX_RETRIES or attempts >= DOWNLOAD_MAX_ATTEMPTS:
                    return self._failed(job, f"{exc} (gave up after {attempts} attempts)")
                logger.debug("retrying %s after: %s", job.image_id, exc)
                await anyio.sleep(jitter(backoff_delay(max(0, transient - 1))))
            except URLExpiredError as exc:
                if not can_refresh or expired_refreshed:
                    return self._failed(job, str(exc))
                expired_refreshed = True
                new_url, failure = await self._refresh(job, url)
                if new_url is None:
                    assert failure is not None
                    return failure
                url = new_url
            except IntegrityError as exc:
                truncate_part(part)
                integrity += 1
                if integrity > 1:
                    return self._failed(job, str(exc))
                logger.info("retrying %s after: %s", job.image_id, exc)
            except DestinationError:
                raise
            except DownloadError as exc:
                return self._failed(job, str(exc))

    async def _attempt(self, job: Job, url: str, part: str, state: _FileState, offset: int) -> FileResult:
        """One GET of ``url``, resuming after the ``offset`` bytes already in ``part``."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            async with self.session.get(yarl.URL(url, encoded=True), headers=headers) as resp:
                if resp.status in (200, 206):
                    return await self._receive(job, resp, part, offset, state)
                body = await resp.content.read(_ERROR_BODY_BYTES)
                status = resp.status
                if status == 416 and offset:
                    unsatisfied = _UNSATISFIED_RANGE.match(resp.headers.get("Content-Range", ""))
                    if unsatisfied and int(unsatisfied.group(1)) == offset and not self.verify:
                        # The .part already holds the whole object (a run killed before recording it).
                        return await self._complete(job, part, offset, state.etag)
                    truncate_part(part)
                    raise _Transient("the store refused the resume range; restarting from byte 0")
                text = storage_error_text(body) or resp.reason or ""
                if is_expired_response(status, body):
                    raise URLExpiredError(status, text or "Request has expired")
                if should_retry_status(status):
                    raise _Transient(f"storage answered HTTP {status}: {text}")
                raise StorageStatusError(status, text)
        except aiohttp.InvalidURL as exc:
            raise DownloadError(f"invalid storage URL: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Transient(f"storage connection failed: {type(exc).__name__}: {exc}") from exc

    async def _receive(
        self, job: Job, resp: aiohttp.ClientResponse, part: str, offset: int, state: _FileState
    ) -> FileResult:
        etag = resp.headers.get("ETag")
        start = 0
        if resp.status == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset or not offset:
                truncate_part(part)
                raise _Transient("the store sent an unexpected range; restarting from byte 0")
            if state.etag is not None and etag is not None and etag != state.etag:
                truncate_part(part)
                raise _Transient("the object changed while resuming; restarting from byte 0")
            total: int | None = int(match.group(3)) if match.group(3) != "*" else None
            start = offset
        else:
            total = resp.content_length
            if offset:
                logger.debug("store ignored Range for %s; restarting from byte 0", job.image_id)
        state.etag = etag
        expected_md5 = plain_md5(etag) if self.verify else None
        writer = PartWriter(
            part,
            offset=start,
            md5=expected_md5 is not None,
            flush_bytes=self.chunk_size,
            lanes=self.lanes,
        )
        on_event = self.on_event
        report = self.report
        image_id = job.image_id
        try:
            if not state.started:
                state.started = True
                if on_event is not None:
                    on_event(FileStarted(image_id, total, start))
            content = resp.content
            try:
                # The writer batches chunks up to chunk_size bytes per thread hop.
                async with contextlib.aclosing(_received_chunks(content, self.chunk_size)) as chunks:
                    async for chunk in chunks:
                        if writer.add(chunk):
                            await writer.flush()
                        report.bytes += len(chunk)
                        if on_event is not None:
                            on_event(BytesReceived(image_id, len(chunk)))
            except (aiohttp.ClientError, TimeoutError) as exc:
                await writer.finish()  # keep what arrived: the next attempt resumes after it
                raise _Transient(
                    f"connection lost after {writer.size} bytes: {type(exc).__name__}: {exc}"
                ) from exc
            size = writer.size
            if total is None or size == total:
                done = await writer.finish_then(
                    lambda: self._complete_sync(job, part, size, etag, expected_md5, writer)
                )
                if done is not None:
                    return done
            else:
                await writer.finish()
        finally:
            writer.close()
        size = writer.size
        if total is not None and size != total:
            if size > total:
                truncate_part(part)
            raise _Transient(f"truncated body: {size} of {total} bytes")
        if expected_md5 is not None and writer.md5_hex() != expected_md5:
            raise IntegrityError(f"MD5 mismatch for {image_id}: body does not match ETag {etag}")
        return await self._complete(job, part, size, etag)

    def _complete_sync(
        self,
        job: Job,
        part: str,
        size: int,
        etag: str | None,
        expected_md5: str | None,
        writer: PartWriter,
    ) -> FileResult | None:
        """In the writer's thread, right after the ``.part`` is closed: the common completion.

        Records ``ok`` and THEN renames (the order :meth:`_complete` documents), when the
        body checks out and nothing foreign is at the final name; else returns None and the
        event loop takes the general path (MD5 mismatch, a file already there).
        """
        if expected_md5 is not None and writer.md5_hex() != expected_md5:
            return None
        final = self.file_path(job.filename)
        if not job.owned and _lexists(final):
            return None
        self.manifest.ok(job.image_id, job.filename, size, etag)
        finalize(part, final)
        return FileResult(job.image_id, "ok", job.filename, size)

    async def _complete(self, job: Job, part: str, size: int, etag: str | None) -> FileResult:
        """Record a complete, checked ``.part`` as ``ok``, THEN give it its final name.

        In that order a run killed in between leaves an ``ok`` line and a ``.part`` of exactly
        the recorded size, which the next run renames without a byte of traffic (see
        :mod:`.manifest`). A file already at the final name that an earlier run did not record
        for this photo is never overwritten: identical content is adopted, else the photo
        gets the next free name.
        """
        final = self.file_path(job.filename)
        if not job.owned and _lexists(final):
            if await anyio.to_thread.run_sync(_same_regular_file, final, part):
                logger.info("%s is already on disk with the same content: kept", job.filename)
                self.manifest.ok(job.image_id, job.filename, size, etag)
                truncate_part(part)
                return FileResult(job.image_id, "ok", job.filename, size)
            taken = job.filename
            job.filename = self.planner.relocate(job)
            logger.warning(
                "%s already exists and is not from this download: photo %s is saved as %s instead",
                taken,
                job.image_id,
                job.filename,
            )
            moved = self.file_path(job.filename + PART_SUFFIX)
            finalize(part, moved)
            part, final = moved, self.file_path(job.filename)
        self.manifest.ok(job.image_id, job.filename, size, etag)
        finalize(part, final)
        return FileResult(job.image_id, "ok", job.filename, size)


async def _run(
    items_factory: Callable[[Planner, Callable[[int | None], None]], AsyncIterator[SourceItem]],
    dest: Path,
    *,
    refresher: UrlRefresher | None,
    concurrency: int,
    verify: bool,
    chunk_size: int,
    on_event: EventCallback | None,
    storage_session: aiohttp.ClientSession | None,
    sink: Sink | None,
    created_dest: bool = False,
) -> DownloadReport:
    """Run one download to completion; returns the report or raises the run's one fatal error.

    ``created_dest``: the caller made ``dest`` for this run; a run that fails (not one that is
    cancelled) before recording anything removes it again (see :func:`_undo_untouched_dest`).
    """
    try:
        lock = DestinationLock(dest)
        lock.acquire()
    except BaseException:
        if refresher is not None:
            refresher.close()
        raise
    try:
        with lock:
            return await _run_locked(
                items_factory,
                dest,
                refresher=refresher,
                concurrency=concurrency,
                verify=verify,
                chunk_size=chunk_size,
                on_event=on_event,
                storage_session=storage_session,
                sink=sink,
            )
    except Exception:  # a fatal error, not an interruption: Ctrl-C keeps the run's state as is
        if created_dest:
            _undo_untouched_dest(dest)
        raise


async def _run_locked(
    items_factory: Callable[[Planner, Callable[[int | None], None]], AsyncIterator[SourceItem]],
    dest: Path,
    *,
    refresher: UrlRefresher | None,
    concurrency: int,
    verify: bool,
    chunk_size: int,
    on_event: EventCallback | None,
    storage_session: aiohttp.ClientSession | None,
    sink: Sink | None,
) -> DownloadReport:
    started_s = time.monotonic()
    state = ManifestState.load(dest / MANIFEST_NAME)
    manifest = Manifest(dest)
    manifest.open()
    report = DownloadReport(manifest_path=str(manifest.path))
    session = storage_session if storage_session is not None else make_storage_session(concurrency)
    pool: _Pool | None = None
    try:
        planner = Planner(dest, state)
        parts_at_start = await anyio.to_thread.run_sync(_part_names, dest)
        pool = _Pool(
            dest=dest,
            session=session,
            manifest=manifest,
            refresher=refresher,
            verify=verify,
            chunk_size=chunk_size,
            on_event=on_event,
            sink=sink,
            report=report,
            planner=planner,
        )
        pool.parts_at_start = parts_at_start
        items = items_factory(planner, pool.planned)
        try:
            async with anyio.create_task_group() as outer:
                if refresher is not None:
                    outer.start_soon(refresher.run)
                async with anyio.create_task_group() as group:
                    send, receive = anyio.create_memory_object_stream[Job](DOWNLOAD_QUEUE_SIZE)
                    group.start_soon(pool.produce, items, send)
                    async with receive:
                        for _ in range(concurrency):
                            group.start_soon(pool.work, receive.clone())
                outer.cancel_scope.cancel()
        except Exception as group_error:
            single = _single_error(group_error)
            if single is None:
                raise
            raise single from None
    finally:
        if pool is not None:
            pool.lanes.close()  # every call was awaited to its end: the threads are idle
        manifest.close()
        if refresher is not None:
            refresher.close()
        if storage_session is None:
            with anyio.CancelScope(shield=True):
                await session.close()
    report.elapsed_s = time.monotonic() - started_s
    return report


def _prepare(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str],
    concurrency: int,
    chunk_size: int,
    bib: object,
    selfie: object,
    image_ids: object,
    whole_event: object,
) -> tuple[Selection, Path, bool]:
    _check_event_id(event_id)
    _check_options(concurrency, chunk_size)
    selection = make_selection(bib=bib, selfie=selfie, image_ids=image_ids, whole_event=whole_event)
    return (selection, *_make_dest(dest))


async def download_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str],
    *,
    bib: str | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_event: EventCallback | None = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    storage_session: aiohttp.ClientSession | None = None,
) -> DownloadReport:
    """Download the original photos of one selection into ``dest`` and return a report.

    Give exactly one of ``bib``, ``selfie`` (a Face Search request_id), ``image_ids`` or
    ``whole_event=True``. Reruns on the same ``dest`` skip completed files, resume ``.part``
    files and retry failures (see :mod:`.manifest`). Per-file failures are recorded, not
    raised; :class:`DestinationError` and API errors of the listing itself (auth, 404, ...)
    stop the run. Bad arguments raise :class:`RequestValidationError` before any request.
    """
    selection, dest_path, created = _prepare(
        client, event_id, dest, concurrency, chunk_size, bib, selfie, image_ids, whole_event
    )
    return await _run(
        lambda planner, on_total: iter_source(client, event_id, selection, planner, on_total),
        dest_path,
        refresher=UrlRefresher(client, event_id),
        concurrency=concurrency,
        verify=verify,
        chunk_size=chunk_size,
        on_event=on_event,
        storage_session=storage_session,
        sink=None,
        created_dest=created,
    )


async def iter_download_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str],
    *,
    bib: str | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_event: EventCallback | None = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    storage_session: aiohttp.ClientSession | None = None,
) -> AsyncGenerator[FileResult, None]:
    """Like :func:`download_originals`, yielding each :class:`FileResult` as it finishes.

    The pool runs in a helper task; leaving the loop early (``break``) cancels it, leaving
    ``.part`` files for a later resume. Wrap in ``contextlib.aclosing`` to stop it at once.
    """
    selection, dest_path, created = _prepare(
        client, event_id, dest, concurrency, chunk_size, bib, selfie, image_ids, whole_event
    )
    send, receive = anyio.create_memory_object_stream[FileResult](max(concurrency, DOWNLOAD_QUEUE_SIZE))

    async def runner() -> None:
        async with send:
            await _run(
                lambda planner, on_total: iter_source(client, event_id, selection, planner, on_total),
                dest_path,
                refresher=UrlRefresher(client, event_id),
                concurrency=concurrency,
                verify=verify,
                chunk_size=chunk_size,
                on_event=on_event,
                storage_session=storage_session,
                sink=send.send,
                created_dest=created,
            )

    task = asyncio.create_task(runner())
    try:
        async for result in receive:
            yield result
        await task
    finally:
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        receive.close()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio must not log it as unhandled


async def download_url_list(
    jobs: Iterable[UrlJob],
    dest: str | os.PathLike[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    on_event: EventCallback | None = None,
    verify: bool = False,
    storage_session: aiohttp.ClientSession | None = None,
) -> DownloadReport:
    """Download pre-resolved URLs (no API calls, no URL refresh) into ``dest``; used by benchmarks.

    Files, ``.part`` handling, retries, resume and the manifest work as in
    :func:`download_originals`; an expired URL is recorded as failed.
    """
    _check_options(concurrency, chunk_size)
    dest_path = prepare_dest(dest)
    return await _run(
        lambda planner, on_total: iter_url_jobs(jobs, planner),
        dest_path,
        refresher=None,
        concurrency=concurrency,
        verify=verify,
        chunk_size=chunk_size,
        on_event=on_event,
        storage_session=storage_session,
        sink=None,
    )


async def plan_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str] | None = None,
    *,
    bib: str | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
) -> AsyncGenerator[PlannedFile, None]:
    """Dry run: what :func:`download_originals` would do for each photo, writing nothing.

    With ``dest``, its manifest (read only) marks completed photos ``skip`` and fixes names.
    The API is still asked for URLs (that is how BIB and selfie selections are listed).
    """
    _check_event_id(event_id)
    selection = make_selection(bib=bib, selfie=selfie, image_ids=image_ids, whole_event=whole_event)
    dest_path = Path(dest) if dest is not None else None
    if dest_path is not None and dest_path.exists() and not dest_path.is_dir():
        raise DestinationError(f"destination {str(dest_path)!r} exists and is not a directory")
    state = ManifestState.load(dest_path / MANIFEST_NAME) if dest_path is not None else ManifestState()
    planner = Planner(dest_path, state)
    source = iter_source(client, event_id, selection, planner)
    try:
        async for item in source:
            if isinstance(item, Job):
                resume = part_size(dest_path / (item.filename + PART_SUFFIX)) if dest_path else 0
                yield PlannedFile(item.image_id, item.filename, "download", resume_from_bytes=resume)
            elif isinstance(item, Skip):
                yield PlannedFile(item.image_id, item.filename, "skip")
            else:
                yield PlannedFile(item.image_id, item.filename, "failed", error=item.error, path=item.path)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
