"""One run per destination: an exclusive, non-blocking ``fcntl.flock`` on ``<dest>/.ninepic.lock``.

Two runs sharing a destination would allocate the same names and append to the same
``.part`` files, so the second run fails fast with :class:`DestinationError` naming the
holder (pid, host, start time are written into the lock file). The kernel drops the lock
when its holder dies (even by SIGKILL), so a stale file never blocks a rerun. The file is
removed on release while still locked; an acquirer that locked an unlinked inode notices
(its descriptor no longer matches the path) and retries. Where ``fcntl`` is missing
(Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from .._constants import LOCK_NAME
from .._exceptions import DestinationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DestinationLock"]

logger = logging.getLogger(__name__)

_ACQUIRE_ATTEMPTS = 5
_HOLDER_BYTES = 512


class DestinationLock:
    """The lock of one destination directory; use as a context manager or acquire()/release()."""

    def __init__(self, dest: Path) -> None:
        self.path = dest / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> DestinationLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _holder(self, fd: int) -> str:
        try:
            text = os.pread(fd, _HOLDER_BYTES, 0).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        return text or "a process that has not written its details yet"

    def acquire(self) -> None:
        """Take the lock or raise :class:`DestinationError` (held by another run, or unwritable)."""
        if fcntl is None or self._fd is not None:  # pragma: no cover - Windows / re-entry
            return
        for _ in range(_ACQUIRE_ATTEMPTS):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise DestinationError(
                    f"cannot create the lock file {str(self.path)!r}: {exc.strerror or exc}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = self._holder(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise DestinationError(
                        f"another download is already running in {str(self.path.parent)!r} "
                        f"(lock {LOCK_NAME} held by {holder}); wait for it to finish or stop it"
                    ) from None
                raise DestinationError(f"cannot lock {str(self.path)!r}: {exc.strerror or exc}") from exc
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file while we waited on its old inode: retry
                os.close(fd)
                continue
            info = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, info.encode(), 0)
            except OSError as exc:  # the lock holds without the details (a full disk)
                logger.debug("could not write the holder into %s: %s", self.path, exc)
            self._fd = fd
            return
        raise DestinationError(f"cannot lock {str(self.path)!r}: it keeps being replaced")

    def release(self) -> None:
        """Remove the lock file (while still holding the lock), then unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(fd)
