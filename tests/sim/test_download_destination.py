"""The destination fights back — disk full, not writable, a damaged manifest,
two runs at once, files that are not ours. Clear errors, nothing lost, reruns complete."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import conn, run_cli
from helpers.clients import new_client
from helpers.sim import (
    SimFactory,
    all_ids,
    check_dest,
    outcome,
    settle,
)

from ninepic_async import DestinationError
from ninepic_async._constants import LOCK_NAME, MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import FileFinished, download_originals, read_manifest
from ninepic_async.download.lock import DestinationLock
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def mount_tmpfs(where: Path, options: str) -> str | None:
    """Mount a tmpfs at ``where``; the reason it cannot be done, or None."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"mount could not run: {exc}"
    return None if done.returncode == 0 else f"mount -t tmpfs is not permitted here: {done.stderr.strip()}"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (skipped, with the reason, where mounting is not permitted)."""
    where = tmp_path / "small"
    reason = mount_tmpfs(where, "size=2m")
    if reason is not None:
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=10)


def ok_ids(dest: Path) -> set[str]:
    return {i for i, e in outcome(dest, strict=False).items() if e["status"] == "ok"}


def check_partial(sim: Simulator, dest: Path) -> set[str]:
    """After a failed run: every ok file is intact and nothing else but .part files is there."""
    latest = outcome(dest, strict=False)
    ok = {i for i, e in latest.items() if e["status"] == "ok"}
    names = {latest[i]["file"] for i in ok}
    for image_id in ok:
        assert (dest / latest[image_id]["file"]).read_bytes() == sim.world.content(image_id)
    for name in os.listdir(dest):
        assert name in names or name == MANIFEST_NAME or name.endswith(PART_SUFFIX), name
    assert all(e["status"] == "ok" for e in latest.values())  # a destination error is no per-file failure
    return ok


# -- disk full ---------------------------------------------------------------------------


async def test_disk_full_on_a_real_small_tmpfs_then_free_space_and_rerun(
    rsim: SimFactory, small_tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=40, photo_size=(30_000, 50_000), seed=301)
    filler = small_tmpfs / "filler.bin"
    filler.write_bytes(b"\0" * 1_100_000)
    dest = small_tmpfs / "out"
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest))
    assert code == 5, (out, err)
    assert "disk full" in err and "Traceback" not in err and sim.api_key not in err
    done = check_partial(sim, dest)
    assert 0 < len(done) < 40
    for line in (dest / MANIFEST_NAME).read_bytes().splitlines():  # readable: no torn line
        json.loads(line)
    filler.unlink()
    served_by_image = dict(sim.counters.storage_bytes_by_image)
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest))
    assert code == 0, err
    assert f"skipped {len(done)}" in out
    check_dest(sim, dest)
    await settle(sim)
    for image_id in done:  # completed before the disk filled: not fetched again
        assert sim.counters.storage_bytes_by_image[image_id] == served_by_image[image_id]


@pytest.mark.parametrize("where", ["part", "manifest"])
async def test_injected_enospc_stops_the_run_keeps_what_was_done_and_reruns(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    sim = await rsim(photo_count=40, photo_size=(5_000, 20_000), seed=302)
    real_write = os.write
    writes = 0

    def write(fd: int, data: Any) -> int:
        nonlocal writes
        path = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
        target = path.endswith(PART_SUFFIX) if where == "part" else path.endswith(MANIFEST_NAME)
        if target:
            writes += 1
            if writes == 16 and where == "manifest":  # a short write first, as a filling disk does
                return real_write(fd, bytes(data)[:10])
            if writes > 15:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    real_writev = os.writev

    def writev(fd: int, buffers: Any) -> int:
        return write(fd, b"".join(buffers)) if buffers else real_writev(fd, buffers)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "writev", writev)
    finished: list[str] = []
    async with new_client(sim) as client:
        with pytest.raises(DestinationError, match="disk full"):
            await download_originals(
                client,
                sim.event_id,
                tmp_path,
                whole_event=True,
                concurrency=4,
                on_event=lambda e: (
                    finished.append(e.result.image_id) if isinstance(e, FileFinished) else None
                ),
            )
    monkeypatch.setattr(os, "write", real_write)
    monkeypatch.setattr(os, "writev", real_writev)
    done = check_partial(sim, tmp_path)
    assert done <= set(finished)
    assert 0 < len(done) <= 15
    assert not (tmp_path / LOCK_NAME).exists()
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.failed == 0 and report.downloaded + report.skipped == 40
    check_dest(sim, tmp_path)  # strict: no torn line was left behind


# -- not writable ------------------------------------------------------------------------


async def test_unwritable_destinations_fail_fast_with_a_clear_error(
    rsim: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=10, seed=303)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(a_file / "sub"))
    assert code == 5 and "cannot" in err and "Traceback" not in err, err
    readonly = tmp_path / "ro"
    reason = mount_tmpfs(readonly, "ro,size=1m")
    if reason is None:
        try:
            code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(readonly))
            assert code == 5 and "not writable" in err and "Traceback" not in err, err
            code, _, err = await run_cli(
                capsys, "download", *conn(sim), "--all", "--out", str(readonly / "x")
            )
            assert code == 5 and "Traceback" not in err, err
        finally:
            subprocess.run(["umount", "-l", str(readonly)], check=False, timeout=10)
    assert sim.counters.api_requests == 0  # nothing was asked before the destination was checked
    assert a_file.read_text() == "not a directory"


async def test_eacces_on_some_part_files_fails_those_photos_and_the_run_goes_on(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=40, photo_size=(5_000, 20_000), seed=304)
    real_open = os.open
    opened = 0

    def guarded_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        nonlocal opened
        if str(path).endswith(PART_SUFFIX):
            opened += 1
            if opened > 12:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=4)
    monkeypatch.setattr(os, "open", real_open)
    assert report.failed == 40 - report.downloaded and report.failed > 0
    assert all("Permission denied" in (f.error or "") for f in report.failures)
    done = ok_ids(tmp_path)
    assert 0 < len(done) <= 12 and len(done) == report.downloaded
    check_dest(sim, tmp_path, ok=done, failed={f.image_id for f in report.failures})
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded + report.skipped, report.failed) == (40, 0)
    check_dest(sim, tmp_path)


# -- a damaged manifest ------------------------------------------------------------------


async def test_garbage_and_torn_manifest_lines_are_skipped_with_a_warning_never_a_crash(
    rsim: SimFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await rsim(photo_count=30, seed=305)
    dest = tmp_path / "dest"
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, dest, whole_event=True)
    manifest = dest / MANIFEST_NAME
    lines = manifest.read_bytes().splitlines(keepends=True)
    latest = outcome(dest)
    victim = json.loads(lines[10])["image_id"]  # its only line is destroyed below
    other = json.loads(lines[20])  # a fake id claims its file below
    steered = [json.loads(lines[n])["image_id"] for n in (3, 4)]  # later lines try to steer writes

    def failed_line(image_id: str, file: str) -> bytes:
        return json.dumps(
            {"v": 1, "image_id": image_id, "status": "failed", "file": file, "time": 1}
        ).encode()

    planted = [
        b"\x00\xff garbage \xfe",
        b'{"v":1,"image_id":5,"status":"ok"}',
        b"[1, 2, 3]",
        b'{"v":1,"image_id":"thief","status":"ok","file":"'
        + other["file"].encode()
        + b'","bytes":1,"time":1}',
        failed_line(steered[0], "../escape.jpg"),  # a retry would write outside the destination
        failed_line(steered[1], MANIFEST_NAME),  # ... or over the manifest itself
    ]
    # Last, a line torn by a crash mid-write (no newline): the rerun's first line must not be glued to it.
    torn = b'{"v":1,"image_id":"' + victim.encode() + b'","status":"fa'
    manifest.write_bytes(
        b"".join(lines[:10])
        + b"{this is not json\n"
        + b"".join(lines[11:])
        + b"\n".join(planted)
        + b"\n"
        + torn
    )
    served = dict(sim.counters.storage_bytes_by_image)
    with caplog.at_level(logging.WARNING, logger="ninepic_async"):
        async with new_client(sim) as client:
            report = await download_originals(client, sim.event_id, dest, whole_event=True)
    # The victim (line lost) and the photo whose name was disputed are fetched again; the rest
    # (the two steered ones too: their bad lines are ignored) are complete and skipped.
    assert (report.downloaded, report.skipped, report.failed) == (2, 28, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("unreadable" in w or "skipped" in w for w in warnings) >= 6, warnings
    await settle(sim)
    for image_id in all_ids(sim) - {victim, other["image_id"]}:
        assert sim.counters.storage_bytes_by_image[image_id] == served[image_id]
    # Their files were still on disk with the same bytes: adopted, not duplicated. (The planted
    # lines are dropped first so the strict check reads the manifest as the downloader did.)
    genuine = [line for line in manifest.read_bytes().splitlines() if line not in [*planted, torn]]
    manifest.write_bytes(b"".join(line + b"\n" for line in genuine if line != b"{this is not json"))
    files = check_dest(sim, dest)
    assert files[victim] == latest[victim]["file"] and files[other["image_id"]] == other["file"]
    assert os.listdir(tmp_path) == ["dest"]


# -- two runs at once ----------------------------------------------------------------------


async def test_a_second_run_on_the_same_destination_fails_fast_naming_the_first(
    rsim: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=30, seed=306)
    sim.faults.storage_latency_s = 0.05
    async with new_client(sim) as client:
        first = asyncio.create_task(
            download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=2)
        )
        while not (tmp_path / MANIFEST_NAME).exists():
            assert not first.done(), first  # the first run must be under way
            await asyncio.sleep(0.01)
        with pytest.raises(
            DestinationError, match=rf"another download is already running.*pid {os.getpid()}"
        ):
            await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(tmp_path))
        assert code == 5 and "another download is already running" in err and f"pid {os.getpid()}" in err
        report = await first
    assert report.downloaded == 30
    check_dest(sim, tmp_path)  # the lock file is gone once the run ends
    sim.faults.storage_latency_s = 0.0
    async with new_client(sim) as client:  # and the destination is free again
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert again.skipped == 30


def test_the_lock_survives_its_file_being_replaced_and_is_released(tmp_path: Path) -> None:
    with DestinationLock(tmp_path):
        assert "pid" in (tmp_path / LOCK_NAME).read_text()
        with pytest.raises(DestinationError, match="already running"):
            DestinationLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text("stale: left by a killed run")
    with DestinationLock(tmp_path):  # a stale file is no lock
        pass


# -- files that are not ours ---------------------------------------------------------------


async def test_a_users_file_at_a_photos_name_is_never_overwritten(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=12, seed=307)
    photos = list(sim.world.photos)
    mine = tmp_path / photos[3].filename
    mine.write_bytes(b"the user's own file, not from 9Pic")
    same = tmp_path / photos[5].filename  # identical content left by a run that lost its manifest
    same.write_bytes(sim.world.content(photos[5].image_id))
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        assert report.downloaded == 12
        assert mine.read_bytes() == b"the user's own file, not from 9Pic"
        latest = outcome(tmp_path)
        assert latest[photos[3].image_id]["file"] != photos[3].filename  # saved under another name
        assert latest[photos[5].image_id]["file"] == photos[5].filename  # adopted
        mine.rename(tmp_path.parent / "kept-aside")
        files = check_dest(sim, tmp_path)
        # A .part beside a completed file (a run killed just after adopting one) is stale: dropped.
        (tmp_path / (files[photos[5].image_id] + PART_SUFFIX)).write_bytes(b"stale")
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert again.skipped == 12
    assert outcome(tmp_path) == latest and check_dest(sim, tmp_path) == files
    assert list(read_manifest(tmp_path / MANIFEST_NAME))
