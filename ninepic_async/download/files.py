"""Writing one ``<name>.part`` file: open, write, hash, sync and close in few worker-thread hops.

Received chunks are collected until ``flush_bytes`` are pending, then written in ONE call that
also feeds the hashes: on the event loop's thread while such writes are fast
(:class:`~.lanes.LoopWrites`), else on a worker thread. The file is opened lazily inside the
first worker call and closed inside the last (:meth:`PartWriter.finish_then`), so a file that
fits in one batch costs one thread hop in all and no blocking open/close runs on the event loop.
Which thread runs a call is :meth:`~.lanes.WriteLanes.lane_for`'s rule.

Errors are sorted by reach (:func:`file_error`): a full disk, a read-only or vanished
destination is :class:`DestinationError` (the run stops); anything that concerns one name (a
directory or an immutable file there, a name the file system refuses) is
:class:`FileWriteError` (that photo fails or moves, the run goes on). :meth:`PartWriter.close`
is synchronous so cleanup also works in a cancelled task; :meth:`PartWriter.save` writes what
is pending first, so received bytes reach the ``.part`` before a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from collections.abc import Callable, Sequence
from typing import TypeVar, Union

import anyio

from .._exceptions import DestinationError, DownloadError, FileWriteError
from .integrity import BodyHashes, DigestName
from .lanes import WriteLanes

__all__ = [
    "Chunk",
    "PartWriter",
    "file_error",
    "finalize",
    "folders_are_real",
    "free_bytes",
    "make_folders",
    "part_size",
    "truncate_part",
]

_IOV_MAX = 1024
"""Buffers per ``writev`` call at most (Linux's IOV_MAX)."""

T = TypeVar("T")
StrPath = Union[str, "os.PathLike[str]"]
"""A path as a plain string (what the per-file hot path uses) or a ``Path``."""
Chunk = Union[bytes, memoryview]  # noqa: UP007 (a runtime alias on Python 3.10)
"""Received body bytes: a ``bytes`` from aiohttp, or a view into a socket's read buffer."""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""A symlink at a ``.part`` name fails the open (ELOOP) instead of redirecting the write."""

_WHOLE_DESTINATION_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.ENFILE, errno.EIO}
)
"""Errors no other name in the same directory would escape: they stop the run."""


def _directory_usable(directory: str) -> bool:
    return os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK)


def file_error(action: str, path: StrPath, exc: OSError) -> DownloadError:
    """``exc`` as :class:`DestinationError` when it concerns the whole destination, else
    :class:`FileWriteError` (it concerns this one name)."""
    reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
    message = f"cannot {action} {os.fspath(path)!r}: {reason}"
    if exc.errno in _WHOLE_DESTINATION_ERRNOS or not _directory_usable(os.path.dirname(os.fspath(path))):
        return DestinationError(message)
    return FileWriteError(message)


def part_size(path: StrPath) -> int:
    """Bytes already in a ``.part`` file (0 when there is none).

    Anything at that name that is not a regular file (a planted symlink, a FIFO) is removed,
    never followed: resuming into it would write outside the destination.
    """
    try:
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode):
            return info.st_size
        os.unlink(path)
        return 0
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise file_error("inspect", path, exc) from exc


def truncate_part(path: StrPath) -> None:
    """Drop a ``.part`` file (restart from byte 0)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise file_error("remove", path, exc) from exc


def finalize(part: StrPath, final: StrPath) -> None:
    """Give a complete ``.part`` its final name atomically."""
    try:
        os.replace(part, final)
    except OSError as exc:
        raise file_error("rename into", final, exc) from exc


def folders_are_real(dest: StrPath, name: str) -> bool:
    """Whether every folder of ``name`` (``/``-separated, relative to ``dest``) exists as a real
    directory (no symlink): only then is a path through them looked at or changed."""
    path = os.fspath(dest)
    for folder in name.split("/")[:-1]:
        path = os.path.join(path, folder)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        except OSError:
            return False
    return True


def make_folders(dest: str, name: str) -> None:
    """Create the folders of ``name`` (a ``/``-separated path relative to ``dest``) that are missing.

    Each must end up a real directory: a symlink, a file or anything else already at a folder's
    name is never followed nor replaced (:class:`FileWriteError`: this photo fails, others go on).
    """
    path = dest
    for folder in name.split("/")[:-1]:
        path = os.path.join(path, folder)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise file_error("create the folder", path, exc) from exc
        try:
            info = os.lstat(path)
        except OSError as exc:
            raise file_error("inspect the folder", path, exc) from exc
        if not stat.S_ISDIR(info.st_mode):
            raise FileWriteError(
                f"cannot use the folder {path!r}: something else (a file, a symlink) is there"
            )


def free_bytes(directory: StrPath) -> int | None:
    """Bytes an unprivileged writer may still use in ``directory``'s file system, or None if unknown."""
    try:
        info = os.statvfs(directory)
    except (OSError, AttributeError):
        return None
    return info.f_bavail * info.f_frsize


def _write_all(fd: int, chunks: Sequence[Chunk], hashes: BodyHashes | None) -> None:
    """Append every chunk (hashing it): one ``writev`` per batch (one syscall, one GIL release)."""
    if hashes is not None:
        for chunk in chunks:
            hashes.update(chunk)
    if len(chunks) == 1:
        pending: list[memoryview] = [memoryview(chunks[0])]
    else:
        pending = [memoryview(chunk) for chunk in chunks if chunk]
    while pending:
        batch = pending[:_IOV_MAX]
        written = os.writev(fd, batch) if len(batch) > 1 else os.write(fd, batch[0])
        # A short write (rare: a signal, a full disk) resumes after the bytes that went out.
        done = 0
        while done < len(batch) and written >= len(batch[done]):
            written -= len(batch[done])
            done += 1
        if done < len(batch):
            batch[done] = batch[done][written:]
        pending = batch[done:] + pending[len(batch) :]


def _open_part(path: str, offset: int, hashes: BodyHashes) -> int:
    """Create/truncate (offset 0) or append to ``path``, hashing the prefix it already holds."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _O_NOFOLLOW | (os.O_TRUNC if offset == 0 else 0)
    fd = os.open(path, flags, 0o644)
    try:
        if offset:
            actual = os.fstat(fd).st_size
            if actual > offset:
                os.ftruncate(fd, offset)
            elif actual < offset:
                raise OSError(errno.EIO, "partial file is shorter than expected")
            hashes.update_from_file(path, offset)
    except BaseException:
        os.close(fd)
        raise
    return fd


class PartWriter:
    """Appends to one ``.part`` file from byte ``offset`` (0 = start afresh), hashing every byte.

    Call :meth:`add` per received chunk and ``await`` :meth:`flush_behind` when it returns True;
    end with :meth:`finish_then` (writes the rest, syncs if asked, closes, then runs the
    completion in the same thread hop) or :meth:`save` (keep what arrived, for a resume).
    """

    def __init__(
        self,
        path: str,
        *,
        offset: int,
        md5: bool,
        flush_bytes: int,
        lanes: WriteLanes,
        fsync: bool = False,
        digest: DigestName = "crc32c",
        on_create: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self._lanes = lanes
        self.offset = offset
        self.size = offset
        """Bytes received so far, written or pending."""
        self._flush_bytes = max(1, flush_bytes)
        self._pending: list[Chunk] = []
        self._pending_bytes = 0
        self.hashes = BodyHashes(md5=md5, digest=digest)
        self._fsync = fsync
        self._on_create = on_create if offset == 0 else None
        """Called once, in the file thread, before a fresh ``.part`` first appears outside a completion."""
        self._fd: int | None = None
        self._behind: asyncio.Future[None] | None = None
        """The write :meth:`flush_behind` started, until it is awaited."""

    def add(self, chunk: Chunk) -> bool:
        """Queue ``chunk``; True when ``flush_bytes`` are pending (time to :meth:`flush_behind`)."""
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        self.size += len(chunk)
        return self._pending_bytes >= self._flush_bytes

    def _sync(self, chunks: Sequence[Chunk], close: bool, *, completing: bool = False) -> None:
        """In a worker thread: open if needed, write ``chunks`` (hashing them), close if asked."""
        if self._fd is None:
            if self._on_create is not None and not completing:
                on_create, self._on_create = self._on_create, None
                on_create()
            self._fd = _open_part(self.path, self.offset, self.hashes)
        if chunks:
            _write_all(self._fd, chunks, self.hashes)
        if close:
            fd, self._fd = self._fd, None
            try:
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)

    def _take(self) -> list[Chunk]:
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        return chunks

    async def _hop(self, close: bool) -> None:
        await self._drain()
        chunks = self._take()
        lane = self._lanes.lane_for(opens=self._fd is None, closes=close)
        try:
            await lane.run(lambda: self._sync(chunks, close))
        except OSError as exc:
            raise file_error("write", self.path, exc) from exc

    async def _drain(self) -> None:
        """Wait for the write :meth:`flush_behind` started (shielded: a stop lets it end first)."""
        behind = self._behind
        if behind is None:
            return
        try:
            await asyncio.shield(behind)
        except OSError as exc:
            raise file_error("write", self.path, exc) from exc
        finally:
            if behind.done():
                self._behind = None

    async def flush_behind(self) -> None:
        """Write every pending chunk: right here while the run's writes on the loop's thread are
        fast (:class:`~.lanes.LoopWrites`), else start the write on a thread and return while it
        is written (once the one started before has ended): the caller receives the next batch
        meanwhile, and must not touch these chunks' memory until its next flush, save or finish."""
        await self._drain()
        if self._pending:
            chunks = self._take()
            fd, on_loop = self._fd, self._lanes.on_loop
            if fd is not None and on_loop.allowed:
                try:
                    on_loop.run(lambda: _write_all(fd, chunks, self.hashes))
                except OSError as exc:
                    raise file_error("write", self.path, exc) from exc
                return
            lane = self._lanes.lane_for(opens=fd is None, closes=False)
            self._behind = lane.start(lambda: self._sync(chunks, False))

    async def save(self) -> None:
        """Write what is pending and close, even in a cancelled task: what arrived stays in the ``.part``."""
        if self._fd is None and not self._pending and self._behind is None:
            return
        with anyio.CancelScope(shield=True):
            await self._hop(True)

    async def finish_then(self, then: Callable[[], T]) -> T:
        """Write what is pending, sync, close, then run ``then()`` in the same worker thread hop."""
        await self._drain()
        chunks = self._take()

        def work() -> T:
            try:
                self._sync(chunks, True, completing=True)
            except OSError as exc:
                raise file_error("write", self.path, exc) from exc
            return then()

        return await self._lanes.lane_for(opens=True, closes=True).run(work)

    def close(self) -> None:
        """Close the file now; unflushed bytes are dropped (the file stays a valid prefix). A
        write still in flight (its caller was cancelled) closes the file when it ends."""
        self._pending = []
        behind = self._behind
        if behind is not None:
            if not behind.done():
                behind.add_done_callback(lambda _done: self.close())
                return
            self._behind = None
            if not behind.cancelled():
                behind.exception()  # seen: its error was raised, or the file is abandoned anyway
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
