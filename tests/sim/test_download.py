"""The downloader against the simulator: selections, resume, names, manifest, dry run, validation."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory

from ninepic_async import DestinationError, RequestValidationError
from ninepic_async._constants import MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    DownloadReport,
    FileFinished,
    FileStarted,
    PlannedEvent,
    UrlJob,
    download_originals,
    download_url_list,
    iter_download_originals,
    plan_originals,
    read_manifest,
)
from ninepic_async.download.integrity import Announced
from ninepic_async.download.manifest import Manifest
from ninepic_async.download.names import sanitize_filename
from ninepic_async.testing import Simulator


def manifest_lines(dest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (dest / MANIFEST_NAME).read_text().splitlines()]


def assert_files_match(sim: Simulator, dest: Path, ids: list[str]) -> None:
    """Every id is on disk under its manifest name with the simulator's exact bytes."""
    names = {e["image_id"]: e["file"] for e in manifest_lines(dest) if e["status"] == "ok"}
    for image_id in ids:
        assert (dest / names[image_id]).read_bytes() == sim.world.content(image_id), image_id


def photo_files(dest: Path) -> list[str]:
    return sorted(n for n in os.listdir(dest) if n != MANIFEST_NAME)


async def test_bib_with_several_pages(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=300, bib_count=2, seed=5)
    bib, ids = max(sim.world.bibs.items(), key=lambda kv: len(kv[1]))
    assert len(ids) > 60
    events: list[DownloadEvent] = []
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, bib=bib.lower(), concurrency=4, on_event=events.append
        )
    assert (report.downloaded, report.failed, report.skipped) == (len(ids), 0, 0)
    assert sim.counters.original_photos_by_method.get("bib", 0) == math.ceil(len(ids) / 60)
    assert_files_match(sim, tmp_path, ids)
    assert report.bytes == sum(sim.world.photo(i).size for i in ids)
    assert report.manifest_path == str(tmp_path / MANIFEST_NAME)
    planned = [e for e in events if isinstance(e, PlannedEvent)]
    assert planned == [PlannedEvent(len(ids))]
    assert sum(isinstance(e, FileStarted) for e in events) == len(ids)
    assert sum(e.n for e in events if isinstance(e, BytesReceived)) == report.bytes
    assert sum(isinstance(e, FileFinished) for e in events) == len(ids)
    assert sim.counters.storage_requests_with_api_key == 0
    assert not any(n.endswith(PART_SUFFIX) for n in os.listdir(tmp_path))


async def test_selfie_request_id(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=150, seed=2)
    request_id, ids = max(sim.world.selfie_request_ids.items(), key=lambda kv: len(kv[1]))
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, selfie=request_id)
    assert report.downloaded == len(ids) and report.failed == 0
    assert sim.counters.original_photos_by_method.get("selfie", 0) >= 1
    assert_files_match(sim, tmp_path, ids)


async def test_image_ids_with_missing_ones(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=100, missing_count=4, seed=3)
    missing = sim.world.missing_ids
    present = [p.image_id for p in sim.world.photos if p.image_id not in missing][:70]
    unknown = "00000000-0000-4000-8000-000000000000"
    wanted = [*present[:35], *missing, unknown, *present[35:], present[0]]  # duplicate dropped
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, image_ids=wanted)
    assert report.downloaded == 70 and report.failed == 5
    assert sim.counters.original_photos_by_method.get("image_ids", 0) == 2  # 75 ids -> 60 + 15
    failed = {f.image_id: f for f in report.failures}
    assert set(failed) == {*missing, unknown}
    assert all(m in (failed[m].path or "") for m in missing)
    lines = {e["image_id"]: e for e in manifest_lines(tmp_path)}
    for image_id in [*missing, unknown]:
        assert lines[image_id]["status"] == "failed" and lines[image_id]["error"]
    assert all(lines[m]["path"] for m in missing)
    assert_files_match(sim, tmp_path, present)


