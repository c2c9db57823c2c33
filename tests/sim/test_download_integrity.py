"""What "complete" means, against hostile stores: a photo is recorded ``ok`` only when its bytes
are proven complete and belong to that photo, and one bad file never stops the others.

Covers: verify reruns re-hash files on disk; names that cannot hold a photo; ranged answers
that contradict the first one; bodies of unknown length; answers that are not photos; objects
replaced between runs (If-Range); objects larger than the free space; slow bodies; storage
certificate errors; the per-file durability (fsync) and the directory lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import resource
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web
from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest, expected_names, manifest_entries, outcome

from ninepic_async import DestinationError
from ninepic_async._constants import LOCK_NAME, MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    DownloadOptions,
    FileFinished,
    FilePolicy,
    FileStarted,
    PlannedEvent,
    UrlJob,
    download_originals,
    download_url_list,
)
from ninepic_async.download import fetch as fetch_module
from ninepic_async.download import integrity as integrity_module
from ninepic_async.download import policy as policy_module
from ninepic_async.download import run as run_module
from ninepic_async.download.integrity import Announced, DigestName
from ninepic_async.download.lock import DestinationLock
from ninepic_async.download.manifest import Manifest
from ninepic_async.download.names import sanitize_filename
from ninepic_async.testing import Simulator


def record_partial(dest: Path, image_id: str, name: str, size: int, etag: str) -> None:
    """The ``partial`` line a run writes when a fresh ``.part`` first reaches the disk."""
    manifest = Manifest(dest)
    manifest.open()
    manifest.partial(image_id, name, Announced(size, etag))
    manifest.close()


def plant_half_part(sim: Simulator, dest: Path, index: int) -> tuple[str, str]:
    """A ``.part`` holding the first half of photo ``index``, as a killed run leaves it: (id, name)."""
    photo = sim.world.photos[index]
    name = expected_names(sim)[photo.image_id]
    dest.mkdir(exist_ok=True)
    content = sim.world.content(photo.image_id)
    (dest / (name + PART_SUFFIX)).write_bytes(content[: len(content) // 2])
    record_partial(dest, photo.image_id, name, len(content), f'"{sim.world.md5(photo.image_id)}"')
    return photo.image_id, name


# -- verify: files already on disk are re-hashed ---------------------------------------------


async def test_a_verify_rerun_refetches_a_same_size_file_whose_bytes_changed(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=6, seed=401)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        manifest = Manifest(tmp_path)
        manifest.open()
        manifest.synced(manifest.size)  # as a run that lasted past a sync writes it
        manifest.close()
        victim = sim.world.photos[2].image_id
        name = expected_names(sim)[victim]
        size = (tmp_path / name).stat().st_size
        (tmp_path / name).write_bytes(b"\0" * size)  # same size, other bytes
        plain = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        assert plain.skipped == 6  # without verify a rerun trusts a synced file of the recorded size
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert (report.downloaded, report.skipped, report.failed) == (1, 5, 0)
    check_dest(sim, tmp_path)


@pytest.mark.parametrize("digest", ["crc32c", "sha256"])
async def test_every_ok_line_records_the_digest_of_its_file(
    rsim: SimFactory, tmp_path: Path, digest: str
) -> None:
    import hashlib

    import crc32c

    sim = await rsim(photo_count=5, photo_size=(1_500_000, 2_500_000), seed=402)
    options = DownloadOptions(chunk_size=65_536, digest=digest)  # type: ignore[arg-type]
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True, options=options)
    for entry in outcome(tmp_path).values():
        data = (tmp_path / entry["file"]).read_bytes()
        expected = f"{crc32c.crc32c(data):08x}" if digest == "crc32c" else hashlib.sha256(data).hexdigest()
        assert entry["digest"] == f"{digest}:{expected}"


# -- names that cannot hold a photo ----------------------------------------------------------


async def test_a_directory_at_a_finished_photos_name_moves_that_photo_and_the_rest_come_back(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=6, seed=403)
    names = expected_names(sim)
    blocked, deleted = sim.world.photos[1].image_id, sim.world.photos[4].image_id
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        (tmp_path / names[blocked]).unlink()
        (tmp_path / names[blocked]).mkdir()
        (tmp_path / names[blocked] / "keep.txt").write_text("mine")
        (tmp_path / names[deleted]).unlink()
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        assert (report.downloaded, report.skipped, report.failed) == (2, 4, 0)
        again = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (again.skipped, again.failed) == (6, 0)
    latest = outcome(tmp_path)
    assert latest[blocked]["file"] != names[blocked]
    oks_naming_the_directory = [
        e for e in manifest_entries(tmp_path) if e["status"] == "ok" and e["file"] == names[blocked]
    ]
    assert len(oks_naming_the_directory) == 1  # the first run's: no ok line ever names the directory
    assert (tmp_path / latest[blocked]["file"]).read_bytes() == sim.world.content(blocked)
    assert (tmp_path / names[deleted]).read_bytes() == sim.world.content(deleted)
    assert (tmp_path / names[blocked] / "keep.txt").read_text() == "mine"


async def test_a_manifest_name_longer_than_a_file_name_can_be_is_ignored(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, seed=404)
    victim = sim.world.photos[0].image_id
    line = {"v": 1, "image_id": victim, "status": "ok", "file": "A" * 300 + ".jpg", "bytes": 5, "time": 1.0}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(line) + "\n")
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 0)
    check_dest(sim, tmp_path)


async def test_a_rename_refused_for_one_name_moves_that_photo_only(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=5, seed=405)
    victim_name = expected_names(sim)[sim.world.photos[3].image_id]
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if os.path.basename(dst) == victim_name:  # an immutable file there, say
            raise PermissionError(errno.EPERM, "Operation not permitted", dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)  # the module files.py uses
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (5, 0)
    assert outcome(tmp_path)[sim.world.photos[3].image_id]["file"] != victim_name
    check_dest(sim, tmp_path)


# -- ranged answers must continue the object as first announced --------------------------------


@pytest.mark.parametrize("bad", ["wrong_total", "star"])
async def test_a_206_that_contradicts_the_first_answer_restarts_from_byte_0(
    rsim: SimFactory, tmp_path: Path, bad: str, no_backoff_sleep: None
) -> None:
    sim = await rsim(photo_count=3, photo_size=(40_000, 60_000), seed=406)
    victim, _name = plant_half_part(sim, tmp_path, 1)
    sim.faults.storage_bad_content_range = bad  # type: ignore[assignment]
    sim.faults.storage_fault_image_ids = {victim}
    sim.faults.storage_fault_budget = 1
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 0)
    assert sim.counters.storage_requests_by_image[victim] == 2  # the bad 206, then byte 0 again
    check_dest(sim, tmp_path)


async def test_a_resume_sends_if_range_and_an_object_replaced_meanwhile_restarts_whole(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, photo_size=(40_000, 60_000), seed=407)
    kept, _ = plant_half_part(sim, tmp_path, 0)
    replaced, _ = plant_half_part(sim, tmp_path, 2)
    sim.replace_object(replaced)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 0)
    assert sim.counters.storage_if_range_requests == 2
    assert sim.counters.storage_if_range_mismatch == 1
    assert sim.counters.storage_ranged == 1  # only the unchanged object was resumed
    check_dest(sim, tmp_path)  # the replaced photo holds the NEW bytes only: nothing spliced
    del kept


# -- bodies of unknown length ------------------------------------------------------------------


async def test_a_close_delimited_body_cut_half_way_is_completed_never_recorded_short(
    rsim: SimFactory, tmp_path: Path, no_backoff_sleep: None
) -> None:
    sim = await rsim(photo_count=4, photo_size=(30_000, 50_000), seed=408)
    victim = sim.world.photos[2].image_id
    sim.faults.storage_no_framing_cut_rate = 1.0
    sim.faults.storage_fault_image_ids = {victim}
    sim.faults.storage_fault_budget = 1
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (4, 0)
    assert sim.counters.storage_no_framing_cut == 1
    check_dest(sim, tmp_path)


async def test_a_whole_close_delimited_body_is_confirmed_by_a_ranged_probe(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, seed=409)
    sim.faults.storage_no_framing = True
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 0)
    assert sim.counters.storage_ranged == 3  # one 1-byte probe per photo
    check_dest(sim, tmp_path)


async def test_a_body_of_unknown_length_nothing_can_confirm_is_not_kept(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, seed=410)
    sim.faults.storage_no_framing = True
    sim.faults.storage_ignore_range = True  # the probe learns nothing
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (0, 3)
    assert all("confirm" in (f.error or "") for f in report.failures)
    assert not [n for n in os.listdir(tmp_path) if n != MANIFEST_NAME]


async def test_a_body_of_unknown_length_with_a_matching_md5_etag_is_kept_with_verify(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, seed=411)
    sim.faults.storage_no_framing = True
    sim.faults.storage_ignore_range = True
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=True)
    assert (report.downloaded, report.failed, report.unverified) == (3, 0, 0)
    check_dest(sim, tmp_path)


# -- answers that are not photos ---------------------------------------------------------------


REASONS = {
    "storage_html_200_rate": "page, not a photo",
    "storage_empty_200_rate": "empty body",
    "encoding": "Content-Encoding",
}


@pytest.mark.parametrize("knob", list(REASONS))
@pytest.mark.parametrize("verify", [False, True], ids=["plain", "verify"])
async def test_error_pages_empty_and_encoded_bodies_are_never_recorded_ok(
    rsim: SimFactory, tmp_path: Path, knob: str, verify: bool, no_backoff_sleep: None
) -> None:
    sim = await rsim(photo_count=4, seed=412)
    once, always = sim.world.photos[0].image_id, sim.world.photos[3].image_id
    sim.faults.storage_fault_image_ids = {always}
    if knob == "encoding":
        sim.faults.storage_content_encoding = "gzip"
    else:
        setattr(sim.faults, knob, 1.0)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=verify)
        assert (report.downloaded, report.failed) == (3, 1)
        assert report.failures[0].image_id == always
        assert REASONS[knob] in (report.failures[0].error or "")  # the answer itself, not a checksum
        assert sim.counters.storage_requests_by_image[always] == 2  # one retry, then failed
        check_dest(sim, tmp_path, ok={p.image_id for p in sim.world.photos} - {always}, failed={always})
        sim.faults.storage_fault_image_ids = {once}
        sim.faults.storage_fault_budget = 1  # one bad answer, then the photo itself
        sim.faults.storage_content_encoding = sim.faults.storage_content_encoding  # unchanged
        shutil.rmtree(tmp_path)
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, verify=verify)
    assert (report.downloaded, report.failed) == (4, 0)
    check_dest(sim, tmp_path)


# -- sizes, speed, stops -------------------------------------------------------------------------


async def test_an_object_larger_than_the_free_space_fails_before_its_first_byte(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=4, seed=413)
    huge = sim.world.photos[1].image_id
    sim.faults.storage_declared_length = 10**18
    sim.faults.storage_fault_image_ids = {huge}
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (report.downloaded, report.failed) == (3, 1)
    assert report.failures[0].image_id == huge and "free" in (report.failures[0].error or "")
    assert sim.counters.storage_requests_by_image[huge] == 1  # not retried
    check_dest(sim, tmp_path, ok={p.image_id for p in sim.world.photos} - {huge}, failed={huge})


async def test_a_body_slower_than_the_floor_is_abandoned_keeping_its_bytes_and_resumed_later(
    rsim: SimFactory, tmp_path: Path, no_backoff_sleep: None
) -> None:
    sim = await rsim(photo_count=1, photo_size=20_000, seed=414)
    sim.faults.storage_bytes_per_s = 2_000.0
    image_id = sim.world.photos[0].image_id
    slow = DownloadOptions(low_speed_limit_bps=1_000_000, low_speed_time_s=0.2, policy=FilePolicy(attempts=2))
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, options=slow)
        assert report.failed == 1 and "slower than" in (report.failures[0].error or "")
        check_dest(sim, tmp_path, ok=set(), failed={image_id}, parts_of={image_id})
        assert (tmp_path / (expected_names(sim)[image_id] + PART_SUFFIX)).stat().st_size > 0
        sim.faults.storage_bytes_per_s = 0.0
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert (
        report.downloaded == 1 and sim.counters.storage_ranged == 2
    )  # resumed each time after the kept bytes
    check_dest(sim, tmp_path)


async def test_a_stopped_run_keeps_every_received_byte_in_the_part(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=1, photo_size=400_000, seed=415, storage_chunk_size=4_096)
    sim.faults.storage_bytes_per_s = 400_000.0
    image_id = sim.world.photos[0].image_id
    received = 0
    with anyio.CancelScope() as scope:

        def on_event(event: DownloadEvent) -> None:
            nonlocal received
            if isinstance(event, BytesReceived):
                received += event.n
                if received >= 50_000:
                    scope.cancel()

        async with new_client(sim) as client:
            # chunk_size 256 KiB: nothing would be flushed to disk yet without the save on stop
            await download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
    assert scope.cancelled_caught
    part = tmp_path / (expected_names(sim)[image_id] + PART_SUFFIX)
    assert part.stat().st_size == received
    assert sim.world.content(image_id).startswith(part.read_bytes())


async def test_with_fsync_each_file_is_synced_to_disk_before_its_ok_line(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=5, seed=416)
    events: list[str] = []
    real_fsync = os.fsync
    manifest_ok = Manifest.ok

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def ok(self: Manifest, *args: object, **kwargs: object) -> None:
        events.append("ok")
        manifest_ok(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)  # the module files.py uses
    monkeypatch.setattr(Manifest, "ok", ok)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True, concurrency=1, fsync=True)
    assert events == ["fsync", "ok"] * 5
    check_dest(sim, tmp_path)


async def test_a_run_vouches_for_synced_files_and_a_rerun_rehashes_only_the_rest(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=6, seed=417)
    syncs: list[int] = []
    monkeypatch.setattr(run_module, "DOWNLOAD_SYNC_INTERVAL_S", 0.0)
    monkeypatch.setattr(os, "sync", lambda: syncs.append(1))  # the os module run.py uses
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert syncs
    offsets: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    for raw in (tmp_path / MANIFEST_NAME).read_bytes().splitlines(keepends=True):
        offsets.append((offset, json.loads(raw)))
        offset += len(raw)
    vouched_up_to = max(e["covers"] for _, e in offsets if e["status"] == "synced")
    covered = {e["image_id"] for start, e in offsets if e["status"] == "ok" and start < vouched_up_to}
    # A power cut: the files after the last synced line lost their bytes (same size, zeros),
    # and so did one the sync covered (which a rerun then trusts by its size, as promised).
    names = expected_names(sim)
    lost = {p.image_id for p in sim.world.photos} - covered
    for image_id in {*lost, next(iter(covered))} if covered else lost:
        size = (tmp_path / names[image_id]).stat().st_size
        (tmp_path / names[image_id]).write_bytes(b"\0" * size)
    monkeypatch.setattr(run_module, "DOWNLOAD_SYNC_INTERVAL_S", 3600.0)
    hashed: list[str] = []
    real = integrity_module.file_digest

    def file_digest(path: str, name: DigestName) -> tuple[str, int]:
        hashed.append(path)
        return real(path, name)

    monkeypatch.setattr(fetch_module, "file_digest", file_digest)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.downloaded == len(lost) and report.skipped == 6 - len(lost)
    assert len(hashed) == len(lost)  # only files no synced line vouched for were read back
    for image_id in lost:
        assert (tmp_path / names[image_id]).read_bytes() == sim.world.content(image_id)


# -- storage TLS -----------------------------------------------------------------------------------


@pytest.fixture
async def untrusted_https_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[str, list[int]]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl binary to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    served: list[int] = []

    async def photo(request: web.Request) -> web.Response:
        served.append(1)
        return web.Response(body=b"\xff\xd8" * 100, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{name}", photo)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}", served
    await runner.cleanup()


async def test_a_storage_certificate_error_fails_the_photo_without_retries(
    untrusted_https_store: tuple[str, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = untrusted_https_store
    backoffs: list[float] = []

    def no_jitter(delay: float) -> float:
        backoffs.append(delay)
        return 0.0

    monkeypatch.setattr(policy_module, "jitter", no_jitter)
    jobs = [UrlJob(url=f"{url}/p{n}.jpg", image_id=f"p{n}") for n in range(3)]
    with anyio.fail_after(30):
        report = await download_url_list(jobs, tmp_path, concurrency=3)
    assert (report.downloaded, report.failed) == (0, 3)
    assert all("certificate" in (f.error or "") and "127.0.0.1" in (f.error or "") for f in report.failures)
    assert backoffs == [] and served == []


# -- names and the lock ----------------------------------------------------------------------------


def test_file_names_lose_unicode_format_characters() -> None:
    name = sanitize_filename("IMG\u202egpj.exe\u200b\ufeff.jpg", "id-1")
    assert name == "IMGgpj.exe.jpg"
    assert not any(c in name for c in "\u202e\u200b\ufeff")


def test_the_lock_is_the_directorys_own_so_removing_its_file_changes_nothing(tmp_path: Path) -> None:
    first = DestinationLock(tmp_path)
    first.acquire()
    try:
        (tmp_path / LOCK_NAME).unlink()
        (tmp_path / "elsewhere").write_text("not a lock")
        os.link(tmp_path / "elsewhere", tmp_path / LOCK_NAME)  # a hard-linked stranger at the name
        with pytest.raises(DestinationError, match="already running"):
            DestinationLock(tmp_path).acquire()
    finally:
        first.release()
    second = DestinationLock(tmp_path)
    second.acquire()
    second.release()


def test_concurrency_is_capped_by_the_open_file_limit_with_a_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        with caplog.at_level(logging.WARNING):
            capped = DownloadOptions(concurrency=5_000).effective_concurrency()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert 1 <= capped < 256
    assert any("open-file limit" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("raised_on", ["planned", "started", "bytes", "finished", "skipped"])
@pytest.mark.parametrize("api", ["download_originals", "iter_download_originals"])
async def test_an_on_event_callbacks_own_exception_reaches_the_caller_unwrapped(
    rsim: SimFactory, tmp_path: Path, raised_on: str, api: str
) -> None:
    sim = await rsim(photo_count=5, seed=418)
    kinds = {
        "planned": PlannedEvent,
        "started": FileStarted,
        "bytes": BytesReceived,
        "finished": FileFinished,
        "skipped": FileFinished,
    }
    async with new_client(sim) as client:
        if raised_on == "skipped":  # raised while the producer settles files already on disk
            await download_originals(client, sim.event_id, tmp_path, whole_event=True)

        def on_event(event: DownloadEvent) -> None:
            if isinstance(event, kinds[raised_on]):
                raise ValueError("the progress bar broke")

        with anyio.fail_after(30), pytest.raises(ValueError, match="progress bar broke"):
            if api == "download_originals":
                await download_originals(client, sim.event_id, tmp_path, whole_event=True, on_event=on_event)
            else:
                results = client.iter_download_originals(
                    sim.event_id, tmp_path, whole_event=True, on_event=on_event
                )
                async with contextlib.aclosing(results) as stream:
                    async for _result in stream:
                        pass
    lock = DestinationLock(tmp_path)
    lock.acquire()  # released by the failed run
    lock.release()
