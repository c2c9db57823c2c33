"""One run per destination: an exclusive, non-blocking ``fcntl.flock`` on the destination directory.

Two runs sharing a destination would allocate the same names and append to the same
``.part`` files, so the second run fails fast with :class:`DestinationError` naming the
holder (pid, host and start time are written into ``<dest>/.ninepic.lock``, for that message
only). The lock is the directory's own, so deleting, replacing or hard-linking that file
changes nothing. The kernel drops the lock when its holder dies (even by SIGKILL), so nothing
stale ever blocks a rerun. Where ``fcntl`` is missing (Windows) runs are not locked.

Shards (``--shard K/N``) of one destination run at once: each takes the directory's lock
SHARED (so an unsharded run, which takes it exclusively, waits for none of them and none of
them for it), then ``<dest>/.ninepic.lock.K-of-N`` exclusively (one run per shard) and
``<dest>/.ninepic.lock.of-N`` shared, and fails if any other count's ``.ninepic.lock.of-M``
is held (shards of different counts overlap). Those files stay in place: a file that is
unlinked while others wait on it would let two runs hold "the same" lock.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import time
from pathlib import Path
from types import TracebackType

from .._constants import LOCK_NAME
from .._exceptions import DestinationError
from .shard import Shard

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DestinationLock"]

logger = logging.getLogger(__name__)

_HOLDER_BYTES = 512


class DestinationLock:
    """The lock of one destination directory; use as a context manager or acquire()/release()."""

    def __init__(self, dest: Path, shard: Shard | None = None) -> None:
        self.path = dest / LOCK_NAME
        self.shard = shard
        self._fd: int | None = None
        self._shard_fds: list[int] = []

    def __enter__(self) -> DestinationLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _holder(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                text = handle.read(_HOLDER_BYTES).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        if not text and any(self.path.parent.glob(f"{LOCK_NAME}.*-of-*")):
            return "shards of a --shard run, or a run that has not written its details"
        return text or "a process that has not written its details"

    def acquire(self) -> None:
        """Take the lock or raise :class:`DestinationError` (held by another run, or unusable)."""
        if fcntl is None or self._fd is not None:  # pragma: no cover - Windows / re-entry
            return
        directory = self.path.parent
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise DestinationError(
                f"cannot open the destination {str(directory)!r}: {exc.strerror or exc}"
            ) from exc
        mode = fcntl.LOCK_SH if self.shard is not None else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DestinationError(
                    f"another download is already running in {str(directory)!r} "
                    f"({self._holder()}); wait for it to finish or stop it"
                ) from None
            raise DestinationError(f"cannot lock {str(directory)!r}: {exc.strerror or exc}") from exc
        self._fd = fd
        if self.shard is not None:
            try:
                self._lock_shard(self.shard)
            except BaseException:
                self.release()
                raise
            return
        info = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        try:  # details for a second run's message only: the lock is the directory's flock
            with open(self.path, "w", encoding="utf-8") as handle:
                handle.write(info)
        except OSError as exc:
            logger.debug("could not write the holder into %s: %s", self.path, exc)

    def release(self) -> None:
        """Remove the holder details (while still holding the lock), then unlock."""
        for shard_fd in self._shard_fds:
            with contextlib.suppress(OSError):
                os.close(shard_fd)
        self._shard_fds = []
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self.shard is None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _lock_file(self, name: str, mode: int) -> int | None:
        """Lock ``<dest>/name`` (created if missing) with ``mode``; its descriptor, or None when
        another process holds it in a conflicting mode."""
        assert fcntl is not None
        path = self.path.parent / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise DestinationError(f"cannot open the lock {str(path)!r}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise DestinationError(f"cannot lock {str(path)!r}: {exc.strerror or exc}") from exc
        return fd

    def _lock_shard(self, shard: Shard) -> None:
        assert fcntl is not None
        directory = str(self.path.parent)
        own_name = f"{LOCK_NAME}.{shard.index}-of-{shard.count}"
        own = self._lock_file(own_name, fcntl.LOCK_EX)
        if own is None:
            try:
                with open(self.path.parent / own_name, "rb") as handle:
                    holder = handle.read(_HOLDER_BYTES).decode("utf-8", "replace").strip()
            except OSError:
                holder = ""
            raise DestinationError(
                f"shard {shard} is already being downloaded into {directory!r} "
                f"({holder or 'a run that has not written its details'}); wait for it to finish or stop it"
            )
        self._shard_fds.append(own)
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        info = f"shard {shard}: pid {os.getpid()} on {socket.gethostname()} since {since}\n"
        with contextlib.suppress(OSError):
            os.ftruncate(own, 0)
            os.pwrite(own, info.encode(), 0)
        count = self._lock_file(f"{LOCK_NAME}.of-{shard.count}", fcntl.LOCK_SH)
        if count is None:  # pragma: no cover - only held exclusively for an instant, by the check below
            raise DestinationError(f"shards of another count are starting in {directory!r}; try again")
        self._shard_fds.append(count)
        pattern = re.compile(re.escape(LOCK_NAME) + r"\.of-(\d+)")
        with os.scandir(directory) as entries:
            counts = [int(m.group(1)) for e in entries if (m := pattern.fullmatch(e.name))]
        for other in counts:
            if other == shard.count:
                continue
            probe = self._lock_file(f"{LOCK_NAME}.of-{other}", fcntl.LOCK_EX)
            if probe is None:
                raise DestinationError(
                    f"shards of {other} (--shard K/{other}) are being downloaded into {directory!r}; "
                    f"every shard of one destination must use the same count, not {shard.count}"
                )
            os.close(probe)
