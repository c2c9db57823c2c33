"""Running one command's coroutine in a fresh event loop, so that Ctrl-C cancels it cleanly.

A first SIGINT cancels the command's task, which closes its sessions on the way out (a
download keeps its ``.part`` files); if that takes longer than ``CLI_INTERRUPT_GRACE_S``
seconds, or a second Ctrl-C arrives, the process exits 130 at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .._constants import CLI_INTERRUPT_GRACE_S
from .errors import EXIT_INTERRUPTED

T = TypeVar("T")

__all__ = ["loop_name", "run_interruptible"]


def loop_name() -> str:
    """The event loop a command runs on: ``uvloop`` when installed (it is, through an environment
    marker, wherever it builds), else ``asyncio``; ``NINEPIC_LOOP=asyncio`` forces the stock loop."""
    if os.environ.get("NINEPIC_LOOP", "").strip().lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` to its end on :func:`loop_name`'s loop (the CLI owns its process's loop)."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def run_interruptible(factory: Callable[[], Awaitable[int]]) -> tuple[int | None, bool]:
    """Run ``factory()`` in a new event loop; Ctrl-C cancels it. Returns (status, interrupted).

    ``status`` is None when the command was interrupted (``interrupted`` is then True).
    """
    interrupted = threading.Event()
    watchdog: list[threading.Timer] = []

    def hard_exit() -> None:
        os._exit(EXIT_INTERRUPTED)

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed = False

        def on_sigint() -> None:
            if interrupted.is_set():
                hard_exit()
            interrupted.set()
            timer = threading.Timer(CLI_INTERRUPT_GRACE_S, hard_exit)
            timer.daemon = True
            timer.start()
            watchdog.append(timer)
            if task is not None:
                task.cancel()

        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGINT, on_sigint)
                installed = True
        try:
            return await factory()
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)

    try:
        return _run(runner()), False
    except (KeyboardInterrupt, asyncio.CancelledError):
        if interrupted.is_set() or not isinstance(sys.exc_info()[1], asyncio.CancelledError):
            return None, True
        raise
    finally:
        for timer in watchdog:
            timer.cancel()
