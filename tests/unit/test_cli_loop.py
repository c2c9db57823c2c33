"""The command line's event loop: uvloop where it is installed, the stock loop elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from ninepic_async.cli import loop as loop_module


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_commands_run_on_uvloop_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv("NINEPIC_LOOP", raising=False)
    assert loop_module.loop_name() == "uvloop"
    status, interrupted = loop_module.run_interruptible(lambda: _status_of_loop("uvloop"))
    assert (status, interrupted) == (0, 0)


def test_without_uvloop_commands_run_on_the_stock_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NINEPIC_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert loop_module.loop_name() == "asyncio"
    status, interrupted = loop_module.run_interruptible(lambda: _status_of_loop("asyncio"))
    assert (status, interrupted) == (0, 0)


def test_ninepic_loop_asyncio_forces_the_stock_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINEPIC_LOOP", "asyncio")
    assert loop_module.loop_name() == "asyncio"


async def _status_of_loop(expected: str) -> int:
    return 0 if await _loop_type() == expected else 1


def test_after_an_interrupted_run_a_second_ctrl_c_exits_at_once_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)

    async def command() -> int:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)
        return 0

    try:
        assert loop_module.run_interruptible(command) == (None, signal.SIGINT)
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler) and handler is not signal.default_int_handler
        handler(signal.SIGINT, None)  # what the interpreter does on a second Ctrl-C while it ends
        assert exits == [130]
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)
