"""A download's counters: a DownloadMonitor reads them while the run goes on, ``report.stats`` keeps
them at the end, and they agree with the FileRetrying / UrlsRefreshed events and the simulator."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest, interrupt_after, outcome

from ninepic_async import RequestValidationError
from ninepic_async._constants import PART_SUFFIX
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    DownloadMonitor,
    DownloadOptions,
    DownloadStats,
    FileFinished,
    FileRetrying,
    PlannedEvent,
    UrlsRefreshed,
    download_originals,
    iter_download_originals,
)
from ninepic_async.download import lanes as lanes_module
from ninepic_async.download.lanes import LoopWrites


async def test_a_monitor_reads_a_running_download_and_the_report_keeps_the_final_stats(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=40, bib_count=1, seed=40, expired_error_code="ExpiredRequest")
    sim.faults.storage_cut_rate = 1.0
    sim.faults.storage_fault_budget = 3
    bib, ids = next(iter(sim.world.bibs.items()))
    monitor = DownloadMonitor()
    assert monitor.snapshot() == DownloadStats()
    events: list[DownloadEvent] = []
    during: list[DownloadStats] = []

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived):
            return
        events.append(event)
        if isinstance(event, PlannedEvent):
            sim.faults.clock_skew_s = 7200.0  # the URLs already signed expire: refreshes follow
        if isinstance(event, FileFinished) and not during:
            during.append(monitor.snapshot())

    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, bib=bib, on_event=on_event, monitor=monitor
        )
    assert report.downloaded == len(ids) and report.complete
    (mid,) = during
    assert mid.running and mid.files_done == 1 and mid.files_announced == len(ids)
    stats = report.stats
    assert stats == monitor.snapshot()  # ended: the figures no longer move
    assert not stats.running and stats.files_active == 0
    assert (stats.files_ok, stats.files_skipped, stats.files_failed) == (len(ids), 0, 0)
    assert stats.bytes_downloaded == report.bytes >= sum(len(sim.world.content(i)) for i in ids)
    assert (stats.bytes_resumed, stats.bytes_skipped) == (0, 0)
    retried = [e for e in events if isinstance(e, FileRetrying)]
    assert stats.total_retries == len(retried) >= 4  # 3 cut bodies, at least one expired URL
    for reason, count in stats.retries.items():
        assert count == sum(1 for e in retried if e.reason == reason)
    assert stats.retries["expired_refresh"] >= 1
    assert all(sim.api_key not in e.error and "X-Amz-Signature" not in e.error for e in retried)
    refreshed = [e for e in events if isinstance(e, UrlsRefreshed)]
    assert stats.url_refresh_calls == len(refreshed) == sim.counters.original_photos_by_method["image_ids"]
    assert stats.urls_refreshed == sum(e.renewed for e in refreshed) >= 1
    assert stats.url_refresh_failures == 0
    check_dest(sim, tmp_path, ok=set(ids))


async def test_stats_tell_downloaded_resumed_and_skipped_bytes_apart(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=12, photo_size=(150_000, 200_000), seed=41, storage_chunk_size=16_384)
    await interrupt_after(sim, tmp_path, files=3)
    done = {i for i, entry in outcome(tmp_path).items() if entry["status"] == "ok"}
    parts = sum(os.path.getsize(tmp_path / n) for n in os.listdir(tmp_path) if n.endswith(PART_SUFFIX))
    assert done and parts > 0
    rest = [p.image_id for p in sim.world.photos if p.image_id not in done]

    monitor = DownloadMonitor()
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, monitor=monitor)
    stats = report.stats
    assert (stats.files_ok, stats.files_skipped) == (len(rest), len(done))
    assert stats.bytes_skipped == sum(len(sim.world.content(i)) for i in done)
    assert stats.bytes_resumed == parts
    assert stats.bytes_downloaded + stats.bytes_resumed == sum(len(sim.world.content(i)) for i in rest)
    check_dest(sim, tmp_path)


async def test_a_monitor_watches_one_run(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=3, seed=42)
    monitor = DownloadMonitor()
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path / "a", whole_event=True, monitor=monitor)
        with pytest.raises(RequestValidationError, match="monitor"):
            await download_originals(client, sim.event_id, tmp_path / "b", whole_event=True, monitor=monitor)
        with pytest.raises(RequestValidationError, match="monitor"):
            await download_originals(
                client,
                sim.event_id,
                tmp_path / "b",
                whole_event=True,
                monitor=object(),  # type: ignore[arg-type]
            )
    assert monitor.snapshot().files_ok == 3
    assert not (tmp_path / "b").exists()  # refused before anything was made


async def test_a_monitor_counts_an_iterated_download_which_has_no_report(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=5, seed=43)
    monitor = DownloadMonitor()
    async with new_client(sim) as client:
        async for result in iter_download_originals(
            client, sim.event_id, tmp_path, whole_event=True, monitor=monitor
        ):
            assert monitor.snapshot().files_done >= 1 and result.status == "ok"
    stats = monitor.snapshot()
    assert (stats.files_ok, stats.files_announced, stats.running) == (5, 5, False)
    assert stats.bytes_downloaded == sum(len(sim.world.content(p.image_id)) for p in sim.world.photos)


async def test_slow_writes_on_the_loops_thread_are_counted_and_the_download_completes(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=4, photo_size=(1_000_000, 1_200_000), seed=44)
    # every write counts as slow, with pauses too short to outlast the next batch
    always_slow = functools.partial(LoopWrites, slow_s=-1.0, pause_s=(0.0, 0.0))
    monkeypatch.setattr(lanes_module, "LoopWrites", always_slow)
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, chunk_size=256 * 1024
        )
    assert (report.downloaded, report.failed) == (4, 0)
    check_dest(sim, tmp_path)
    # each photo has 4-5 batches: the first opens the file and the last completes it (threads)
    assert report.stats.slow_loop_writes >= 2 * 4


async def test_fast_writes_leave_no_slow_loop_writes(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=2, photo_size=(600_000, 700_000), seed=45)
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, options=DownloadOptions(write_on_loop=False)
        )
    assert report.complete and report.stats.slow_loop_writes == 0
