"""Shared fixtures: running 9Pic simulators (``sim``, ``sim_factory``, ``rsim``), the mocked API
(``mocked``), a clean CLI environment (``clean_env``), downloads that retry at once
(``no_backoff_sleep``), buckets on a local S3 server (``bucket``) and, for every test, no proxy
variable (``no_ambient_proxy``) and no config file (``no_user_config``) from outside.

Plain helpers live next to this file: helpers/api.py (mocked-API tests), helpers/sim.py
(simulator-backed download tests) and helpers/cli.py (CLI tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from helpers.api import FakeClock, mock_api
from helpers.buckets import S3Server, TestBucket, s3_server
from helpers.cli import ENV_NAMES
from helpers.sim import SimFactory

from ninepic_async import _retry
from ninepic_async.download import policy as policy_module
from ninepic_async.testing import Simulator, SimulatorConfig


class _Simulators:
    """A factory of started simulators that remembers them all, to close them at the end."""

    def __init__(self) -> None:
        self.started: list[Simulator] = []

    async def __call__(self, **kwargs: Any) -> Simulator:
        simulator = Simulator(SimulatorConfig(**kwargs))
        await simulator.start()
        self.started.append(simulator)
        return simulator

    async def close(self) -> None:
        for simulator in reversed(self.started):
            await simulator.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The transport's fake clock, with jitter off: each backoff is the full ceiling."""
    monkeypatch.setattr(_retry, "jitter", lambda delay: delay)
    return FakeClock().install(monkeypatch)


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
    simulators = _Simulators()
    yield simulators
    await simulators.close()


@pytest.fixture
async def rsim() -> AsyncIterator[SimFactory]:
    """``await rsim(**SimulatorConfig kwargs)``, like ``sim_factory``; at teardown every simulator
    made must report that no storage request carried the API key."""
    simulators = _Simulators()
    yield simulators
    await simulators.close()
    for simulator in simulators.started:
        assert simulator.counters.storage_requests_with_api_key == 0


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The mocked 9Pic API (an aioresponses context) for the client/transport tests."""
    yield from mock_api(monkeypatch)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NINEPIC_* variable of the outer environment reaches the CLI under test."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One moto S3 server for the whole session (started at its first use)."""
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> TestBucket:
    """A fresh bucket on the session's S3 server, with AWS_* pointing at it for obstore."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return TestBucket(s3)


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_ambient_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable of the outer environment reaches a test (the client honours them)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def _empty_config_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("xdg-config-home"))


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch: pytest.MonkeyPatch, _empty_config_home: str) -> None:
    """No ninepic config file or profile of the user running the tests is read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", _empty_config_home)
    monkeypatch.delenv("NINEPIC_CONFIG", raising=False)
    monkeypatch.delenv("NINEPIC_PROFILE", raising=False)


@pytest.fixture
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Download retries happen at once: the jitter draw is zero."""
    monkeypatch.setattr(policy_module, "jitter", lambda delay: 0.0)
