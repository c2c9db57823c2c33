"""``limit_rate_bps``: one token bucket per run, shared by every worker, paid for every byte
received (its waits are faked here: timing belongs to benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest

from ninepic_async import RequestValidationError
from ninepic_async.download import DownloadOptions, download_originals
from ninepic_async.download import fetch as fetch_module
from ninepic_async.download.bandwidth import TokenBucket


class RecordingBucket(TokenBucket):
    made: ClassVar[list[RecordingBucket]] = []

    def __init__(self, rate: float, **kwargs: Any) -> None:
        async def no_sleep(seconds: float) -> None:
            self.slept += seconds

        super().__init__(rate, sleep=no_sleep, **kwargs)
        self.paid = 0
        self.slept = 0.0
        RecordingBucket.made.append(self)

    async def pay(self, n: int) -> float:
        self.paid += n
        return await super().pay(n)


async def test_one_bucket_per_run_pays_for_every_byte(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=12)
    RecordingBucket.made = []
    monkeypatch.setattr(fetch_module, "TokenBucket", RecordingBucket)
    async with new_client(sim) as client:
        with anyio.fail_after(30):
            report = await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, concurrency=4, limit_rate_bps=20_000
            )
    assert report.complete
    check_dest(sim, tmp_path)
    (bucket,) = RecordingBucket.made
    assert bucket.rate == 20_000
    assert bucket.paid == report.bytes
    assert bucket.slept > 0  # more than a burst went through it: the workers were held back


async def test_no_cap_means_no_bucket(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=3)
    RecordingBucket.made = []
    monkeypatch.setattr(fetch_module, "TokenBucket", RecordingBucket)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete and RecordingBucket.made == []


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan"), True, "20M"])
def test_a_bad_limit_rate_is_refused_naming_the_field(rate: Any) -> None:
    with pytest.raises(RequestValidationError, match="limit_rate_bps"):
        DownloadOptions(limit_rate_bps=rate)
