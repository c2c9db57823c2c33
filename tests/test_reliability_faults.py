"""Reliability: the downloader under storage faults, expiring URLs and checksums, in-process.

Every test checks every byte on disk against ``sim.world.content()`` and the manifest
against the outcome (``check_dest``); every simulator asserts at teardown that no storage
request carried the API key.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers.clients import new_client
from helpers.sim import (
    SimFactory,
    all_ids,
    check_dest,
    settle,
)

from ninepic_async._constants import PART_SUFFIX
from ninepic_async.download import DownloadEvent, FileFinished, FileResult, download_originals
from ninepic_async.download import fetch as fetch_module
from ninepic_async.download import files as files_module
from ninepic_async.download import integrity as integrity_module

pytestmark = pytest.mark.usefixtures("no_backoff_sleep")  # retries happen at once


@pytest.fixture
def renames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every rename of a .part to a final name, with the .part's size at that moment."""
    seen: list[tuple[str, int]] = []
    real = files_module.finalize

    def finalize(part: str | Path, final: str | Path) -> None:
        part, final = Path(part), Path(final)
        if not final.name.endswith(PART_SUFFIX):
            seen.append((final.name, part.stat().st_size))
        real(part, final)

    monkeypatch.setattr(fetch_module, "finalize", finalize)
    return seen


@pytest.mark.parametrize("ignore_range", [False, True], ids=["range", "no-range"])
async def test_5xx_and_cuts_mid_body_resume_with_range_or_restart(
    rsim: SimFactory, tmp_path: Path, ignore_range: bool
) -> None:
    piece = 16_384
    sim = await rsim(photo_count=30, photo_size=(100_000, 200_000), seed=101, storage_chunk_size=piece)
    sim.faults.storage_5xx_rate = 0.15
    sim.faults.storage_cut_rate = 0.3
    sim.faults.storage_ignore_range = ignore_range
    # Bodies trickle (2 MB/s) so the client has consumed what was sent when the cut comes.
    sim.faults.storage_bytes_per_s = 2_000_000
    sim.faults.seed = 7
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, concurrency=8, chunk_size=65_536
        )
    assert (report.downloaded, report.failed) == (30, 0)
    assert sim.counters.storage_5xx >= 2 and sim.counters.storage_cut >= 5
    check_dest(sim, tmp_path)
    await settle(sim)
    if ignore_range:
        assert sim.counters.storage_ranged == 0 and sim.counters.storage_range_ignored >= 1
        return
    assert sim.counters.storage_ranged >= 1
    # Resumed, not restarted: what a cut delivered is kept, so each extra request re-sends at
    # most a piece or two that raced the close (aiohttp drops bytes it buffered when the
    # payload error is raised). A restart re-sends the whole delivered prefix instead.
    for photo in sim.world.photos:
        served = sim.counters.storage_bytes_by_image[photo.image_id]
        extra_requests = sim.counters.storage_requests_by_image[photo.image_id] - 1
        assert served - photo.size <= extra_requests * 2 * piece, photo.image_id


async def test_short_bodies_are_never_renamed(
    rsim: SimFactory, tmp_path: Path, renames: list[tuple[str, int]]
) -> None:
    sim = await rsim(photo_count=40, photo_size=(20_000, 40_000), seed=103)
    victim = sim.world.photos[5]
    sim.faults.storage_short_body_rate = 0.3
    sim.faults.seed = 9
    # The victim's body is always short: it must end failed with only its .part on disk.
    real_roll = sim.faults.storage_roll

    def roll(rate: float, image_id: str) -> bool:
        if image_id == victim.image_id and rate == sim.faults.storage_short_body_rate:
            sim.counters.storage_short_body += 0  # same accounting path as the knob
            return True
        return real_roll(rate, image_id)

    sim.faults.storage_roll = roll  # type: ignore[method-assign]
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert (report.downloaded, report.failed) == (39, 1)
    assert sim.counters.storage_short_body >= 5
    sizes = {p.image_id: p.size for p in sim.world.photos}
    files = check_dest(
        sim,
        tmp_path,
        ok=all_ids(sim) - {victim.image_id},
        failed={victim.image_id},
        parts_of={victim.image_id},
    )
    by_name = {name: image_id for image_id, name in files.items()}
    # Every rename happened with the complete object in the .part, never a short one.
    assert len(renames) == 39
    for name, size in renames:
        assert size == sizes[by_name[name]], name
    # Once the store behaves, the rerun resumes the victim's .part and completes it.
    sim.faults.storage_roll = real_roll  # type: ignore[method-assign]
    sim.faults.clear()
    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (again.downloaded, again.skipped, again.failed) == (1, 39, 0)
    check_dest(sim, tmp_path)


