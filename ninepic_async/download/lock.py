"""One run per destination: an exclusive, non-blocking ``fcntl.flock`` on the destination directory.

Two runs sharing a destination would allocate the same names and append to the same
``.part`` files, so the second run fails fast with :class:`DestinationError` naming the
holder (pid, host and start time are written into ``<dest>/.ninepic.lock``, for that message
only). The lock is the directory's own, so deleting, replacing or hard-linking that file
changes nothing. The kernel drops the lock when its holder dies (even by SIGKILL), so nothing
stale ever blocks a rerun. Where ``fcntl`` is missing (Windows) runs are not locked.
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

    def _holder(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                text = handle.read(_HOLDER_BYTES).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
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
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DestinationError(
                    f"another download is already running in {str(directory)!r} "
                    f"({self._holder()}); wait for it to finish or stop it"
                ) from None
            raise DestinationError(f"cannot lock {str(directory)!r}: {exc.strerror or exc}") from exc
        self._fd = fd
        info = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        try:  # details for a second run's message only: the lock is the directory's flock
            with open(self.path, "w", encoding="utf-8") as handle:
                handle.write(info)
        except OSError as exc:
            logger.debug("could not write the holder into %s: %s", self.path, exc)

    def release(self) -> None:
        """Remove the holder details (while still holding the lock), then unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(fd)
