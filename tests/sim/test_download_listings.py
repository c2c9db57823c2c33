"""Listings that misbehave and object keys that do not name their photos, against the simulator.

Covers: a listing that repeats a page is walked a second time and nothing is lost; a listing
that stays short reports the photos it never delivered (``missing``, exit 1 in the CLI); photos
whose keys share a basename in different folders each land in their own file with their own
bytes; opaque keys plus an API that answers ``image_ids`` out of order still save every photo
under its own id (asking ``method: image_id`` for ids it cannot pair), also when URLs expire
and are refreshed; an endless All Photos listing ends the run with the extra ids bounded; and
the report keeps at most ``DOWNLOAD_MAX_KEPT_FAILURES`` failures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.cli import conn, run_cli
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest, manifest_entries, outcome

from ninepic_async._constants import DOWNLOAD_MAX_KEPT_FAILURES, IMAGES_PAGE_SIZE, URL_REFRESH_BATCH
from ninepic_async.download import DownloadEvent, DownloadReport, FileResult, FileStarted, download_originals
from ninepic_async.download import report as report_module
from ninepic_async.download import sources as sources_module
from ninepic_async.testing import Simulator

ALL_PHOTOS_PAGE = IMAGES_PAGE_SIZE[1]


def photo_of_key(sim: Simulator, key: str) -> str:
    """The image id of the photo stored under object ``key`` (``.../large/<name>``)."""
    index = sim.state.resolve_object(sim.event_id, key.rpartition("/large/")[2])
    assert index is not None, key
    return sim.world.image_id_at(index)


# --- listings that repeat a page ------------------------------------------------------------------
async def test_whole_event_listing_repeating_a_page_once_is_walked_again(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=250, seed=71)
    sim.faults.listing_repeat_page = 2
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert sim.counters.listing_pages_repeated == 1
    assert (report.announced, report.missing, report.downloaded, report.failed) == (250, 0, 250, 0)
    assert report.complete
    # The first walk stopped at the repeated page 2; the second walked all 3 pages.
    assert sim.counters.api_requests_by_endpoint["images"] >= 2 + math.ceil(250 / ALL_PHOTOS_PAGE)
    check_dest(sim, tmp_path)


async def test_bib_listing_repeating_a_page_once_is_walked_again(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=300, bib_count=2, seed=5)
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: len(kv[1]))
    assert len(ids) > 2 * URL_REFRESH_BATCH  # three original-photos pages
    sim.faults.listing_repeat_page = 2
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, bib=bib)
    assert sim.counters.listing_pages_repeated == 1
    assert (report.announced, report.missing, report.downloaded, report.failed) == (len(ids), 0, len(ids), 0)
    check_dest(sim, tmp_path, ok=set(ids))


async def test_listing_short_on_both_walks_reports_the_missing_photos(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=250, seed=72)
    sim.faults.listing_repeat_page = 2
    sim.faults.listing_repeat_budget = 100  # every walk gets page 1 twice and stops there
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    delivered = [p.image_id for p in sim.world.photos[:ALL_PHOTOS_PAGE]]
    assert sim.counters.listing_pages_repeated == 2
    assert report.announced == 250
    assert report.missing == 250 - len(delivered)
    assert (report.downloaded, report.failed) == (len(delivered), 0)
    assert report.complete is False
    check_dest(sim, tmp_path, ok=set(delivered))


@pytest.mark.usefixtures("clean_env")
async def test_cli_download_of_a_short_listing_exits_1_saying_how_many_are_missing(
    rsim: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await rsim(photo_count=250, seed=72)
    sim.faults.listing_repeat_page = 2
    sim.faults.listing_repeat_budget = 100
    dest = tmp_path / "short"
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest))
    missing = 250 - ALL_PHOTOS_PAGE
    assert code == 1, (out, err)
    assert f"downloaded {ALL_PHOTOS_PAGE}," in out
    assert f"missing {missing}" in out
    assert f"{missing} of the 250" in err
    assert "Traceback" not in err
    assert len([e for e in manifest_entries(dest) if e["status"] == "ok"]) == ALL_PHOTOS_PAGE


# --- the same basename in different folders -------------------------------------------------------
def _pairs(sim: Simulator, ids: list[str]) -> int:
    """How many photos of ``ids`` share their basename with another of ``ids`` (indices 2k, 2k+1)."""
    positions = {sim.world.index_of(i) for i in ids}
    return sum(1 for i in positions if i is not None and i % 2 == 0 and i + 1 in positions)


async def test_bib_photos_sharing_a_basename_each_land_in_their_own_file(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=120, bib_count=4, seed=73, storage_key_layout="shared_basenames")
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: (_pairs(sim, kv[1]), len(kv[1])))
    assert _pairs(sim, ids) >= 2, "the test needs photos that share a basename"
    assert len(ids) <= URL_REFRESH_BATCH
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, bib=bib, concurrency=4)
    assert (report.announced, report.downloaded, report.failed, report.missing) == (len(ids), len(ids), 0, 0)

    entries = [e for e in manifest_entries(tmp_path) if e["status"] == "ok"]
    assert len(entries) == len(ids)
    names = [e["file"] for e in entries]
    assert len(set(names)) == len(ids)
    by_bytes = {sim.world.content(i): i for i in ids}
    assert len(by_bytes) == len(ids)
    landed: list[str] = []
    for entry in entries:
        data = (tmp_path / entry["file"]).read_bytes()
        assert data in by_bytes, entry
        landed.append(by_bytes[data])
        if "/" in entry["image_id"]:  # a second key with an earlier key's stem: identified by its key
            assert by_bytes[data] == photo_of_key(sim, entry["image_id"])
        else:  # the first key with that stem: identified by the stem
            assert sim.world.photo(by_bytes[data]).filename == entry["image_id"] + ".jpg"
    assert sorted(landed) == sorted(ids)  # every photo once: none collapsed into another
    assert sum("/" in e["image_id"] for e in entries) == _pairs(sim, ids)

    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, tmp_path, bib=bib)
    assert (again.downloaded, again.skipped, again.failed) == (0, len(ids), 0)


async def test_whole_event_with_shared_basenames_saves_every_photo_under_a_unique_name(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=60, seed=74, storage_key_layout="shared_basenames")
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    assert (report.downloaded, report.failed, report.missing) == (60, 0, 0)
    files = check_dest(sim, tmp_path)  # each id's file holds that photo's bytes
    assert len(set(files.values())) == 60
    assert "IMG_0000.jpg" in files.values()
    assert sum(name.startswith("IMG_0000") for name in files.values()) == 2  # one with a suffix


# --- opaque keys and an API that answers out of order -----------------------------------------
@pytest.mark.parametrize("verify", [False, True], ids=["plain", "verify"])
async def test_opaque_keys_and_reordered_answers_save_each_photo_under_its_id(
    rsim: SimFactory, tmp_path: Path, verify: bool
) -> None:
    sim = await rsim(photo_count=130, seed=75, storage_key_layout="opaque")
    sim.faults.api_shuffle_image_ids = True
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, concurrency=4, verify=verify
        )
    assert (report.downloaded, report.failed, report.missing) == (130, 0, 0)
    assert sim.counters.api_shuffled_image_ids >= 1
    assert sim.counters.original_photos_by_method.get("image_id", 0) >= 1
    check_dest(sim, tmp_path)


@pytest.mark.parametrize("verify", [False, True], ids=["plain", "verify"])
async def test_opaque_keys_and_reordered_answers_for_image_ids_save_each_photo_under_its_id(
    rsim: SimFactory, tmp_path: Path, verify: bool
) -> None:
    sim = await rsim(photo_count=100, seed=76, storage_key_layout="opaque")
    sim.faults.api_shuffle_image_ids = True
    wanted = [p.image_id for p in reversed(sim.world.photos[10:80])]  # 70 ids: batches of 60 and 10
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, image_ids=wanted, concurrency=4, verify=verify
        )
    assert (report.announced, report.downloaded, report.failed, report.missing) == (70, 70, 0, 0)
    assert sim.counters.api_shuffled_image_ids >= 1
    assert sim.counters.original_photos_by_method.get("image_id", 0) >= 1
    files = check_dest(sim, tmp_path, ok=set(wanted))
    for image_id, name in files.items():
        assert (tmp_path / name).read_bytes() == sim.world.content(image_id)


async def test_opaque_key_of_a_single_id_pairs_without_asking_again(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=20, seed=77, storage_key_layout="opaque")
    wanted = sim.world.photos[7].image_id
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, image_ids=[wanted])
    assert (report.downloaded, report.failed) == (1, 0)
    assert sim.counters.original_photos_by_method == {"image_ids": 1}
    check_dest(sim, tmp_path, ok={wanted})


@pytest.mark.parametrize("selection", ["whole_event", "image_ids"])
async def test_expired_urls_with_opaque_keys_are_refreshed_by_id(
    rsim: SimFactory, tmp_path: Path, selection: str
) -> None:
    sim = await rsim(
        photo_count=90, seed=78, storage_key_layout="opaque", expired_error_code="ExpiredRequest"
    )
    sim.faults.api_shuffle_image_ids = True
    wanted = [p.image_id for p in sim.world.photos]
    kwargs: dict[str, Any] = {"whole_event": True} if selection == "whole_event" else {"image_ids": wanted}

    def on_event(event: DownloadEvent) -> None:
        # Once the first file has started, move the store's clock past the lifetime of every URL
        # signed so far: the queued jobs' URLs are refused as expired and must be renewed.
        if isinstance(event, FileStarted):
            sim.faults.clock_skew_s = 7200.0

    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, concurrency=4, on_event=on_event, **kwargs
        )
    assert (report.downloaded, report.failed) == (90, 0), report.failures[:3]
    assert sim.counters.storage_expired >= 1
    listing_calls = math.ceil(90 / URL_REFRESH_BATCH)
    assert sim.counters.original_photos_by_method["image_ids"] > listing_calls  # refreshes happened
    check_dest(sim, tmp_path, ok=set(wanted))


# --- an endless listing ------------------------------------------------------------------------------
async def test_endless_listing_stops_with_the_extra_ids_bounded(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrun = 300
    kept = 50
    monkeypatch.setattr(sources_module, "LISTING_OVERRUN_IDS", overrun)
    monkeypatch.setattr(report_module, "DOWNLOAD_MAX_KEPT_FAILURES", kept)
    sim = await rsim(photo_count=150, seed=79)
    sim.faults.listing_endless = True
    async with new_client(sim) as client:
        with anyio.fail_after(60):  # a hang guard only
            report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    real = {p.image_id for p in sim.world.photos}
    bound = overrun + ALL_PHOTOS_PAGE  # the listing is stopped at the end of a page
    # Served: up to the page that crossed the limit, plus the one page loaded ahead.
    assert sim.counters.listing_endless_images <= bound + ALL_PHOTOS_PAGE
    assert sim.counters.api_requests_by_endpoint["images"] <= math.ceil((150 + bound) / ALL_PHOTOS_PAGE) + 1
    assert report.announced == 150 and report.downloaded == 150
    assert overrun < report.failed <= bound  # each made-up id taken is reported failed: no photo has it
    assert report.complete is False
    assert len(report.failures) == kept
    assert not {f.image_id for f in report.failures} & real
    entries = manifest_entries(tmp_path)
    assert len(entries) <= 150 + bound
    latest = outcome(tmp_path)
    assert {i for i, e in latest.items() if e["status"] == "ok"} == real
    check_dest(sim, tmp_path, foreign_ids={i for i in latest if i not in real})


def test_report_keeps_the_first_failures_up_to_the_cap_and_counts_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report_module, "DOWNLOAD_MAX_KEPT_FAILURES", 3)
    report = DownloadReport()
    failures = [FileResult(f"id-{n}", "failed", error="boom") for n in range(5)]
    for result in failures:
        report.add(result)
    report.add(FileResult("ok-1", "ok", "a.jpg", 10))
    assert report.failed == 5 and report.downloaded == 1
    assert report.failures == failures[:3]
    assert DOWNLOAD_MAX_KEPT_FAILURES >= 1000  # the real cap keeps a useful list
