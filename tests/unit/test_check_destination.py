"""check_destination: a destination built by hand (files + manifest.jsonl) checked against its manifest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ninepic_async._exceptions import DestinationError
from ninepic_async.download.check import CheckedFile, CheckReport, check_destination
from ninepic_async.download.lock import DestinationLock

PHOTOS = {f"id{n}": (f"IMG_000{n}.jpg", bytes([n]) * (1000 + n)) for n in range(1, 5)}


def ok_line(image_id: str, file: str, data: bytes, **fields: Any) -> dict[str, Any]:
    """An ``ok`` manifest line with the correct size and digest (override or drop with ``fields``)."""
    line: dict[str, Any] = {
        "v": 1,
        "image_id": image_id,
        "status": "ok",
        "file": file,
        "bytes": len(data),
        "etag": None,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "time": 1732390000.0,
    }
    line.update(fields)
    return {k: v for k, v in line.items() if v is not None}


def write_manifest(dest: Path, lines: list[dict[str, Any]]) -> None:
    (dest / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """A destination of four photos whose manifest records each with its SHA-256."""
    out = tmp_path / "photos"
    out.mkdir()
    for file, data in PHOTOS.values():
        (out / file).write_bytes(data)
    write_manifest(out, [ok_line(i, f, d) for i, (f, d) in PHOTOS.items()])
    return out


def by_file(report: CheckReport) -> dict[str, CheckedFile]:
    return {p.file: p for p in report.problems}


async def test_an_intact_destination_is_clean(dest: Path) -> None:
    seen: list[CheckedFile] = []
    report = await check_destination(dest, on_progress=seen.append)
    assert report == CheckReport(checked=4, ok=4)
    assert report.clean
    assert sorted(s.file for s in seen) == sorted(f for f, _ in PHOTOS.values())
    assert {(s.status, s.detail) for s in seen} == {("ok", None)}
    assert {s.image_id for s in seen} == set(PHOTOS)


@pytest.mark.parametrize("concurrency", [1, 3, 16])
async def test_concurrency_does_not_change_the_report(dest: Path, concurrency: int) -> None:
    (dest / "IMG_0002.jpg").write_bytes(b"x" * len(PHOTOS["id2"][1]))
    report = await check_destination(dest, concurrency=concurrency)
    assert (report.checked, report.ok, report.changed) == (4, 3, 1)


async def test_a_deleted_file_is_missing(dest: Path) -> None:
    (dest / "IMG_0001.jpg").unlink()
    report = await check_destination(dest)
    assert (report.checked, report.ok, report.missing) == (4, 3, 1)
    assert not report.clean
    assert report.problems == [CheckedFile("id1", "IMG_0001.jpg", "missing", "no such file")]


async def test_one_flipped_byte_of_the_same_size_is_changed(dest: Path) -> None:
    path = dest / "IMG_0003.jpg"
    data = bytearray(path.read_bytes())
    data[500] ^= 0x01
    path.write_bytes(bytes(data))
    report = await check_destination(dest)
    assert (report.ok, report.changed) == (3, 1)
    problem = by_file(report)["IMG_0003.jpg"]
    assert problem.status == "changed" and problem.image_id == "id3"
    assert problem.detail is not None and "SHA-256" in problem.detail


async def test_a_truncated_file_is_changed(dest: Path) -> None:
    path = dest / "IMG_0004.jpg"
    path.write_bytes(path.read_bytes()[:100])
    report = await check_destination(dest)
    assert (report.ok, report.changed) == (3, 1)
    problem = by_file(report)["IMG_0004.jpg"]
    assert problem.status == "changed"
    assert problem.detail == f"size 100 bytes, the manifest records {len(PHOTOS['id4'][1])}"


async def test_an_unknown_file_is_extra(dest: Path) -> None:
    (dest / "holiday.jpg").write_bytes(b"not ours")
    report = await check_destination(dest)
    assert (report.checked, report.ok, report.extra) == (5, 4, 1)
    assert report.problems == [CheckedFile(None, "holiday.jpg", "extra", "not in the manifest")]
    assert not report.clean


async def test_the_downloaders_own_files_and_directories_are_not_extra(dest: Path) -> None:
    (dest / ".ninepic.lock").write_text("pid 1 on host since then\n")
    (dest / "IMG_0009.jpg.part").write_bytes(b"half a photo")
    (dest / "subdir").mkdir()
    (dest / "subdir" / "inside.jpg").write_bytes(b"not listed: only the top level is the destination")
    report = await check_destination(dest)
    assert report == CheckReport(checked=4, ok=4)


async def test_a_file_reserved_by_a_failed_line_is_extra_and_names_its_image(dest: Path) -> None:
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(json.dumps({"v": 1, "image_id": "id9", "status": "failed", "file": "IMG_0009.jpg",
                                 "error": "gone", "time": 1.0}) + "\n")  # fmt: skip
    (dest / "IMG_0009.jpg").write_bytes(b"left over")
    report = await check_destination(dest)
    assert report.extra == 1
    problem = by_file(report)["IMG_0009.jpg"]
    assert problem.image_id == "id9" and problem.detail is not None and "failed" in problem.detail


async def test_the_last_line_of_an_image_wins(dest: Path) -> None:
    new = b"the photo downloaded again" * 10
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(json.dumps(ok_line("id1", "IMG_0001.jpg", new)) + "\n")
    assert (await check_destination(dest)).changed == 1
    (dest / "IMG_0001.jpg").write_bytes(new)
    assert (await check_destination(dest)).clean


async def test_a_symlink_at_a_recorded_name_is_missing_and_not_followed(dest: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.jpg"
    target.write_bytes(PHOTOS["id2"][1])  # the right content: following the link would say ok
    (dest / "IMG_0002.jpg").unlink()
    os.symlink(target, dest / "IMG_0002.jpg")
    report = await check_destination(dest)
    assert (report.ok, report.missing, report.extra) == (3, 1, 0)
    problem = by_file(report)["IMG_0002.jpg"]
    assert problem.status == "missing" and problem.detail is not None and "symlink" in problem.detail


async def test_a_directory_at_a_recorded_name_is_missing(dest: Path) -> None:
    (dest / "IMG_0002.jpg").unlink()
    (dest / "IMG_0002.jpg").mkdir()
    report = await check_destination(dest)
    assert report.missing == 1 and by_file(report)["IMG_0002.jpg"].detail == "a directory is at its name"


async def test_a_legacy_line_with_a_plain_md5_etag_is_verified_by_md5(dest: Path) -> None:
    data = b"a photo from an older version" * 30
    (dest / "old.jpg").write_bytes(data)
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(json.dumps(ok_line("old", "old.jpg", data, digest=None, etag=etag)) + "\n")
    report = await check_destination(dest)
    assert report == CheckReport(checked=5, ok=5)
    (dest / "old.jpg").write_bytes(data[:-1] + b"!")
    report = await check_destination(dest)
    assert (report.ok, report.changed) == (4, 1)
    detail = by_file(report)["old.jpg"].detail
    assert detail is not None and "MD5" in detail


@pytest.mark.parametrize("etag", [None, '"0123456789abcdef0123456789abcdef-3"', 'W/"abc"'])
async def test_a_line_with_neither_digest_nor_plain_md5_is_unverifiable(dest: Path, etag: str | None) -> None:
    data = b"no digest recorded" * 10
    (dest / "legacy.jpg").write_bytes(data)
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(json.dumps(ok_line("legacy", "legacy.jpg", data, digest=None, etag=etag)) + "\n")
    report = await check_destination(dest)
    assert (report.checked, report.ok, report.unverifiable) == (5, 4, 1)
    assert report.clean  # reported, but not a problem
    assert [p.status for p in report.problems] == ["unverifiable"]
    # the size is still compared
    (dest / "legacy.jpg").write_bytes(data + b"more")
    report = await check_destination(dest)
    assert (report.changed, report.unverifiable) == (1, 0)


async def test_problems_are_sorted_by_kind_then_name(dest: Path) -> None:
    (dest / "IMG_0004.jpg").unlink()
    (dest / "IMG_0001.jpg").unlink()
    (dest / "b.jpg").write_bytes(b"b")
    (dest / "a.jpg").write_bytes(b"a")
    (dest / "IMG_0003.jpg").write_bytes(b"short")
    report = await check_destination(dest)
    assert [(p.status, p.file) for p in report.problems] == [
        ("missing", "IMG_0001.jpg"),
        ("missing", "IMG_0004.jpg"),
        ("changed", "IMG_0003.jpg"),
        ("extra", "a.jpg"),
        ("extra", "b.jpg"),
    ]
    assert report.checked == report.ok + report.missing + report.changed + report.extra == 6


async def test_a_missing_manifest_or_destination_raises_destination_error(tmp_path: Path) -> None:
    with pytest.raises(DestinationError, match="does not exist"):
        await check_destination(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(DestinationError, match="not a directory"):
        await check_destination(tmp_path / "file")
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(DestinationError, match="no manifest"):
        await check_destination(tmp_path)


async def test_an_empty_manifest_makes_every_file_extra(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").write_bytes(b"")
    (tmp_path / "photo.jpg").write_bytes(b"x")
    report = await check_destination(tmp_path)
    assert report == CheckReport(checked=1, extra=1, problems=[CheckedFile(None, "photo.jpg", "extra",
                                                                         "not in the manifest")])  # fmt: skip


async def test_a_destination_a_download_is_using_is_refused(dest: Path) -> None:
    with DestinationLock(dest), pytest.raises(DestinationError, match="download is running"):
        await check_destination(dest)
    assert (await check_destination(dest)).clean  # and the check released its own shared lock
    with DestinationLock(dest):
        pass  # a download can take the lock after a check


async def test_concurrency_below_one_is_refused(dest: Path) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await check_destination(dest, concurrency=0)


async def test_nothing_is_written(dest: Path) -> None:
    (dest / "holiday.jpg").write_bytes(b"x")
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in dest.iterdir()}
    await check_destination(dest)
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in dest.iterdir()} == before
