"""Shared fixtures: a running 9Pic simulator (``sim``) and a factory for custom ones (``sim_factory``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ninepic_async.testing import Simulator, SimulatorConfig

SimFactory = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A started simulator with the default small event (120 photos of 2-20 KB, seed 1)."""
    async with Simulator(SimulatorConfig()) as simulator:
        yield simulator


@pytest.fixture
async def sim_factory() -> AsyncIterator[SimFactory]:
    """``await sim_factory(photo_count=..., ...)``: start a simulator from SimulatorConfig kwargs.

    Every simulator made is closed when the test ends.
    """
    started: list[Simulator] = []

    async def factory(**kwargs: Any) -> Simulator:
        simulator = Simulator(SimulatorConfig(**kwargs))
        await simulator.start()
        started.append(simulator)
        return simulator

    yield factory
    for simulator in reversed(started):
        await simulator.close()