async def test_two_second_urls_on_500_photos_refresh_in_batches(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=500, photo_size=(1_000, 3_000), seed=104, url_lifetime_s=2.0)
    sim.faults.storage_latency_s = 0.05
    # The client's clock runs 1 s ahead of the store's: every URL looks 1 s old when it
    # arrives, so with the queue's wait a large share of them go stale before use.
    sim.faults.clock_skew_s = -1.0
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=8)
    assert (report.downloaded, report.failed) == (500, 0)
    check_dest(sim, tmp_path)
    listing_calls = -(-500 // 60)
    refresh_calls = sim.counters.original_photos_by_method["image_ids"] - listing_calls
    assert refresh_calls >= 2, "the run must have needed refreshes to prove anything"
    assert refresh_calls * 10 <= 500, refresh_calls


async def test_verify_checks_md5_while_streaming_retries_once_then_fails(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=30, photo_size=(20_000, 60_000), seed=105)
    always = sim.world.photos[4].image_id
    once = sim.world.photos[9].image_id
    hit: set[str] = set()
    real_roll = sim.faults.storage_roll

    def roll(rate: float, image_id: str) -> bool:
        if rate == sim.faults.storage_corrupt_rate and (
            image_id == always or (image_id == once and once not in hit)
        ):
            hit.add(image_id)
            return True
        return real_roll(rate, image_id)

    sim.faults.storage_corrupt_rate = 1e-9  # on, but only the two ids above are hit
    sim.faults.storage_roll = roll  # type: ignore[method-assign]
    # Hashing happens on the bytes as they are written, never by reading a file back.
    hashed = 0
    real_write_all = files_module._write_all

    def write_all(fd: int, chunks: list[bytes], hasher: Any) -> None:
        nonlocal hashed
        if hasher is not None:
            hashed += sum(len(c) for c in chunks)
        real_write_all(fd, chunks, hasher)

    def no_read_back(*args: Any) -> None:
        raise AssertionError("verify must not re-read a .part from the start")

    monkeypatch.setattr(files_module, "_write_all", write_all)
    monkeypatch.setattr(integrity_module.BodyHashes, "update_from_file", no_read_back)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert (report.downloaded, report.failed) == (29, 1)
    assert report.failures[0].image_id == always and "MD5" in (report.failures[0].error or "")
    assert sim.counters.storage_requests_by_image[always] == 2  # one retry, then recorded failed
    assert sim.counters.storage_requests_by_image[once] == 2
    await settle(sim)
    assert hashed == sim.counters.storage_bytes_served
    check_dest(sim, tmp_path, ok=all_ids(sim) - {always}, failed={always})
    # Without verify the same corruption would have gone through: the check is what stops it.
    assert hashlib.md5(sim.world.content(once)).hexdigest() == sim.world.md5(once)


async def test_verify_with_multipart_etags_counts_every_file_unverified_never_verified(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=20, seed=106, etag_style="multipart")
    results: list[FileResult] = []
    async with new_client(sim) as client:
        report = await download_originals(
            client,
            sim.event_id,
            tmp_path,
            whole_event=True,
            verify=True,
            on_event=lambda e: results.append(e.result) if isinstance(e, FileFinished) else None,
        )
        assert (report.downloaded, report.failed, report.unverified) == (20, 0, 20)
        assert all(r.verified is False for r in results)
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert (report.skipped, report.unverified) == (20, 0)  # on disk: checked against the manifest's SHA-256
    check_dest(sim, tmp_path)


async def test_the_key_is_in_no_storage_request_no_manifest_no_debug_log(
    rsim: SimFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await rsim(
        photo_count=80,
        photo_size=(20_000, 50_000),
        seed=107,
        missing_count=3,
        url_lifetime_s=3.0,
        storage_chunk_size=8192,
    )
    sim.faults.storage_5xx_rate = 0.2
    sim.faults.storage_cut_rate = 0.2
    sim.faults.api_5xx_rate = 0.5
    sim.faults.api_fault_budget = 3
    sim.faults.storage_latency_s = 0.01
    sim.faults.clock_skew_s = -2.0  # URLs arrive nearly expired: refreshes and 403s happen

    finished: list[str] = []

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, FileFinished):
            finished.append(event.result.status)

    with caplog.at_level(logging.DEBUG):
        async with new_client(sim) as client:
            report = await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, concurrency=8, on_event=on_event
            )
    assert report.downloaded == 77 and report.failed == 3
    assert sim.counters.storage_5xx and sim.counters.storage_cut and sim.counters.responses_5xx
    assert sim.counters.original_photos_by_method["image_ids"] > 2  # refreshes happened
    missing = set(sim.world.missing_ids)
    check_dest(sim, tmp_path, ok=all_ids(sim) - missing, failed=missing)
    assert sim.counters.storage_requests_with_api_key == 0
    assert caplog.records, "DEBUG logging was captured"
    debug_text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert sim.api_key not in debug_text
    assert sim.api_key not in caplog.text
