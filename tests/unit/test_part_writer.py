"""The .part writer's batched writev: every byte lands, in order, even through short writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import cast

import pytest

from ninepic_async.download import files
from ninepic_async.download.integrity import BodyHashes


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
