"""Audit of issue 5's 429 storm, on a whole download rather than on bare client calls.

Half of all API calls answer 429 (with ``Retry-After: 1`` or without). The download must
complete with every byte right and the manifest matching; every request that starts after a
429 arrived waits out its Retry-After (the pause is shared by the listing, the URL batches
and the refresher, which all use one client); only 429s are retried, so the number of API
calls stays bounded. The transport's sleeps run on a fake clock (fast), the storage is real.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from helpers.api import FakeClock, Recorder
from helpers.sim import SimFactory, check_dest

from ninepic_async.client import NinePicClient
from ninepic_async.download import download_originals

RETRY_BUDGET = 25  # 0.5 ** 26: no call runs out of retries in practice (see the defaults test)


@pytest.mark.parametrize("retry_after_s", [1.0, None], ids=["retry-after-1", "no-retry-after"])
async def test_a_download_gets_through_a_429_storm_waiting_as_told_with_bounded_calls(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retry_after_s: float | None
) -> None:
    sim = await rsim(photo_count=400, photo_size=(1_000, 3_000), seed=61, url_lifetime_s=3.0, missing_count=2)
    clock = FakeClock().install(monkeypatch)
    recorder = Recorder().install(monkeypatch)
    sim.faults.seed = 11
    sim.faults.api_429_rate = 0.5
    sim.faults.api_retry_after_s = retry_after_s
    sim.faults.storage_latency_s = 0.01
    started = clock.now
    async with NinePicClient(
        sim.api_key,
        org_id=sim.org_id,
        base_url=sim.base_url,
        max_retries=RETRY_BUDGET,
        max_rate_limit_retries=RETRY_BUDGET,
    ) as client:
        with anyio.fail_after(60):
            report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=8)
    missing = set(sim.world.missing_ids)
    assert (report.downloaded, report.failed) == (398, 2)
    check_dest(sim, tmp_path, ok={p.image_id for p in sim.world.photos} - missing, failed=missing)
    throttled = sim.counters.responses_429
    answered = sim.counters.api_requests - throttled
    assert throttled > 0 and answered > 0
    assert sim.counters.api_requests == len(recorder.attempts)
    # Only 429s were retried, and each logical call needed about two attempts, not a flood.
    assert sim.counters.responses_5xx == 0
    assert sim.counters.api_requests < 3 * answered, (sim.counters.api_requests, answered)
    if retry_after_s is not None:
        assert all(a.retry_after == "1" for a in recorder.throttled)
        recorder.assert_every_429_paused_everyone(retry_after_s)
        assert clock.now - started >= retry_after_s  # the pauses really happened
    else:
        assert clock.sleeps and all(s >= 0 for s in clock.sleeps)
