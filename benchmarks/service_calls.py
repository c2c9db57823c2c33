"""Service-embedding figures of the API client (issue 14, items 3 and 6), on the simulator.

1. Ping latency beside a download a 429 (``Retry-After: 8``) paused: an ordinary ping, and one
   made through ``client.with_options(respect_shared_pause=False)``.
2. How long a ping in a 429 storm (every ping throttled, ``Retry-After: 1``) keeps retrying:
   with the default budget, and with ``deadline_s=3``.
3. 1,000 concurrent calls through the 100-connection pool: retries logged, requests beyond
   one per call, failed calls.
4. What building (and printing) one API exception costs with 10,000 keys registered.

``python benchmarks/service_calls.py`` (about a minute; wall clock, real sockets on 127.0.0.1).
Items a version of the library lacks (``with_options`` before it existed) are reported as
``n/a``, so the same script measures before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import tempfile
import time
from typing import Any

from ninepic_async import APIError, NinePicClient, PermissionDeniedError
from ninepic_async._exceptions import register_secret
from ninepic_async.download import download_originals
from ninepic_async.testing import Simulator, SimulatorConfig

STORM_CAP_S = 40.0


async def _timed(call: Any) -> float:
    started = time.perf_counter()
    with contextlib.suppress(APIError):
        await call
    return time.perf_counter() - started


async def ping_beside_a_paused_download() -> dict[str, float | None]:
    async with Simulator(SimulatorConfig(photo_count=50, photo_size=(500, 1_000))) as sim:
        sim.faults.api_429_rate = 1.0
        sim.faults.api_retry_after_s = 8
        sim.faults.api_fault_endpoints = {"original_photos"}
        sim.faults.api_fault_budget = 1
        client = NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url)
        async with client:
            with tempfile.TemporaryDirectory() as dest:
                download = asyncio.create_task(
                    download_originals(client, sim.event_id, dest, whole_event=True)
                )
                while sim.counters.responses_429 == 0:
                    await asyncio.sleep(0.005)
                calls = [_timed(client.ping(sim.event_id))]
                if hasattr(client, "with_options"):
                    calls.append(_timed(client.with_options(respect_shared_pause=False).ping(sim.event_id)))
                timings = await asyncio.gather(*calls)
                await download
    return {"ordinary_s": timings[0], "opted_out_s": timings[1] if len(timings) > 1 else None}


async def ping_in_a_429_storm() -> dict[str, float | None]:
    async with Simulator(SimulatorConfig(photo_count=10)) as sim:
        sim.faults.api_429_rate = 1.0
        sim.faults.api_retry_after_s = 1
        client = NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url)
        async with client:
            try:
                default_s: float | None = await asyncio.wait_for(
                    _timed(client.ping(sim.event_id)), STORM_CAP_S
                )
            except asyncio.TimeoutError:
                default_s = None
            deadline_s = None
            if hasattr(client, "with_options"):
                await asyncio.sleep(1.1)  # let the last pause run out
                deadline_s = await _timed(client.with_options(deadline_s=3.0).ping(sim.event_id))
    return {"default_budget_s": default_s, "deadline_3s_s": deadline_s}


class _RetryCounter(logging.Handler):
    """Counts the client's "retry" log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "retry" in record.getMessage()


async def thousand_calls_through_the_pool(calls: int = 1_000) -> dict[str, int | float]:
    """1,000 concurrent pings through the client's 100 pooled connections, each answer taking
    1.5 s: the last calls wait ~15 s for a connection, past the 10 s connect timeout."""
    retries = _RetryCounter()
    package_logger = logging.getLogger("ninepic_async")
    package_logger.addHandler(retries)
    package_logger.setLevel(logging.INFO)
    async with Simulator(SimulatorConfig(photo_count=10)) as sim:
        sim.faults.api_latency_s = 1.5
        client = NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url)
        started = time.perf_counter()
        async with client:
            outcomes = await asyncio.gather(
                *(client.ping(sim.event_id) for _ in range(calls)), return_exceptions=True
            )
        package_logger.removeHandler(retries)
        return {
            "calls": calls,
            "retries_logged": retries.count,
            "extra_requests": sim.counters.api_requests - calls,
            "failed_calls": sum(isinstance(o, BaseException) for o in outcomes),
            "elapsed_s": time.perf_counter() - started,
        }


def exception_cost(keys: int = 10_000, rounds: int = 200) -> dict[str, float]:
    for _ in range(keys):
        register_secret(f"tenant-{secrets.token_urlsafe(24)}")
    started = time.perf_counter()
    for _ in range(rounds):
        error = PermissionDeniedError(
            403,
            "key invalid or inactive",
            method="GET",
            url="https://api.example/api/v1/ext/903/event/456/ping",
        )
        str(error)
    return {"keys": keys, "exception_us": (time.perf_counter() - started) / rounds * 1e6}


def main() -> None:
    results = {
        "ping_beside_paused_download": asyncio.run(ping_beside_a_paused_download()),
        "ping_in_429_storm": asyncio.run(ping_in_a_429_storm()),
        "thousand_calls_through_the_pool": asyncio.run(thousand_calls_through_the_pool()),
        "exception_with_many_keys": exception_cost(),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
