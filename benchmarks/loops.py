"""Which event loop a benchmark child runs on: uvloop when installed, else asyncio."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def pick_loop() -> str:
    """``uvloop`` when installed (the ``speed`` extra), else ``asyncio``.

    ``NINEPIC_BENCH_LOOP=asyncio`` forces the stock loop, ``=uvloop`` requires uvloop.
    """
    choice = os.environ.get("NINEPIC_BENCH_LOOP", "auto")
    if choice != "asyncio":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return "uvloop"
    return "asyncio"


def run_with_loop(loop_name: str, coro: Coroutine[Any, Any, T]) -> T:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)
