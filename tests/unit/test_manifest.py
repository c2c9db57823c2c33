"""Unit tests of download/manifest.py: appending, reading, torn and garbage lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ninepic_async._constants import MANIFEST_NAME
from ninepic_async.download.manifest import MANIFEST_VERSION, Manifest, ManifestState, read_manifest
from ninepic_async.download.sources import Planner


def test_lines_are_json_with_version_and_no_urls(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    manifest.open()
    manifest.ok("id1", "a.jpg", 3, '"abc"')
    manifest.failed("id2", "File not found", path="imgs/1/large/id2.jpg")
    manifest.close()
    lines = (tmp_path / MANIFEST_NAME).read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["v"] == MANIFEST_VERSION and first["status"] == "ok" and first["file"] == "a.jpg"
    assert first["bytes"] == 3 and first["etag"] == '"abc"' and isinstance(first["time"], float)
    assert second["status"] == "failed" and second["path"] == "imgs/1/large/id2.jpg"
    assert "url" not in first and "url" not in second


def test_torn_and_garbage_lines_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = Manifest(tmp_path)
    manifest.open()
    manifest.ok("id1", "a.jpg", 3, None)
    manifest.close()
    path = tmp_path / MANIFEST_NAME
    with open(path, "ab") as handle:
        handle.write(b'not json\n{"v":1,"image_id":"x","status":"weird","time":1}\n\xff\xfe\n')
        handle.write(b'{"v":1,"image_id":"id2","status":"ok","fi')  # torn: no newline
    with caplog.at_level(logging.WARNING):
        entries = list(read_manifest(path))
    assert [e.image_id for e in entries] == ["id1"]
    assert sum("unreadable" in r.message for r in caplog.records) == 4
    # Appending after a torn line starts a fresh line, so the new entry is readable.
    manifest = Manifest(tmp_path)
    manifest.open()
    manifest.ok("id3", "c.jpg", 5, None)
    manifest.close()
    with caplog.at_level(logging.ERROR):
        assert [e.image_id for e in read_manifest(path)] == ["id1", "id3"]


async def test_state_last_line_wins_and_a_skip_needs_the_file_at_its_recorded_size(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    manifest.open()
    manifest.failed("id1", "boom", file="a.jpg")
    manifest.ok("id1", "a.jpg", 3, None)
    manifest.ok("id2", "b.jpg", 4, None)
    manifest.failed("id3", "nope")
    manifest.close()
    (tmp_path / "a.jpg").write_bytes(b"abc")
    (tmp_path / "b.jpg").write_bytes(b"ab")  # wrong size: not complete
    state = ManifestState.load(tmp_path / MANIFEST_NAME)
    assert state.recorded_ok("id1") == ("a.jpg", 3) and state.recorded_ok("id3") is None
    skips = await Planner(tmp_path, state).skips([(i, None, True) for i in ("id1", "id2", "id3")])
    assert [(s.filename, s.size_bytes) if s else None for s in skips] == [("a.jpg", 3), None, None]
    assert dict(state.names()) == {"id1": "a.jpg", "id2": "b.jpg"}


def test_missing_manifest_reads_as_empty(tmp_path: Path) -> None:
    assert list(read_manifest(tmp_path / "none.jsonl")) == []
