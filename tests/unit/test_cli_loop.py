"""The command line's event loop: uvloop where it is installed, the stock loop elsewhere."""

from __future__ import annotations

import asyncio
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
