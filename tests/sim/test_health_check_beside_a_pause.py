"""A health check beside a download that a 429 paused: the check opts out of the shared pause.

The simulator throttles the download's first original-photos call with ``Retry-After: 8``; the
transport's clock is a ManualClock, so "promptly" means "while no time passed", not a window.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest
from helpers.api import ManualClock
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest

from ninepic_async.download import download_originals


async def test_a_ping_beside_a_429_paused_download_is_answered_without_waiting(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=30, photo_size=(500, 1_000))
    clock = ManualClock().install(monkeypatch)
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 8
    sim.faults.api_fault_endpoints = {"original_photos"}
    sim.faults.api_fault_budget = 1
    async with new_client(sim) as client:
        download = asyncio.create_task(download_originals(client, sim.event_id, tmp_path, whole_event=True))
        with anyio.fail_after(30):
            await clock.until_waiting(1)
        assert sim.counters.responses_429 == 1
        assert client._transport.paused_for_s == 8.0

        ordinary = asyncio.create_task(client.ping(sim.event_id))
        with anyio.fail_after(30):
            await clock.until_waiting(2)  # an ordinary call queues behind the pause
        health = client.with_options(respect_shared_pause=False, deadline_s=2.0, max_retries=0)
        with anyio.fail_after(30):
            result = await health.ping(sim.event_id)
        assert result.status == "ok"
        assert client._transport.paused_for_s == 8.0  # no time passed: the ping never waited
        assert clock.sleeps == [8.0, 8.0]  # the download and the ordinary ping did
        assert not download.done() and not ordinary.done()

        clock.advance(8.0)
        with anyio.fail_after(60):
            report = await download
            await ordinary
    assert (report.downloaded, report.failed) == (30, 0)
    check_dest(sim, tmp_path)
