"""``Simulator``: the API app and the object store bound to local ports, as an async context manager."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from aiohttp import web

from .api import make_api_app
from .config import SimulatorConfig
from .faults import Counters, Faults
from .state import SimState
from .store import make_store_app
from .world import World

__all__ = ["Simulator", "simulated_api"]

log = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT_S = 2.0


class Simulator:
    """A local 9Pic API plus object store (two ports, two origins).

    ``Simulator(config)`` or ``Simulator(photo_count=..., ...)`` (keyword overrides of the
    config). Use ``async with``; ``base_url``/``storage_url`` are valid once started.
    """

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else SimulatorConfig()
        self.config = dataclasses.replace(base, **overrides) if overrides else base
        self.state = SimState(self.config, dataclasses.replace(self.config.faults))
        self._runners: list[web.AppRunner] = []
        self._api_port = 0
        self._storage_port = 0

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Simulator:
        """Bind both apps; ports 0 pick free ones."""
        if self._runners:
            raise RuntimeError("simulator already started")
        self.state.closing = False
        try:
            self._storage_port = await self._serve(make_store_app(self.state), self.config.storage_port)
            self.state.storage_url = f"http://{self._host_for_url}:{self._storage_port}"
            self._api_port = await self._serve(make_api_app(self.state), self.config.port)
        except BaseException:
            await self.close()
            raise
        log.debug("simulator API on %s, storage on %s", self.base_url, self.storage_url)
        return self

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        address = runner.addresses[-1]
        return int(address[1])

    async def close(self) -> None:
        """Stop serving and release the ports (idempotent)."""
        runners, self._runners = self._runners, []
        self.state.closing = True  # slow (throttled) bodies stop now rather than at shutdown_timeout
        for runner in reversed(runners):
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- what tests use -------------------------------------------------------------------------
    @property
    def _host_for_url(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", ""):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def base_url(self) -> str:
        """The API origin, e.g. ``http://127.0.0.1:PORT`` (pass it to NinePicClient)."""
        return f"http://{self._host_for_url}:{self._api_port}"

    @property
    def storage_url(self) -> str:
        """The object store origin (different port from the API)."""
        return self.state.storage_url

    @property
    def org_id(self) -> int:
        """The organisation id the simulator serves (``SimulatorConfig.org_id``)."""
        return self.config.org_id

    @property
    def event_id(self) -> int:
        """The id of the big synthetic event (``SimulatorConfig.event_id``)."""
        return self.config.event_id

    @property
    def api_key(self) -> str:
        """The one API key the simulator accepts (others answer 403, none answers 401)."""
        return self.config.api_key

    @property
    def world(self) -> World:
        """The big event's synthetic world."""
        return self.state.world

    @property
    def faults(self) -> Faults:
        """Fault knobs, mutable while running."""
        return self.state.faults

    @property
    def counters(self) -> Counters:
        """What the simulator served so far (requests by endpoint, 429s, bytes, ...), for assertions."""
        return self.state.counters

    @property
    def event_ids(self) -> list[int]:
        """Every event of the organisation (the big one first)."""
        return list(self.state.events)

    def presign(self, image_id: str, lifetime_s: float | None = None, *, event_id: int | None = None) -> str:
        """A presigned storage URL for ``image_id`` signed now (no API call, not counted)."""
        return self.state.presign(self.event_id if event_id is None else event_id, image_id, lifetime_s)

    def replace_object(self, image_id: str) -> None:
        """Overwrite the object of ``image_id`` with new bytes of the same size (new ETag and MD5).

        ``world.content()``/``world.md5()`` give the new version; URLs handed out before stay
        valid and now serve it. Calling it again replaces it again. KeyError for unknown ids.
        """
        self.state.replace_object(image_id)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock forward (expire URLs without sleeping)."""
        self.state.faults.clock_skew_s += seconds

    def __repr__(self) -> str:
        return (
            f"Simulator(base_url={self.base_url!r}, storage_url={self.storage_url!r}, "
            f"event_id={self.event_id})"
        )


@contextlib.asynccontextmanager
async def simulated_api(config: SimulatorConfig | None = None, **overrides: Any) -> AsyncIterator[str]:
    """``async with simulated_api(photo_count=50) as base_url:`` a running simulator's API base URL.

    The shortest way in for tests that only need an API to talk to: the key, org id and event
    id are the config's (``SimulatorConfig().api_key``, ``org_id``, ``event_id``; defaults
    ``sim-key-5f0c9e2d7a41b38e``, 903, 456). Use :class:`Simulator` directly for the world,
    the fault knobs and the counters. Both ports are released when the block ends.
    """
    async with Simulator(config, **overrides) as sim:
        yield sim.base_url