async def test_batch_of_only_missing_ids_fails_each_id(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=40, missing_count=3, seed=3)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, image_ids=sim.world.missing_ids)
    assert report.failed == 3 and report.downloaded == 0
    assert {e["image_id"] for e in manifest_lines(tmp_path)} == set(sim.world.missing_ids)


async def test_whole_event_then_rerun_skips_everything(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=200, missing_count=2, seed=4)
    ids = [p.image_id for p in sim.world.photos]
    events: list[DownloadEvent] = []
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, concurrency=8, on_event=events.append
        )
        assert report.downloaded == 198 and report.failed == 2
        assert PlannedEvent(200) in events
        assert sim.counters.original_photos_by_method["image_ids"] == math.ceil(200 / 60)
        ok_ids = [i for i in ids if i not in sim.world.missing_ids]
        assert_files_match(sim, tmp_path, ok_ids)
        assert len(photo_files(tmp_path)) == 198

        served = sim.counters.storage_bytes_served
        calls = sim.counters.original_photos_by_method["image_ids"]
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (again.downloaded, again.skipped, again.failed) == (0, 198, 2)
    assert again.bytes == 0
    assert sim.counters.storage_bytes_served == served
    # Only the two failed ids were asked for again.
    assert sim.counters.original_photos_by_method["image_ids"] == calls + 1


async def test_rerun_redownloads_a_deleted_file_under_the_same_name(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=20, seed=6)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        victim = photo_files(tmp_path)[3]
        (tmp_path / victim).unlink()
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.skipped) == (1, 19)
    assert victim in photo_files(tmp_path)


def record_partial(dest: Path, image_id: str, name: str, size: int, etag: str) -> None:
    """The ``partial`` line a run writes when a fresh ``.part`` first reaches the disk."""
    manifest = Manifest(dest)
    manifest.open()
    manifest.partial(image_id, name, Announced(size, etag))
    manifest.close()


async def test_a_part_file_of_an_unknown_object_version_is_restarted_never_spliced(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, photo_size=(40_000, 60_000), seed=7)
    photo = sim.world.photos[1]
    name = sanitize_filename(photo.filename, photo.image_id)
    (tmp_path / (name + PART_SUFFIX)).write_bytes(b"\0" * 25_000)  # no partial line: whose bytes?
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 3
    assert sim.counters.storage_ranged == 0
    assert (tmp_path / name).read_bytes() == sim.world.content(photo.image_id)


async def test_part_file_of_a_killed_run_is_resumed_by_range(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=10, photo_size=(40_000, 60_000), seed=7)
    photo = sim.world.photos[4]
    content = sim.world.content(photo.image_id)
    name = sanitize_filename(photo.filename, photo.image_id)
    (tmp_path / (name + PART_SUFFIX)).write_bytes(content[:25_000])
    record_partial(tmp_path, photo.image_id, name, len(content), f'"{sim.world.md5(photo.image_id)}"')
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == 10
    assert sim.counters.storage_ranged == 1
    assert sim.counters.storage_bytes_by_image[photo.image_id] == len(content) - 25_000
    assert (tmp_path / name).read_bytes() == content
    assert not (tmp_path / (name + PART_SUFFIX)).exists()


async def test_complete_part_file_is_renamed_without_refetching(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, seed=7)
    photo = sim.world.photos[0]
    name = sanitize_filename(photo.filename, photo.image_id)
    (tmp_path / (name + PART_SUFFIX)).write_bytes(sim.world.content(photo.image_id))
    record_partial(tmp_path, photo.image_id, name, photo.size, f'"{sim.world.md5(photo.image_id)}"')
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, image_ids=[photo.image_id])
    assert report.downloaded == 1
    assert sim.counters.storage_bytes_by_image.get(photo.image_id, 0) == 0
    assert (tmp_path / name).read_bytes() == sim.world.content(photo.image_id)


