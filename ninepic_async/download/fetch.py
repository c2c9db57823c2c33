"""One photo's fetch: attempt (one GET) → receive (stream into ``<name>.part``) → ONE completion.

The loop in :meth:`Fetcher.fetch` only asks the file's :class:`~.policy.FilePolicy` what to
do after a setback. What counts as complete is :mod:`.integrity`'s; the order of a
completion (``ok`` line FIRST, then the rename) is :mod:`.manifest`'s contract. The GET goes
out on a socket the event loop reads itself (:mod:`.socket_get`) when the run made its own
storage session and no proxy applies, through aiohttp otherwise; both feed one receive path.
Per file:

- a URL about to expire is renewed first; a 403 "expired" renews it once;
- connection errors, cut bodies, 5xx and bodies slower than the low-speed floor retry with
  backoff, resuming with ``Range: bytes=N-`` and ``If-Range: <ETag>`` (the ETag and size
  first announced are kept beside the ``.part`` as a ``partial`` manifest line);
- a body that is not the photo (bad range, error page, checksum) restarts from byte 0;
- a storage certificate error, a 4xx, an object larger than the free space fail at once.
Only :class:`DestinationError` leaves this module: everything else is that file's outcome.
"""

from __future__ import annotations

import contextlib
import filecmp
import logging
import os
import stat
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import yarl

from .._constants import DOWNLOAD_FULL_DISK_BYTES, DOWNLOAD_READ_BUFFER_BYTES, PART_SUFFIX
from .._exceptions import (
    DestinationError,
    DownloadError,
    FileWriteError,
    IntegrityError,
    StorageStatusError,
    URLExpiredError,
    redact,
)
from .._network import Network
from .bandwidth import TokenBucket
from .events import BytesReceived, EventCallback, FileRetrying, FileStarted
from .files import Chunk, PartWriter, finalize, free_bytes, make_folders, part_size, truncate_part
from .integrity import (
    Announced,
    NotAPhotoError,
    check_photo_headers,
    digest_name,
    file_digest,
    file_md5,
    plain_md5,
    range_of_206,
    unsatisfied_range_total,
)
from .lanes import WriteLanes
from .manifest import Manifest, ManifestState
from .options import DownloadOptions
from .policy import FilePolicy, GiveUp, Setback
from .report import DownloadReport, FileResult
from .socket_get import SocketGets, Unframed
from .sources import Job, Planner, Skip
from .stats import DownloadMonitor
from .storage_get import (
    ERROR_BODY_BYTES,
    MAX_RELOCATIONS,
    NETWORK_ERRORS,
    Failed,
    Transient,
    exchange_errors,
    refused,
    usable_url,
)
from .urls import UrlRefresher

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Fetcher"]

logger = logging.getLogger(__name__)

_GONE_STATUSES = frozenset({404, 410})
"""Store answers that say the object does not exist: a rerun will not fetch it."""


@dataclass(slots=True)
class _FileState:
    """What one file's attempts share: the object as first announced, whether FileStarted was sent."""

    announced: Announced | None = None
    started: bool = False


def _kind_at(path: str) -> str:
    """What is at ``path``, never following a link: ``absent``, ``regular``, ``directory`` or ``other``."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "other"
    if stat.S_ISREG(mode):
        return "regular"
    return "directory" if stat.S_ISDIR(mode) else "other"


def _same_regular_file(existing: str, part: str) -> bool:
    """Whether ``existing`` is a regular file (not a link) with exactly the bytes of ``part``."""
    try:
        if not stat.S_ISREG(os.lstat(existing).st_mode):
            return False
        return filecmp.cmp(existing, part, shallow=False)
    except OSError:
        return False


class _LowSpeed:
    """curl's ``--low-speed-limit``/``--low-speed-time``: too few bytes over a window aborts."""

    __slots__ = ("_bytes", "_limit", "_since", "_window")

    def __init__(self, limit_bps: float, window_s: float) -> None:
        self._limit, self._window = limit_bps, window_s
        self._since = time.monotonic()
        self._bytes = 0

    def add(self, n: int) -> None:
        """Count ``n`` received bytes; raise :class:`Transient` when the window ran slow."""
        self._bytes += n
        elapsed = time.monotonic() - self._since
        if elapsed >= self._window:
            if self._bytes < self._limit * elapsed:
                raise Transient(f"body slower than {self._limit:g} bytes/s over {self._window:g} s; resuming")
            self._since, self._bytes = time.monotonic(), 0

    def excuse(self, seconds: float) -> None:
        """Leave out ``seconds`` the run's own rate cap held this body back: not the network's slowness."""
        self._since += seconds


