"""A symlink planted at a ``.part`` name (or a final name) is never followed.

Following a link at ``<name>.part`` (``os.stat`` for its size, an ``open`` without
``O_NOFOLLOW``) would "resume" after the target's size, append the photo's tail to a file
OUTSIDE the destination, rename the link to the photo's name and record it ok.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest, expected_names

from ninepic_async._constants import PART_SUFFIX
from ninepic_async.download import download_originals


async def test_a_symlinked_part_file_is_never_followed(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=6, photo_size=(5_000, 9_000), seed=71)
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"precious" * 10)
    empty_outside = tmp_path / "empty.txt"
    empty_outside.write_bytes(b"")
    names = list(expected_names(sim).values())
    os.symlink(outside, dest / (names[0] + PART_SUFFIX))
    os.symlink(empty_outside, dest / (names[1] + PART_SUFFIX))
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, dest, whole_event=True)
    assert outside.read_bytes() == b"precious" * 10  # nothing written outside the destination
    assert empty_outside.read_bytes() == b""
    assert (report.downloaded, report.failed) == (6, 0)
    files = check_dest(sim, dest)  # every photo a complete regular file with the right bytes
    for name in files.values():
        assert not (dest / name).is_symlink(), name


async def test_a_symlink_at_a_recorded_final_name_is_not_taken_for_the_photo(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3, photo_size=(5_000, 9_000), seed=72)
    dest = tmp_path / "dest"
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, dest, whole_event=True)
    name = next(iter(expected_names(sim).values()))
    outside = tmp_path / "same-size.bin"
    outside.write_bytes(b"x" * (dest / name).stat().st_size)  # the recorded size, other bytes
    (dest / name).unlink()
    os.symlink(outside, dest / name)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, dest, whole_event=True)
    assert report.downloaded == 1  # fetched again, not skipped as complete
    assert outside.read_bytes() == b"x" * outside.stat().st_size
    check_dest(sim, dest)
    assert not (dest / name).is_symlink()
