"""Name templates against the simulator: folders from fields, safe and unique names, the relative
path in the manifest, resume, hostile server names, and files the run does not own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, outcome

from ninepic_async import RequestValidationError
from ninepic_async._constants import MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import DownloadOptions, check_destination, download_originals, plan_originals
from ninepic_async.download.integrity import Announced
from ninepic_async.download.manifest import Manifest
from ninepic_async.testing import Simulator


def tree(dest: Path) -> set[str]:
    """Every file under ``dest`` as a relative path (symlinks not followed)."""
    return {
        os.path.relpath(os.path.join(root, name), dest).replace(os.sep, "/")
        for root, _dirs, files in os.walk(dest)
        for name in files
    }


def assert_recorded_files_match(sim: Simulator, dest: Path) -> dict[str, str]:
    latest = outcome(dest)
    files = {i: e["file"] for i, e in latest.items() if e["status"] == "ok"}
    for image_id, name in files.items():
        assert (dest / name).read_bytes() == sim.world.content(image_id), name
    assert tree(dest) == {MANIFEST_NAME, *files.values()}
    return files


async def test_bib_folders_hold_each_bibs_photos(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=60, bib_count=4, seed=11)
    bibs = sorted(sim.world.bibs)[:2]
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, bib=bibs, name_template="{bib}/{filename}", concurrency=4
        )
        again = await download_originals(
            client, sim.event_id, tmp_path, bib=bibs, name_template="{bib}/{filename}"
        )
    files = assert_recorded_files_match(sim, tmp_path)
    first = set(sim.world.bibs[bibs[0]])
    for image_id, name in files.items():
        folder = name.split("/")[0]
        assert folder == (bibs[0] if image_id in first else bibs[1])
    assert report.complete and (again.downloaded, again.skipped) == (0, len(files))


async def test_event_and_image_id_fields_and_a_dry_run_agree(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=12, seed=12)
    template = "{event_id}/{image_id}{ext}"
    async with new_client(sim) as client:
        planned = [
            p.filename
            async for p in plan_originals(
                client, sim.event_id, None, whole_event=True, name_template=template
            )
        ]
        options = DownloadOptions(concurrency=3, name_template=template)
        await download_originals(client, sim.event_id, tmp_path, whole_event=True, options=options)
    files = assert_recorded_files_match(sim, tmp_path)
    assert sorted(files.values()) == sorted(f"{sim.event_id}/{p.image_id}.jpg" for p in sim.world.photos)
    assert sorted(planned) == sorted(files.values())  # type: ignore[type-var]


async def test_hostile_server_names_stay_inside_the_destination(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=40, hostile_filenames=True, seed=13)
    dest = tmp_path / "dest"
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, dest, whole_event=True, name_template="x/{stem}/{filename}"
        )
    assert report.complete
    assert os.listdir(tmp_path) == ["dest"]
    files = assert_recorded_files_match(sim, dest)
    for name in files.values():
        parts = name.split("/")
        assert len(parts) == 3 and parts[0] == "x" and all(p and p not in (".", "..") for p in parts)
        assert os.path.realpath(dest / name).startswith(os.path.realpath(dest) + os.sep)
    keys = {name.casefold() for name in files.values()}
    assert len(keys) == len(files)  # unique, even case-insensitively


async def test_a_file_the_run_does_not_own_is_never_overwritten(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=6, seed=14)
    photo = sim.world.photos[2]
    theirs = tmp_path / str(sim.event_id) / f"{photo.image_id}.jpg"
    theirs.parent.mkdir()
    theirs.write_bytes(b"somebody else's file")
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, name_template="{event_id}/{image_id}{ext}"
        )
    assert report.complete
    assert theirs.read_bytes() == b"somebody else's file"
    name = outcome(tmp_path)[photo.image_id]["file"]
    assert name != f"{sim.event_id}/{photo.image_id}.jpg" and name.startswith(f"{sim.event_id}/")
    assert (tmp_path / name).read_bytes() == sim.world.content(photo.image_id)


async def test_a_symlinked_folder_is_never_followed(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=4, seed=15)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / str(sim.event_id)).symlink_to(outside, target_is_directory=True)
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, dest, whole_event=True, name_template="{event_id}/{filename}"
        )
    assert report.failed == 4 and os.listdir(outside) == []
    assert all("something else" in (f.error or "") for f in report.failures)


async def test_a_templated_part_file_is_resumed_by_range(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=5, photo_size=(40_000, 60_000), seed=16)
    photo = sim.world.photos[3]
    content = sim.world.content(photo.image_id)
    name = f"{sim.event_id}/{photo.image_id}.jpg"
    (tmp_path / str(sim.event_id)).mkdir()
    (tmp_path / (name + PART_SUFFIX)).write_bytes(content[:25_000])
    manifest = Manifest(tmp_path)
    manifest.open()
    manifest.partial(photo.image_id, name, Announced(len(content), f'"{sim.world.md5(photo.image_id)}"'))
    manifest.close()
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, name_template="{event_id}/{image_id}{ext}"
        )
    assert report.downloaded == 5 and sim.counters.storage_ranged == 1
    assert sim.counters.storage_bytes_by_image[photo.image_id] == len(content) - 25_000
    assert_recorded_files_match(sim, tmp_path)


async def test_bib_field_needs_a_bib_selection(sim: Simulator, tmp_path: Path) -> None:
    async with new_client(sim) as client:
        with pytest.raises(RequestValidationError, match="needs a BIB selection"):
            await download_originals(
                client, sim.event_id, tmp_path, whole_event=True, name_template="{bib}/{filename}"
            )
    assert sim.counters.api_requests == 0


async def test_check_reads_templated_names_and_finds_extras_in_their_folders(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=6, seed=17)
    async with new_client(sim) as client:
        await download_originals(
            client, sim.event_id, tmp_path, whole_event=True, name_template="{event_id}/{filename}"
        )
    assert (await check_destination(tmp_path)).clean
    (tmp_path / str(sim.event_id) / "stray.jpg").write_bytes(b"not ours")
    report = await check_destination(tmp_path)
    assert report.extra == 1 and [p.file for p in report.problems] == [f"{sim.event_id}/stray.jpg"]


async def test_a_dry_run_never_reaches_through_a_symlinked_folder(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, seed=18)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / str(sim.event_id)).symlink_to(outside, target_is_directory=True)
    planted = outside / f"{sim.world.photos[0].image_id}.jpg{PART_SUFFIX}"
    planted.symlink_to(tmp_path / "anything")
    template = "{event_id}/{image_id}{ext}"
    async with new_client(sim) as client:
        planned = [
            p
            async for p in plan_originals(
                client, sim.event_id, dest, whole_event=True, name_template=template
            )
        ]
    assert [p.resume_from_bytes for p in planned] == [0, 0, 0]
    assert planted.is_symlink()
