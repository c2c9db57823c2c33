"""The downloader under faults: expiring URLs, cut and short bodies, corruption, cancel, disk full."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest

from ninepic_async import DestinationError
from ninepic_async._constants import MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    FileFinished,
    PlannedEvent,
    download_originals,
    read_manifest,
)
from ninepic_async.download import files as files_module
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("no_backoff_sleep")  # retries happen at once


def manifest_lines(dest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (dest / MANIFEST_NAME).read_text().splitlines()]


def ok_names(dest: Path) -> dict[str, str]:
    return {e.image_id: e.file for e in read_manifest(dest / MANIFEST_NAME) if e.status == "ok" and e.file}


def assert_all_match(sim: Simulator, dest: Path, ids: list[str] | None = None) -> None:
    names = ok_names(dest)
    for image_id in ids if ids is not None else [p.image_id for p in sim.world.photos]:
        assert (dest / names[image_id]).read_bytes() == sim.world.content(image_id), image_id


async def test_urls_expiring_mid_run_are_refreshed_in_batches_before_use(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    # 2 s URLs and a 60-job queue drained at ~40 files/s (4 workers, 0.1 s per request):
    # many URLs are stale or dead by the time a worker takes them. Refreshing those first
    # means the store never refuses one; a pool that only reacted to 403s would be refused
    # (storage_expired > 0) and still finish.
    sim = await sim_factory(photo_count=120, url_lifetime_s=2.0, seed=21)
    sim.faults.storage_latency_s = 0.1
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert report.downloaded == 120 and report.failed == 0
    refreshes = sim.counters.original_photos_by_method["image_ids"] - 2  # 120 ids = 2 listing batches
    assert refreshes >= 1
    assert refreshes * 10 <= 120  # batched: far fewer calls than files
    assert sim.counters.storage_expired == 0
    assert_all_match(sim, tmp_path)
    check_dest(sim, tmp_path)


async def test_expired_403_refreshes_once_and_completes(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=90, bib_count=1, seed=22, expired_error_code="ExpiredRequest")
    bib, ids = next(iter(sim.world.bibs.items()))

    def on_event(event: DownloadEvent) -> None:
        # URLs of the first page were signed already: jump the store's clock past their expiry.
        if isinstance(event, PlannedEvent):
            sim.faults.clock_skew_s = 7200.0

    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, bib=bib, on_event=on_event)
    assert report.downloaded == len(ids) and report.failed == 0
    assert sim.counters.storage_expired >= 1
    refreshes = sim.counters.original_photos_by_method.get("image_ids", 0)
    assert 1 <= refreshes <= 4
    assert_all_match(sim, tmp_path, ids)


async def test_url_still_refused_after_a_refresh_fails_the_file(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    # Every URL the API makes is already expired: refresh is tried, then the file fails (no loop).
    sim = await sim_factory(photo_count=4, seed=23, url_lifetime_s=0.0)
    sim.faults.clock_skew_s = 0.0
    async with new_client(sim) as client:
        with anyio.fail_after(10):
            report = await download_originals(
                client, sim.event_id, tmp_path, image_ids=[p.image_id for p in sim.world.photos]
            )
    assert report.failed == 4 and report.downloaded == 0
    assert all("expired" in (f.error or "").lower() for f in report.failures)
    assert sim.counters.storage_expired == 4 * 2  # first try + one after the refresh, per file
    assert not [n for n in os.listdir(tmp_path) if n != MANIFEST_NAME]


async def test_cut_connections_resume_with_range(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=30, photo_size=(60_000, 120_000), seed=24, storage_chunk_size=8192)
    sim.faults.storage_cut_rate = 0.5
    sim.faults.storage_fault_budget = 20
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert report.downloaded == 30
    assert sim.counters.storage_cut >= 5
    assert sim.counters.storage_ranged >= 1
    assert_all_match(sim, tmp_path)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(PART_SUFFIX)]


async def test_cut_connections_restart_when_the_store_ignores_range(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=20, photo_size=(60_000, 120_000), seed=25, storage_chunk_size=8192)
    sim.faults.storage_cut_rate = 0.5
    sim.faults.storage_fault_budget = 12
    sim.faults.storage_ignore_range = True
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert report.downloaded == 20
    assert sim.counters.storage_range_ignored >= 1 and sim.counters.storage_ranged == 0
    assert_all_match(sim, tmp_path)


async def test_5xx_from_storage_is_retried(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=20, seed=26)
    sim.faults.storage_5xx_rate = 0.5
    sim.faults.storage_fault_budget = 10
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 20 and sim.counters.storage_5xx == 10
    assert_all_match(sim, tmp_path)


async def test_short_body_is_never_renamed(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=8, photo_size=(30_000, 40_000), seed=27)
    victim = sim.world.photos[2]
    sim.faults.storage_short_body_rate = 1.0
    sim.faults.storage_fault_image_ids = {victim.image_id}
    seen_sizes: dict[str, int] = {}

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, FileFinished) and event.result.file:
            seen_sizes[event.result.image_id] = (tmp_path / event.result.file).stat().st_size

    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, on_event=on_event, concurrency=2
        )
    assert report.downloaded == 7 and report.failed == 1
    assert report.failures[0].image_id == victim.image_id
    assert "truncated" in (report.failures[0].error or "") or "connection" in (report.failures[0].error or "")
    assert all(seen_sizes[i] == sim.world.photo(i).size for i in seen_sizes)
    failed_line = [e for e in manifest_lines(tmp_path) if e["image_id"] == victim.image_id][-1]
    assert failed_line["status"] == "failed"
    final = tmp_path / failed_line["file"]
    assert not final.exists()
    part = final.with_name(final.name + PART_SUFFIX)
    data = part.read_bytes()  # kept for a resume, and a true prefix
    assert 0 < len(data) < victim.size
    assert sim.world.content(victim.image_id).startswith(data)
    # Once the store behaves, a rerun resumes the part and finishes the file.
    sim.faults.clear()
    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (again.downloaded, again.skipped) == (1, 7)
    assert final.read_bytes() == sim.world.content(victim.image_id)


async def test_verify_retries_a_corrupt_body_once_then_fails(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=6, seed=28)
    once, always = sim.world.photos[1], sim.world.photos[3]
    sim.faults.storage_corrupt_rate = 1.0
    sim.faults.storage_fault_image_ids = {always.image_id, once.image_id}
    seen: list[str] = []

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, FileFinished) and event.result.image_id == once.image_id:
            seen.append(event.result.status)

    # "once" is corrupted only on its first request: drop it from the fault set after one hit.
    original_roll = sim.faults.storage_roll

    def roll(rate: float, image_id: str) -> bool:
        hit = original_roll(rate, image_id)
        if hit and image_id == once.image_id:
            sim.faults.storage_fault_image_ids = {always.image_id}
        return hit

    sim.faults.storage_roll = roll  # type: ignore[method-assign]
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, verify=True, on_event=on_event
        )
    assert report.downloaded == 5 and report.failed == 1
    assert report.failures[0].image_id == always.image_id
    assert "MD5" in (report.failures[0].error or "")
    assert seen == ["ok"]
    assert sim.counters.storage_requests_by_image[always.image_id] == 2
    names = ok_names(tmp_path)
    assert always.image_id not in names
    assert (tmp_path / names[once.image_id]).read_bytes() == sim.world.content(once.image_id)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(PART_SUFFIX)]
    assert leftovers == []


async def test_without_verify_corruption_goes_unnoticed_but_multipart_etags_do_not_break_verify(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=5, seed=29, etag_style="multipart")
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert report.downloaded == 5
    assert_all_match(sim, tmp_path)


async def test_verify_hashes_the_resumed_prefix(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=10, photo_size=(60_000, 90_000), seed=30, storage_chunk_size=8192)
    sim.faults.storage_cut_rate = 1.0
    sim.faults.storage_fault_budget = 8
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert report.downloaded == 10 and sim.counters.storage_ranged >= 1
    assert_all_match(sim, tmp_path)


async def test_torn_manifest_line_is_ignored_on_rerun(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=15, seed=31)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        with open(tmp_path / MANIFEST_NAME, "ab") as handle:
            handle.write(b'{"v":1,"image_id":"' + sim.world.photos[0].image_id.encode() + b'","status":"fa')
        served = sim.counters.storage_bytes_served
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        assert report.skipped == 15 and sim.counters.storage_bytes_served == served
        victim = next(iter(ok_names(tmp_path).values()))
        (tmp_path / victim).unlink()
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 1
    assert len(list(read_manifest(tmp_path / MANIFEST_NAME))) == 16


async def test_cancellation_keeps_parts_and_a_consistent_manifest(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=40, photo_size=(150_000, 200_000), seed=32, storage_chunk_size=16_384)
    finished: list[str] = []
    received: dict[str, int] = {}

    with anyio.CancelScope() as scope:

        def on_event(event: DownloadEvent) -> None:
            if isinstance(event, FileFinished):
                finished.append(event.result.image_id)
            elif isinstance(event, BytesReceived):
                received[event.image_id] = received.get(event.image_id, 0) + event.n
                if len(finished) >= 5 and sum(received.values()) > 2_000_000:
                    scope.cancel()

        async with new_client(sim) as client:
            await download_originals(
                client,
                sim.event_id,
                tmp_path,
                whole_event=True,
                concurrency=4,
                chunk_size=32_768,
                on_event=on_event,
            )
    assert scope.cancelled_caught
    entries = list(read_manifest(tmp_path / MANIFEST_NAME))
    assert sorted(e.image_id for e in entries if e.status == "ok") == sorted(finished)
    assert {e.status for e in entries} <= {"ok", "partial"}  # partial: a .part kept for a resume
    assert (tmp_path / MANIFEST_NAME).read_bytes().endswith(b"\n")
    parts = [n for n in os.listdir(tmp_path) if n.endswith(PART_SUFFIX)]
    assert parts, "an interrupted file keeps its .part"
    for name in parts:
        assert not (tmp_path / name[: -len(PART_SUFFIX)]).exists()
    # The rerun resumes the parts with Range and completes everything.
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded + report.skipped == 40 and report.skipped == len(finished)
    assert sim.counters.storage_ranged >= 1
    assert_all_match(sim, tmp_path)


async def test_disk_full_stops_the_run_with_destination_error(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=30, seed=33)
    real_write_all = files_module._write_all
    writes = 0

    def write_all(fd: int, chunks: list[bytes], hasher: Any) -> None:
        nonlocal writes
        writes += 1
        if writes > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, chunks, hasher)

    monkeypatch.setattr(files_module, "_write_all", write_all)
    async with new_client(sim) as client:
        with pytest.raises(DestinationError, match="disk full"):
            await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=2)
    entries = [e for e in read_manifest(tmp_path / MANIFEST_NAME) if e.status != "partial"]
    assert entries and all(e.status == "ok" for e in entries)
    assert len(entries) <= 10
    assert_all_match(sim, tmp_path, [e.image_id for e in entries])
    monkeypatch.setattr(files_module, "_write_all", real_write_all)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded + report.skipped == 30
