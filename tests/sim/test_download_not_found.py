"""A photo the API or the store says does not exist fails as not retryable: a rerun will not fetch it."""

from __future__ import annotations

from pathlib import Path

from helpers.clients import new_client
from helpers.sim import SimFactory

from ninepic_async import UrlJob, download_originals, download_url_list
from ninepic_async.testing import Simulator


async def test_a_store_404_fails_the_file_as_not_found(sim: Simulator, tmp_path: Path) -> None:
    jobs = [UrlJob(url=f"{sim.storage_url}/raw-memories/no/such/key.jpg", image_id="gone")]
    report = await download_url_list(jobs, tmp_path / "d")
    assert (report.failed, report.not_found) == (1, 1)
    assert report.failures[0].retryable is False and "404" in (report.failures[0].error or "")


async def test_photos_the_api_gives_no_url_for_are_not_found(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=12, missing_count=2)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path / "d", whole_event=True)
    assert (report.downloaded, report.failed, report.not_found) == (10, 2, 2)
    assert all(not f.retryable for f in report.failures)