class _FreeSpace:
    """The destination's free space, read again (``statvfs``) only when it could matter: when a
    photo is large next to the last reading, or the photos since then add up to a quarter of it."""

    __slots__ = ("_dest", "_free", "_since")

    def __init__(self, dest: str) -> None:
        self._dest = dest
        self._free: int | None = None
        self._since = 0

    def short_for(self, need: int) -> int | None:
        """The free bytes when fewer than ``need`` are left, else None (also when unknown)."""
        if self._free is None or need > self._free // 2 or self._since > self._free // 4:
            self._free, self._since = free_bytes(self._dest), 0
        self._since += need
        return self._free if self._free is not None and need > self._free else None


class Fetcher:
    """Fetches the photos of one run, one :meth:`fetch` call per file (shared by all workers)."""

    def __init__(
        self,
        *,
        dest: str,
        session: Callable[[], aiohttp.ClientSession],
        read_timeout_s: float | None,
        manifest: Manifest,
        state: ManifestState,
        planner: Planner,
        refresher: UrlRefresher | None,
        lanes: WriteLanes,
        report: DownloadReport,
        options: DownloadOptions,
        parts_at_start: frozenset[str],
        network: Network | None = None,
        monitor: DownloadMonitor | None = None,
        sockets: SocketGets | None = None,
    ) -> None:
        self._network = network or Network()
        self._sockets = sockets
        self._bucket = TokenBucket(options.limit_rate_bps) if options.limit_rate_bps else None
        self._prefix = os.path.join(dest, "")
        self._dest = dest
        self._session = session
        self._manifest = manifest
        self._state = state
        self._planner = planner
        self._refresher = refresher
        self._lanes = lanes
        self._report = report
        self._options = options
        self._on_event: EventCallback | None = options.on_event
        self._parts_at_start = parts_at_start
        self._folders_made: set[str] = set()
        """Template folders this run made or found to be real directories (checked once each)."""
        self._monitor = monitor or DownloadMonitor()
        self._free_space = _FreeSpace(dest)
        # A body that stops altogether is cut after the low-speed window, not the idle timeout.
        if options.low_speed_limit_bps and (
            read_timeout_s is None or options.low_speed_time_s < read_timeout_s
        ):
            read_timeout_s = options.low_speed_time_s
        self._read_timeout_s = read_timeout_s
        self._aiohttp: tuple[aiohttp.ClientSession, aiohttp.ClientTimeout] | None = None

    def _aiohttp_session(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientTimeout]:
        """The run's aiohttp session and its GETs' timeout (read timeout as above), both made on
        the first GET that needs them."""
        if self._aiohttp is None:
            session = self._session()
            timeout = session.timeout
            if timeout.sock_read != self._read_timeout_s:
                import aiohttp

                timeout = aiohttp.ClientTimeout(
                    total=timeout.total,
                    connect=timeout.connect,
                    sock_connect=timeout.sock_connect,
                    sock_read=self._read_timeout_s,
                )
            self._aiohttp = (session, timeout)
        return self._aiohttp

    def _path(self, name: str) -> str:
        """``dest/name`` as a string: no ``Path`` per file (pathlib interns every name it parses)."""
        return self._prefix + name

    def _failed(
        self, job: Job | Skip, error: str, path: str | None = None, *, retryable: bool = True
    ) -> FileResult:
        error = redact(error)
        logger.info("download of %s failed: %s", job.image_id, error)
        self._manifest.failed(job.image_id, error, file=job.filename, path=path)
        return FileResult(job.image_id, "failed", None, 0, error, path, retryable=retryable)

    # -- files already on disk ------------------------------------------------------------
    async def settle_skip(self, skip: Skip) -> FileResult:
        """A photo an earlier run completed: finish its interrupted rename, and with ``verify`` (or
        when no ``synced`` line vouches for its bytes) re-hash the file first; a changed file is
        fetched again under its name."""
        verified: bool | None = None
        if self._options.verify or skip.recheck:
            intact = await self._lanes.data.run(lambda: self._still_intact(skip))
            if self._options.verify:
                verified = intact is True  # None: nothing recorded to check against (unverified)
            if intact is False:
                logger.warning(
                    "%s is not the file recorded for photo %s: fetching it again",
                    skip.filename,
                    skip.image_id,
                )
                return await self.fetch(self._planner.refetch(skip))
        part = self._path(skip.filename + PART_SUFFIX)
        try:
            if skip.from_part:
                if "/" in skip.filename:  # never a rename through a folder swapped for a symlink
                    await self._lanes.meta.run(lambda: make_folders(self._dest, skip.filename))
                await self._lanes.meta.run(lambda: finalize(part, self._path(skip.filename)))
                logger.info("renamed %s: its run was interrupted after recording it", skip.filename)
            elif skip.filename + PART_SUFFIX in self._parts_at_start:
                truncate_part(part)
        except FileWriteError as exc:
            return self._failed(skip, str(exc))
        return FileResult(skip.image_id, "skipped", skip.filename, skip.size_bytes, verified=verified)

    def _still_intact(self, skip: Skip) -> bool | None:
        """In a thread: whether the file on disk has the recorded digest (or the ETag's MD5);
        None when the manifest recorded neither (an older line with a multipart ETag)."""
        path = self._path(skip.filename + PART_SUFFIX if skip.from_part else skip.filename)
        digest, etag = self._state.digests(skip.image_id)
        name = digest_name(digest) if digest else None
        md5 = plain_md5(etag)
        if name is None and md5 is None:
            return None
        try:
            if digest is not None and name is not None:
                return file_digest(path, name) == (digest, skip.size_bytes)
            return file_md5(path)[0] == md5
        except OSError:
            return False

    # -- one file ---------------------------------------------------------------------------
    async def fetch(self, job: Job) -> FileResult:
        """Fetch ``job`` to its final name, or record why not. Raises only DestinationError."""
        folder = job.filename.rpartition("/")[0]
        if folder and folder not in self._folders_made:  # a name template's folders
            try:
                await self._lanes.meta.run(lambda: make_folders(self._dest, job.filename))
            except FileWriteError as exc:
                return self._failed(job, str(exc))
            self._folders_made.add(folder)
        part = self._path(job.filename + PART_SUFFIX)
        url = job.url
        can_refresh = job.refreshable and self._refresher is not None
        policy: FilePolicy = self._options.policy
        state = _FileState()
        if job.filename + PART_SUFFIX in self._parts_at_start:
            state.announced = self._state.announced(job.image_id)
        first = True
        while True:
            setback: Setback
            try:
                url, policy = await usable_url(self._refresher, job, url, policy)
                offset = self._resume_offset(job, part, state, first)
                first = False
                return await self._attempt(job, url, part, offset, state)
            except Transient as exc:
                error = str(exc)
                setback = "progress" if part_size(part) > offset else "transient"
            except URLExpiredError as exc:
                if not can_refresh:
                    return self._failed(job, str(exc))
                error, setback = str(exc), "expired_refresh"
                url = None
            except IntegrityError as exc:
                truncate_part(part)
                state.announced = None
                error, setback = str(exc), "integrity"
            except Failed as exc:
                return self._failed(job, str(exc))
            except GiveUp as exc:
                return self._failed(job, str(exc))
            except DestinationError:
                raise
            except StorageStatusError as exc:
                return self._failed(job, str(exc), retryable=exc.status not in _GONE_STATUSES)
            except DownloadError as exc:
                return self._failed(job, str(exc))
            try:
                policy = policy.increment(setback)
            except GiveUp as exc:
                return self._failed(job, f"{error} ({exc})")
            delay_s = policy.backoff_s()
            self._retrying(job, setback, error, delay_s)
            logger.debug("retrying %s after: %s", job.image_id, error)
            await anyio.sleep(delay_s)

    def _retrying(self, job: Job, reason: Setback, error: str, delay_s: float) -> None:
        self._monitor.retries[reason] += 1
        if self._on_event is not None:
            self._on_event(FileRetrying(job.image_id, reason, redact(error), delay_s))

    def _resume_offset(self, job: Job, part: str, state: _FileState, first: bool) -> int:
        """Bytes of ``part`` to resume after: 0 unless the object they came from is known (its
        ETag, for ``If-Range``, and its size)."""
        if first and job.filename + PART_SUFFIX not in self._parts_at_start:
            # No .part was there when the run began, and only this job writes this name.
            return 0
        size = part_size(part)
        announced = state.announced
        if size and (announced is None or announced.etag is None or announced.size is None):
            truncate_part(part)  # bytes of an unknown object version: never spliced
            return 0
        return size

    async def _attempt(self, job: Job, url: str, part: str, offset: int, state: _FileState) -> FileResult:
        """One GET of ``url``, resuming after the ``offset`` bytes already in ``part``: on a socket
        the loop reads directly when it can (:mod:`.socket_get`), else through aiohttp."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            assert state.announced is not None and state.announced.etag is not None
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = state.announced.etag
        target = yarl.URL(url, encoded=True)
        sockets = self._sockets
        if sockets is not None and sockets.serves(target) and self._network.proxy_for(target) is None:
            try:
                return await self._attempt_on_socket(sockets, job, url, target, headers, part, offset, state)
            except Unframed as exc:
                logger.debug("%s: %s; this host's GETs go through aiohttp", target.host, exc)
        from . import aiohttp_get

        session, timeout = self._aiohttp_session()
        with aiohttp_get.exchange_errors(target):
            async with session.get(
                target,
                headers=headers,
                timeout=timeout,
                proxy=self._network.proxy_for(target),
                ssl=self._network.ssl,  # True: the session's own (a caller's session keeps its setting)
            ) as resp:
                if resp.status in (200, 206):
                    body = aiohttp_get.received_chunks(resp.content, self._options.chunk_size)
                    return await self._receive(
                        job,
                        url,
                        resp.status,
                        resp.headers,
                        resp.content_length,
                        body,
                        part,
                        offset,
                        state,
                        cut_by=aiohttp_get.NETWORK_ERRORS,
                    )
                error = await resp.content.read(ERROR_BODY_BYTES)
                return await self._refused(
                    job, resp.status, error, resp.reason, resp.headers, part, offset, state
                )

    async def _attempt_on_socket(
        self,
        sockets: SocketGets,
        job: Job,
        url: str,
        target: yarl.URL,
        headers: dict[str, str],
        part: str,
        offset: int,
        state: _FileState,
    ) -> FileResult:
        with exchange_errors(target):
            answer = await sockets.get(target, headers, read_timeout_s=self._read_timeout_s)
            try:
                if answer.status in (200, 206):
                    piece = DOWNLOAD_READ_BUFFER_BYTES if self._bucket is not None else None
                    body = answer.chunks(self._options.chunk_size, piece_bytes=piece)
                    status, headers_in, length = answer.status, answer.headers, answer.content_length
                    result = await self._receive(
                        job, url, status, headers_in, length, body, part, offset, state, cut_by=NETWORK_ERRORS
                    )
                else:
                    error = await answer.error_body(ERROR_BODY_BYTES)
                    result = await self._refused(
                        job, answer.status, error, answer.reason, answer.headers, part, offset, state
                    )
            except BaseException:
                # Never reused: a write cut short by a stop may still read the connection's buffers.
                sockets.discard(answer)
                raise
        sockets.release(answer)
        return result

    async def _refused(
        self,
        job: Job,
        status: int,
        body: bytes,
        reason: str | None,
        headers: Mapping[str, str],
        part: str,
        offset: int,
        state: _FileState,
    ) -> FileResult:
        """A GET answered with neither 200 nor 206: a resume of a ``.part`` already whole (416), or
        the error :func:`~.storage_get.refused` says it is."""
        if status == 416 and offset:
            total = unsatisfied_range_total(headers.get("Content-Range", ""))
            announced = state.announced
            if total == offset and announced is not None and announced.size == offset:
                # The .part already holds the whole object (a run killed before recording it).
                return await self._complete_part(job, part, offset, announced.etag)
            truncate_part(part)
            state.announced = None
            raise Transient("the store refused the resume range; restarting from byte 0")
        raise refused(status, body, reason)

    def _persist(self, job: Job, state: _FileState) -> None:
        """Keep what the object announced beside its ``.part`` (a ``partial`` line), so a later run
        can resume it with ``If-Range``; called as a fresh ``.part`` first reaches the disk."""
        announced = state.announced
        if announced is not None and announced.size is not None and announced.etag is not None:
            self._manifest.partial(job.image_id, job.filename, announced)

    async def _receive(
        self,
        job: Job,
        url: str,
        status: int,
        headers: Mapping[str, str],
        content_length: int | None,
        body: AsyncGenerator[Chunk, None],
        part: str,
        offset: int,
        state: _FileState,
        *,
        cut_by: tuple[type[Exception], ...],
    ) -> FileResult:
        """Stream a 200/206 answer's ``body`` into ``part`` and complete the photo when it is whole;
        ``cut_by`` are the errors of its transport that cut a body short (the next attempt resumes)."""
        etag = headers.get("ETag")
        check_photo_headers(headers)
        if status == 206:
            if not offset:
                raise NotAPhotoError("the store answered 206 to a request without Range")
            total: int | None = range_of_206(headers.get("Content-Range", ""), offset)
            assert total is not None and state.announced is not None
            state.announced.check_total(total)
            state.announced.check_etag(etag)
            start = offset
        else:
            if offset:
                logger.debug("the store sent %s whole (object changed or Range ignored)", job.image_id)
            total = content_length
            state.announced = Announced(total, etag)
            start = 0
        if total is not None:
            if total == 0:
                raise NotAPhotoError("the store answered with an empty body")
            free = self._free_space.short_for(total - start)
            if free is not None:
                if free < DOWNLOAD_FULL_DISK_BYTES:
                    raise DestinationError(f"disk full: {free} bytes free in {self._dest!r}")
                raise Failed(f"the photo needs {total - start} bytes and the destination has {free} free")
        expected_md5 = plain_md5(etag) if self._options.verify else None
        writer = PartWriter(
            part,
            offset=start,
            md5=expected_md5 is not None,
            flush_bytes=self._options.chunk_size,
            lanes=self._lanes,
            fsync=self._options.fsync,
            digest=self._options.digest,
            on_create=lambda: self._persist(job, state),
        )
        image_id = job.image_id
        on_event = self._on_event
        report = self._report
        bucket = self._bucket
        if not state.started:
            state.started = True
            self._monitor.bytes_resumed += start
            if on_event is not None:
                on_event(FileStarted(image_id, total, start))
        low_speed = (
            _LowSpeed(self._options.low_speed_limit_bps, self._options.low_speed_time_s)
            if self._options.low_speed_limit_bps
            else None
        )
        try:
            try:
                async with contextlib.aclosing(body) as chunks:
                    async for chunk in chunks:
                        # A complete body's last batch is written by the completion's thread hop.
                        if writer.add(chunk) and writer.size != total:
                            await writer.flush_behind()  # written while the next batch arrives
                        report.bytes += len(chunk)
                        if on_event is not None:
                            on_event(BytesReceived(image_id, len(chunk)))
                        if bucket is not None:
                            held_s = await bucket.pay(len(chunk))
                            if held_s and low_speed is not None:
                                low_speed.excuse(held_s)
                        if low_speed is not None:
                            low_speed.add(len(chunk))
            except cut_by as exc:
                await writer.save()  # keep what arrived: the next attempt resumes after it
                raise Transient(
                    f"connection lost after {writer.size} bytes: {type(exc).__name__}: {exc}"
                ) from exc
            except BaseException:
                await writer.save()  # a stop (or a slow body) keeps every received byte in the .part
                raise
            size = writer.size
            if total is None:
                total = await self._confirm_size(job, url, headers, state, size, writer, expected_md5)
            if size != total:
                await writer.save()
                if size > total:
                    truncate_part(part)
                    state.announced = None
                raise Transient(f"truncated body: {size} of {total} bytes")

            def check_and_complete() -> tuple[FileResult | None, str]:
                digest = writer.hashes.label()
                if expected_md5 is not None and writer.hashes.md5.hexdigest() != expected_md5:
                    raise IntegrityError(f"MD5 mismatch for {image_id}: body does not match ETag {etag}")
                return self._complete(job, part, size, etag, digest), digest

            done, digest = await writer.finish_then(check_and_complete)
        finally:
            writer.close()
        return await self._settle(job, part, size, etag, digest, done)

    async def _confirm_size(
        self,
        job: Job,
        url: str,
        headers: Mapping[str, str],
        state: _FileState,
        size: int,
        writer: PartWriter,
        expected_md5: str | None,
    ) -> int:
        """The size of a body sent without a length: proven by an MD5 ETag, chunked framing or a
        one-byte ranged probe; a body nothing can prove is not kept."""
        if size == 0:
            raise NotAPhotoError("the store answered with an empty body")
        if expected_md5 is not None:
            return size  # the MD5 check in the completion proves it (or restarts)
        from .aiohttp_get import probe_size

        session, timeout = self._aiohttp_session()
        probed = await probe_size(
            session, self._network, url, state.announced.etag if state.announced else None, timeout
        )
        if probed is not None:
            state.announced = Announced(probed, state.announced.etag if state.announced else None)
            self._persist(job, state)
            return probed
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return size  # the chunked framing's last chunk arrived: aiohttp checked it
        await writer.save()
        truncate_part(writer.path)
        raise Failed("the store sent no length for the photo and would not confirm its size")

    async def _complete_part(self, job: Job, part: str, size: int, etag: str | None) -> FileResult:
        """Complete a ``.part`` that already holds the whole object: hash it, check it, record it."""
        expected_md5 = plain_md5(etag) if self._options.verify else None

        def hash_and_complete() -> tuple[FileResult | None, str]:
            digest, actual = file_digest(part, self._options.digest)
            if actual != size:
                raise OSError("partial file changed size while hashing")
            if expected_md5 is not None and file_md5(part)[0] != expected_md5:
                raise IntegrityError(f"MD5 mismatch for {job.image_id}: body does not match ETag {etag}")
            return self._complete(job, part, size, etag, digest), digest

        try:
            done, digest = await self._lanes.meta.run(hash_and_complete)
        except OSError as exc:
            raise Transient(f"cannot read back {part!r}: {exc}") from exc
        return await self._settle(job, part, size, etag, digest, done)

    # -- completion -------------------------------------------------------------------------
    def _complete(self, job: Job, part: str, size: int, etag: str | None, digest: str) -> FileResult | None:
        """THE completion, in the file thread: record a complete, checked ``.part`` as ``ok``, THEN
        give it its final name (the order :mod:`.manifest` documents).

        A file already at the final name that an earlier run did not record for this photo is
        never overwritten: identical content is adopted. Returns None when the photo needs
        another name (foreign content there, a directory, a rename the name refuses).
        """
        final = self._path(job.filename)
        there = _kind_at(final)
        if there == "directory":
            return None
        if there != "absent" and not job.owned:
            if not _same_regular_file(final, part):
                return None
            logger.info("%s is already on disk with the same content: kept", job.filename)
            self._manifest.ok(job.image_id, job.filename, size, etag, digest)
            truncate_part(part)
        else:
            self._manifest.ok(job.image_id, job.filename, size, etag, digest)
            try:
                finalize(part, final)
            except FileWriteError as exc:
                logger.warning("%s", exc)
                return None
        verified = None
        if self._options.verify:
            verified = plain_md5(etag) is not None
        return FileResult(job.image_id, "ok", job.filename, size, verified=verified)

    async def _settle(
        self, job: Job, part: str, size: int, etag: str | None, digest: str, done: FileResult | None
    ) -> FileResult:
        """The completion's result; when the name was unusable, the photo moves to the next free
        name (the allocator lives on the event loop) and the completion runs again there."""
        for _ in range(MAX_RELOCATIONS):
            if done is not None:
                return done
            taken = job.filename
            job.filename = self._planner.relocate(job)
            job.owned = False
            logger.warning(
                "%s cannot hold photo %s: it is saved as %s instead", taken, job.image_id, job.filename
            )
            moved = self._path(job.filename + PART_SUFFIX)
            await self._lanes.meta.run(lambda old=part, new=moved: finalize(old, new))  # type: ignore[misc]
            part = moved
            done = await self._lanes.meta.run(lambda part=part: self._complete(job, part, size, etag, digest))  # type: ignore[misc]
        if done is not None:
            return done
        raise Failed(f"no usable name for photo {job.image_id} after {MAX_RELOCATIONS} tries")
