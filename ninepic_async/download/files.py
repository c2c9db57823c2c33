"""Writing one ``<name>.part`` file: open, write, hash and close in few worker-thread hops.

Received chunks are collected until ``flush_bytes`` are pending, then written in ONE worker
thread call that also feeds the MD5 (hashlib releases the GIL for large buffers). The file is
opened lazily inside the first such call and closed inside the last (:meth:`PartWriter.finish`),
so a file that fits in one batch costs one thread hop in all and no blocking open/close runs on
the event loop. With :class:`~.lanes.WriteLanes` the calls that create or close (and rename) a
file go to the single ``meta`` thread and the writes in between to the ``data`` threads (see
:mod:`.lanes`). Every ``OSError`` of the destination becomes
:class:`DestinationError`; :meth:`PartWriter.close` is synchronous so cleanup also works in a
cancelled task. Pending bytes that were never written are simply dropped: the ``.part`` file
is always a prefix of the object.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Callable
from typing import Any, TypeVar, Union

from .._exceptions import DestinationError
from .lanes import WriteLanes

__all__ = ["PartWriter", "finalize", "part_size", "truncate_part"]

_HASH_READ_BYTES = 1024 * 1024
_IOV_MAX = 1024
"""Buffers per ``writev`` call at most (Linux's IOV_MAX)."""

T = TypeVar("T")
StrPath = Union[str, "os.PathLike[str]"]
"""A path as a plain string (what the per-file hot path uses) or a ``Path``."""


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""A symlink at a ``.part`` name fails the open (ELOOP) instead of redirecting the write."""


def _destination_error(action: str, path: StrPath, exc: OSError) -> DestinationError:
    reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
    return DestinationError(f"cannot {action} {str(path)!r}: {reason}")


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
        raise _destination_error("inspect", path, exc) from exc


def truncate_part(path: StrPath) -> None:
    """Drop a ``.part`` file (restart from byte 0)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _destination_error("remove", path, exc) from exc


def finalize(part: StrPath, final: StrPath) -> None:
    """Give a complete ``.part`` its final name atomically."""
    try:
        os.replace(part, final)
    except OSError as exc:
        raise _destination_error("rename into", final, exc) from exc


def _write_all(fd: int, chunks: list[bytes], hasher: Any) -> None:
    """Append every chunk: one ``writev`` per batch (one syscall, one GIL release), not one per chunk."""
    if hasher is not None:
        for chunk in chunks:
            hasher.update(chunk)
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


def _hash_prefix(path: StrPath, length: int, hasher: Any) -> None:
    with open(path, "rb") as handle:
        remaining = length
        while remaining > 0:
            block = handle.read(min(_HASH_READ_BYTES, remaining))
            if not block:
                raise OSError(errno.EIO, "partial file shrank while hashing")
            hasher.update(block)
            remaining -= len(block)


def _open_part(path: StrPath, offset: int, hasher: Any) -> int:
    """Create/truncate (offset 0) or append to ``path``; hash its prefix when verifying."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _O_NOFOLLOW | (os.O_TRUNC if offset == 0 else 0)
    fd = os.open(path, flags, 0o644)
    try:
        if offset:
            actual = os.fstat(fd).st_size
            if actual > offset:
                os.ftruncate(fd, offset)
            elif actual < offset:
                raise OSError(errno.EIO, "partial file is shorter than expected")
            if hasher is not None:
                _hash_prefix(path, offset, hasher)
    except BaseException:
        os.close(fd)
        raise
    return fd


class PartWriter:
    """Appends to one ``.part`` file from byte ``offset`` (0 = start afresh).

    Call :meth:`add` per received chunk and ``await`` :meth:`flush` when it returns True;
    end with :meth:`finish` (writes the rest and closes, creating the file even if empty).
    """

    def __init__(
        self,
        path: StrPath,
        *,
        offset: int,
        md5: bool,
        flush_bytes: int,
        lanes: WriteLanes,
    ) -> None:
        self.path = path
        self._lanes = lanes
        self.offset = offset
        self.size = offset
        """Bytes received so far, written or pending."""
        self._flush_bytes = max(1, flush_bytes)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hasher: Any = hashlib.md5(usedforsecurity=False) if md5 else None
        self._fd: int | None = None

    def add(self, chunk: bytes) -> bool:
        """Queue ``chunk``; True when ``flush_bytes`` are pending (time to :meth:`flush`)."""
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        self.size += len(chunk)
        return self._pending_bytes >= self._flush_bytes

    async def write(self, chunk: bytes) -> None:
        """Queue ``chunk``; writes the batch once ``flush_bytes`` are pending."""
        if self.add(chunk):
            await self.flush()

    def _sync(self, chunks: list[bytes], close: bool) -> None:
        """In a worker thread: open if needed, write ``chunks`` (hashing them), close if asked."""
        if self._fd is None:
            self._fd = _open_part(self.path, self.offset, self._hasher)
        if chunks:
            _write_all(self._fd, chunks, self._hasher)
        if close:
            fd, self._fd = self._fd, None
            os.close(fd)

    async def _in_thread(self, fn: Callable[[], T], *, meta: bool) -> T:
        """``fn()`` in a worker thread: the lanes' ``meta`` one when it creates or closes the file."""
        lanes = self._lanes
        return await (lanes.meta if meta or self._fd is None else lanes.data).run(fn)

    async def _hop(self, close: bool) -> None:
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        try:
            await self._in_thread(lambda: self._sync(chunks, close), meta=close)
        except OSError as exc:
            raise _destination_error("write", self.path, exc) from exc

    async def flush(self) -> None:
        """Write every pending chunk (one thread hop; opens the file on the first)."""
        if self._pending:
            await self._hop(False)

    async def finish(self) -> None:
        """Write what is pending and close the file, in one thread hop."""
        await self._hop(True)

    async def finish_then(self, then: Callable[[], T]) -> T:
        """Like :meth:`finish`, then run ``then()`` in the same worker thread hop."""
        chunks, self._pending, self._pending_bytes = self._pending, [], 0

        def work() -> T:
            try:
                self._sync(chunks, True)
            except OSError as exc:
                raise _destination_error("write", self.path, exc) from exc
            return then()

        return await self._in_thread(work, meta=True)

    def md5_hex(self) -> str | None:
        """MD5 of everything written (call after :meth:`finish`), when hashing."""
        return self._hasher.hexdigest() if self._hasher is not None else None

    def close(self) -> None:
        """Close the file now; unflushed bytes are dropped (the file stays a valid prefix)."""
        self._pending = []
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    async def aclose(self) -> None:
        """Flush, then close; errors become :class:`DestinationError`."""
        try:
            await self.finish()
        finally:
            self.close()
