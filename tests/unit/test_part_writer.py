"""The .part writer: every byte lands, in order, even through short writes; where its writes run."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import cast

import pytest

from ninepic_async import DestinationError
from ninepic_async.download import files
from ninepic_async.download.integrity import BodyHashes
from ninepic_async.download.lanes import LanePool, LoopWrites, WriteLanes


def _chunks() -> list[bytes]:
    return [bytes([i]) * (1000 + 37 * i) for i in range(50)] + [b""] + [b"tail"]


def test_write_all_appends_every_chunk_in_order(tmp_path: Path) -> None:
    path = tmp_path / "x.part"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    hasher = hashlib.md5(usedforsecurity=False)
    try:
        files._write_all(fd, _chunks(), cast("BodyHashes", hasher))  # duck-typed: only .update()
    finally:
        os.close(fd)
    expected = b"".join(_chunks())
    assert path.read_bytes() == expected
    assert hasher.hexdigest() == hashlib.md5(expected, usedforsecurity=False).hexdigest()


def test_write_all_resumes_after_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writev, real_write = os.writev, os.write

    def short_writev(fd: int, buffers: list[memoryview]) -> int:
        first = buffers[0]
        return real_write(fd, first[: max(1, len(first) // 3)])  # a third of the first buffer only

    def short_write(fd: int, data: memoryview) -> int:
        return real_write(fd, data[: max(1, len(data) // 2)])

    monkeypatch.setattr(os, "writev", short_writev)  # the module files.py uses
    monkeypatch.setattr(os, "write", short_write)
    path = tmp_path / "x.part"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        files._write_all(fd, _chunks(), None)
        files._write_all(fd, [b"single chunk"], None)
    finally:
        os.close(fd)
    assert real_writev is not short_writev
    assert path.read_bytes() == b"".join(_chunks()) + b"single chunk"


def test_write_all_splits_more_buffers_than_iov_max(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_IOV_MAX", 7)
    path = tmp_path / "x.part"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        files._write_all(fd, _chunks(), None)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(_chunks())


def _record_write_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Patch the batch writer to note, per call, whether it ran on this (the loop's) thread."""
    loop_thread = threading.get_ident()
    on_loop: list[bool] = []
    real = files._write_all

    def recording(fd: int, chunks: list[files.Chunk], hashes: BodyHashes | None) -> None:
        on_loop.append(threading.get_ident() == loop_thread)
        real(fd, chunks, hashes)

    monkeypatch.setattr(files, "_write_all", recording)
    return on_loop


async def _write_threads(path: Path, monkeypatch: pytest.MonkeyPatch, loop_writes: LoopWrites) -> list[bool]:
    """Write 5 batches to ``path`` as a download does (the last one by the completion) with
    ``loop_writes`` deciding; check every byte and the MD5 landed; per batch written, whether it
    ran on the loop's thread."""
    on_loop = _record_write_threads(monkeypatch)
    lanes = WriteLanes(2, LanePool(), on_loop=loop_writes.enabled)
    lanes.on_loop = loop_writes
    writer = files.PartWriter(str(path), offset=0, md5=True, flush_bytes=1000, lanes=lanes)
    body = b""
    try:
        for n in range(5):
            chunk = bytes([n]) * 1000
            body += chunk
            assert writer.add(chunk)
            if n < 4:
                await writer.flush_behind()
        digest = await writer.finish_then(lambda: writer.hashes.md5.hexdigest())
    finally:
        lanes.close()
    assert digest == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert path.read_bytes() == body
    return on_loop


async def test_plain_writes_run_on_the_loops_thread_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a loaded machine's slow write does not count
    on_loop = await _write_threads(tmp_path / "x.part", monkeypatch, LoopWrites(True, slow_s=3600.0))
    # the first batch opens the file (a thread), the middle ones append here, the last closes (a thread)
    assert on_loop == [False, True, True, True, False]


async def test_writes_after_a_slow_loop_write_go_to_a_thread_during_the_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every write counts as slow, and the pause outlasts the test
    loop_writes = LoopWrites(True, slow_s=-1.0, pause_s=(3600.0, 3600.0))
    on_loop = await _write_threads(tmp_path / "x.part", monkeypatch, loop_writes)
    assert on_loop == [False, True, False, False, False]
    assert not loop_writes.allowed


async def test_writes_never_touch_the_loops_thread_when_it_is_not_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_loop = await _write_threads(tmp_path / "x.part", monkeypatch, LoopWrites(False))
    assert on_loop == [False] * 5


async def test_a_full_disk_during_a_loop_write_is_a_destination_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lanes = WriteLanes(2, LanePool(), on_loop=True)
    writer = files.PartWriter(str(tmp_path / "x.part"), offset=0, md5=False, flush_bytes=10, lanes=lanes)
    try:
        writer.add(b"a" * 10)
        await writer.flush_behind()  # opens the file, on a thread

        def full(fd: int, data: object) -> int:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "write", full)
        writer.add(b"b" * 10)
        with pytest.raises(DestinationError, match="disk full"):
            await writer.flush_behind()
    finally:
        writer.close()
        lanes.close()
