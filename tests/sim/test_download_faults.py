"""The downloader under storage faults, expiring URLs, checksums and cancellation, in-process.

Every test checks every byte on disk against ``sim.world.content()`` and the manifest
against the outcome (``check_dest``); every simulator asserts at teardown that no storage
request carried the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.clients import new_client
from helpers.sim import (
    SimFactory,
    all_ids,
    check_dest,
    settle,
)

from ninepic_async._constants import MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    DownloadOptions,
    FileFinished,
    FilePolicy,
    FileResult,
    PlannedEvent,
    download_originals,
    read_manifest,
)
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
    sim.faults.storage_fault_times = {victim.image_id: None}
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert (report.downloaded, report.failed) == (39, 1)
    assert report.failures[0].image_id == victim.image_id
    error = report.failures[0].error or ""
    assert "truncated" in error or "connection" in error, error
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
    sim.faults.clear()
    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (again.downloaded, again.skipped, again.failed) == (1, 39, 0)
    check_dest(sim, tmp_path)


@pytest.mark.parametrize(
    ("photos", "concurrency", "latency_s", "skew_s", "seed"),
    [(120, 4, 0.1, 0.0, 21), (500, 8, 0.05, -1.0, 104)],
    ids=["120-slow-store", "500-client-clock-ahead"],
)
async def test_urls_expiring_mid_run_are_refreshed_in_batches_before_use(
    rsim: SimFactory,
    tmp_path: Path,
    photos: int,
    concurrency: int,
    latency_s: float,
    skew_s: float,
    seed: int,
) -> None:
    """2 s URLs and a queue drained slower than they age: many are stale or dead by the time a
    worker takes them. Refreshing those first, in batches, means the store never refuses one;
    a pool that only reacted to 403s would be refused (``storage_expired > 0``) and still finish.
    With ``skew_s=-1`` the client's clock runs 1 s ahead of the store's: every URL looks 1 s old
    when it arrives."""
    sim = await rsim(photo_count=photos, photo_size=(1_000, 3_000), seed=seed, url_lifetime_s=2.0)
    sim.faults.storage_latency_s = latency_s
    sim.faults.clock_skew_s = skew_s
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, concurrency=concurrency
        )
    assert (report.downloaded, report.failed) == (photos, 0)
    check_dest(sim, tmp_path)
    listing_calls = -(-photos // 60)
    refresh_calls = sim.counters.original_photos_by_method["image_ids"] - listing_calls
    assert refresh_calls >= 1, "the run must have needed refreshes to prove anything"
    assert refresh_calls * 10 <= photos, refresh_calls  # batched: far fewer calls than files
    assert sim.counters.storage_expired == 0


async def test_verify_checks_md5_while_streaming_retries_once_then_fails(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=30, photo_size=(20_000, 60_000), seed=105)
    always = sim.world.photos[4].image_id
    once = sim.world.photos[9].image_id
    sim.faults.storage_corrupt_rate = 1e-12  # on, but in effect only for the two ids below
    sim.faults.storage_fault_times = {always: None, once: 1}
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
            # Retries enough that 20 % 5xx and 20 % cuts never exhaust a file, whatever the
            # order the concurrent requests draw their faults in: this test is about the key.
            options = DownloadOptions(
                concurrency=8, on_event=on_event, policy=FilePolicy(retries=30, attempts=60)
            )
            report = await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, options=options
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


async def test_expired_403_refreshes_once_and_completes(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=90, bib_count=1, seed=22, expired_error_code="ExpiredRequest")
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
    # Counts, not timing: how many refused URLs share a refresh call depends on how the 403s
    # arrive, but there is at least one call, never more calls than refused URLs, and no file
    # is refreshed twice (one refused request, then the one that succeeds).
    assert 1 <= refreshes <= sim.counters.storage_expired
    assert max(sim.counters.storage_requests_by_image[i] for i in ids) <= 2
    check_dest(sim, tmp_path, ok=set(ids))


async def test_url_still_refused_after_a_refresh_fails_the_file(rsim: SimFactory, tmp_path: Path) -> None:
    # Every URL the API makes is already expired: refresh is tried, then the file fails (no loop).
    sim = await rsim(photo_count=4, seed=23, url_lifetime_s=0.0)
    sim.faults.clock_skew_s = 0.0
    async with new_client(sim) as client:
        with anyio.fail_after(10):
            report = await download_originals(
                client, sim.event_id, tmp_path, image_ids=[p.image_id for p in sim.world.photos]
            )
    assert report.failed == 4 and report.downloaded == 0
    assert all("expired" in (f.error or "").lower() for f in report.failures)
    assert sim.counters.storage_expired == 4 * 2  # first try + one after the refresh, per file
    check_dest(sim, tmp_path, ok=set(), failed=all_ids(sim))  # failed files leave no file behind


async def test_verify_hashes_the_resumed_prefix(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=10, photo_size=(60_000, 90_000), seed=30, storage_chunk_size=8192)
    sim.faults.storage_cut_rate = 1.0
    sim.faults.storage_fault_budget = 8
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert report.downloaded == 10 and sim.counters.storage_ranged >= 1
    check_dest(sim, tmp_path)


async def test_cancellation_keeps_parts_and_a_consistent_manifest(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=40, photo_size=(150_000, 200_000), seed=32, storage_chunk_size=16_384)
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
    check_dest(sim, tmp_path)


@pytest.mark.parametrize("stop", ["task_cancel", "aclosing_scope"])
async def test_a_cancelled_file_smaller_than_a_chunk_keeps_its_part_and_resumes_by_range(
    rsim: SimFactory, tmp_path: Path, stop: str
) -> None:
    sim = await rsim(photo_count=3, photo_size=300_000, seed=33, storage_chunk_size=16_384)
    sim.faults.storage_bytes_per_s = 100_000  # every body is caught mid-way (default 1 MiB chunks)
    received: dict[str, int] = {}
    enough = asyncio.Event()

    def on_event(event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived):
            received[event.image_id] = received.get(event.image_id, 0) + event.n
            if len(received) == 3 and min(received.values()) >= 32_768:
                enough.set()

    async with new_client(sim) as client:
        if stop == "task_cancel":
            task = asyncio.create_task(
                client.download_originals(sim.event_id, tmp_path, whole_event=True, on_event=on_event)
            )
            await enough.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            with anyio.CancelScope() as scope:
                results = client.iter_download_originals(
                    sim.event_id, tmp_path, whole_event=True, on_event=on_event
                )
                async with contextlib.aclosing(results) as stream:  # what the docstring recommends
                    waiter = asyncio.ensure_future(enough.wait())
                    waiter.add_done_callback(lambda _: scope.cancel())
                    async for _result in stream:
                        pass
            assert scope.cancelled_caught
        parts = {n for n in os.listdir(tmp_path) if n.endswith(PART_SUFFIX)}
        assert len(parts) == 3
        assert all((tmp_path / n).stat().st_size >= 32_768 for n in parts)  # received bytes kept
        sim.faults.storage_bytes_per_s = 0.0
        report = await client.download_originals(sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 3 and sim.counters.storage_ranged == 3
    check_dest(sim, tmp_path)