async def test_iter_download_originals_yields_each_result(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=30, missing_count=1, seed=9)
    async with new_client(sim) as client:
        results = [r async for r in client.iter_download_originals(sim.event_id, tmp_path, whole_event=True)]
        assert sorted(r.status for r in results).count("ok") == 29
        assert [r.status for r in results].count("failed") == 1
        again = [r async for r in iter_download_originals(client, sim.event_id, tmp_path, whole_event=True)]
    assert [r.status for r in again].count("skipped") == 29


async def test_iter_download_originals_early_exit_stops_the_pool(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=60, seed=9)
    sim.faults.storage_latency_s = 0.02
    async with new_client(sim) as client:
        async with contextlib.aclosing(
            iter_download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=2)
        ) as results:
            async for _ in results:
                break
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.skipped >= 1 and report.downloaded + report.skipped == 60


async def test_download_url_list_without_api(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=12, seed=10)
    async with new_client(sim) as client:
        page = await client.original_photos(sim.event_id, "bib", next(iter(sim.world.bibs)))
    before = sim.counters.api_requests
    jobs = [UrlJob(url=item.url, filename=item.filename) for item in page.presigned_urls]
    report = await download_url_list(jobs, tmp_path, concurrency=3)
    assert report.downloaded == len(jobs) and report.failed == 0
    assert sim.counters.api_requests == before
    ids = [e["image_id"] for e in manifest_lines(tmp_path)]
    assert_files_match(sim, tmp_path, ids)


async def test_plan_originals_is_a_dry_run(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=30, missing_count=2, seed=11)
    dest = tmp_path / "dry"
    async with new_client(sim) as client:
        planned = [p async for p in plan_originals(client, sim.event_id, dest, whole_event=True)]
        assert not dest.exists()
        assert sim.counters.storage_requests == 0
        assert [p.action for p in planned].count("download") == 28
        assert {p.image_id for p in planned if p.action == "failed"} == set(sim.world.missing_ids)
        report = await download_originals(client, sim.event_id, dest, whole_event=True)
        replanned = [p async for p in plan_originals(client, sim.event_id, dest, whole_event=True)]
    assert [p.action for p in replanned].count("skip") == 28
    by_id = {e["image_id"]: e["file"] for e in manifest_lines(dest) if e["status"] == "ok"}
    assert all(p.filename == by_id[p.image_id] for p in planned if p.action == "download")
    assert report.downloaded == 28


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "selection"),
        ({"bib": "1", "whole_event": True}, "selection"),
        ({"bib": "1", "selfie": "r"}, "selection"),
        ({"bib": "  "}, "bib"),
        ({"image_ids": []}, "image_ids"),
        ({"image_ids": "abc"}, "image_ids"),
        ({"image_ids": ["ok", ""]}, "image_ids[1]"),
        ({"whole_event": True, "concurrency": 0}, "concurrency"),
        ({"whole_event": True, "chunk_size": 0}, "chunk_size"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    sim: Simulator, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    async with new_client(sim) as client:
        with pytest.raises(RequestValidationError) as caught:
            await download_originals(client, sim.event_id, tmp_path, **kwargs)
        assert caught.value.field == field
        with pytest.raises(RequestValidationError):
            async for _ in iter_download_originals(client, sim.event_id, tmp_path, **kwargs):
                pass
    assert sim.counters.api_requests == 0


async def test_dest_that_is_a_file_fails_before_any_request(sim: Simulator, tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    async with new_client(sim) as client:
        with pytest.raises(DestinationError):
            await download_originals(client, sim.event_id, target, whole_event=True)
    assert sim.counters.api_requests == 0


async def test_report_shape(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=5, seed=12)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert isinstance(report, DownloadReport) and report.elapsed_s > 0
    assert report.failures == [] and report.bytes == sum(p.size for p in sim.world.photos)
    assert [e.status for e in read_manifest(tmp_path / MANIFEST_NAME)] == ["ok"] * 5
