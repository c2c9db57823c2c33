"""Running one command's coroutine in a fresh event loop, so that Ctrl-C or SIGTERM cancels it cleanly.

A first SIGINT (Ctrl-C) or SIGTERM (``docker stop``, ``timeout``, systemd) cancels the command's
task, which closes its sessions on the way out (a download keeps its ``.part`` files and its
manifest stays consistent); if that takes longer than ``CLI_INTERRUPT_GRACE_S`` seconds, or a
second signal arrives, the process exits at once, with 128 + the signal's number (130, 143).
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


def run_interruptible(factory: Callable[[], Awaitable[int]]) -> tuple[int | None, int]:
    """Run ``factory()`` in a new event loop; SIGINT or SIGTERM cancels it.

    Returns (status, signal number): status is None and the number that of the signal when the
    command was stopped by one, else (status, 0).
    """
    received: list[int] = []
    watchdog: list[threading.Timer] = []

    def hard_exit() -> None:
        os._exit(128 + (received[0] if received else signal.SIGINT))

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed: list[signal.Signals] = []

        def on_signal(signum: signal.Signals) -> None:
            if received:
                hard_exit()
            received.append(int(signum))
            timer = threading.Timer(CLI_INTERRUPT_GRACE_S, hard_exit)
            timer.daemon = True
            timer.start()
            watchdog.append(timer)
            if task is not None:
                task.cancel()

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, on_signal, signum)
                    installed.append(signum)
        try:
            return await factory()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    try:
        return _run(runner()), 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        if received:
            return None, received[0]
        if not isinstance(sys.exc_info()[1], asyncio.CancelledError):
            return None, int(signal.SIGINT)
        raise
    finally:
        for timer in watchdog:
            timer.cancel()
        if received and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):  # a second one while the process ends: at once
                signal.signal(signum, lambda *_: hard_exit())
