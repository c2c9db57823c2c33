"""Helpers of the simulator-backed download tests (no tests here): one strict check of a
destination against the simulator's world (``check_dest``) and what it is built from.
A client for a simulator is ``helpers.clients.new_client(sim)``.

The ``rsim`` fixture (simulators that must never see the key in storage) is in conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from helpers.clients import new_client
from ninepic_async._constants import LOCK_NAME, MANIFEST_NAME, PART_SUFFIX
from ninepic_async.download import BytesReceived, DownloadEvent, FileFinished, download_originals
from ninepic_async.download.names import NameAllocator, name_key
from ninepic_async.testing import Simulator

SimFactory = Callable[..., Awaitable[Simulator]]


async def settle(sim: Simulator, *, quiet_s: float = 0.05, limit_s: float = 5.0) -> None:
    """Wait until the store's byte counters stop moving (handlers finishing after the client)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    last = (-1, -1)
    while loop.time() < deadline:
        now = (sim.counters.storage_bytes_served, sim.counters.storage_requests)
        if now == last:
            return
        last = now
        await asyncio.sleep(quiet_s)


async def interrupt_after(sim: Simulator, dest: Path, *, files: int) -> list[str]:
    """Download ``sim``'s whole event into ``dest`` and cancel it once ``files`` files are done and
    more bytes arrive, so ``.part`` files stay behind; the ids that finished."""
    finished: list[str] = []
    with anyio.CancelScope() as scope:

        def on_event(event: DownloadEvent) -> None:
            if isinstance(event, FileFinished):
                finished.append(event.result.image_id)
            elif isinstance(event, BytesReceived) and len(finished) >= files:
                scope.cancel()

        async with new_client(sim) as client:
            await download_originals(
                client,
                sim.event_id,
                dest,
                whole_event=True,
                concurrency=4,
                chunk_size=16_384,
                on_event=on_event,
            )
    return finished


def all_ids(sim: Simulator) -> set[str]:
    return {p.image_id for p in sim.world.photos}


def expected_names(sim: Simulator) -> dict[str, str]:
    """The names a fresh whole-event run gives (gallery order): independent of the manifest."""
    allocator = NameAllocator()
    return {p.image_id: allocator.allocate(p.image_id, p.filename) for p in sim.world.photos}


def manifest_entries(dest: Path, *, strict: bool = True) -> list[dict[str, Any]]:
    """Every manifest line as JSON; ``strict``: every non-empty line must parse."""
    entries: list[dict[str, Any]] = []
    for line in (dest / MANIFEST_NAME).read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            if strict:
                raise
    return entries


def outcome(dest: Path, *, strict: bool = True) -> dict[str, dict[str, Any]]:
    """The last manifest entry per image id."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in manifest_entries(dest, strict=strict):
        if isinstance(entry, dict) and isinstance(entry.get("image_id"), str):
            latest[entry["image_id"]] = entry
    return latest


def check_dest(
    sim: Simulator,
    dest: Path,
    *,
    ok: set[str] | None = None,
    failed: frozenset[str] | set[str] = frozenset(),
    parts_of: frozenset[str] | set[str] = frozenset(),
    strict_manifest: bool = True,
    foreign_ids: frozenset[str] | set[str] = frozenset(),
) -> dict[str, str]:
    """The destination holds exactly what the manifest says, byte for byte; returns id -> file.

    ``ok`` (default: every photo) must be recorded ok with the world's exact bytes, ``failed``
    recorded failed with no final file; nothing else may be in ``dest`` except the manifest
    and ``.part`` files of the ids in ``parts_of`` (each a true prefix of its photo). No lock
    file stays, no two files clash case-insensitively, the API key is in no file name or
    manifest.
    """
    ok = all_ids(sim) if ok is None else ok
    latest = outcome(dest, strict=strict_manifest)
    for image_id in foreign_ids:  # lines planted by the test for ids that are no photo
        latest.pop(image_id, None)
    assert {i for i, e in latest.items() if e["status"] == "ok"} == ok
    assert {i for i, e in latest.items() if e["status"] == "failed"} == set(failed)
    files = {i: latest[i]["file"] for i in ok}
    for image_id, name in files.items():
        data = (dest / name).read_bytes()
        assert data == sim.world.content(image_id), (image_id, name)
        assert latest[image_id]["bytes"] == len(data)
    expected = {MANIFEST_NAME, *files.values()}
    for image_id in parts_of:
        name = latest[image_id]["file"] if image_id in latest else expected_names(sim)[image_id]
        part = dest / (name + PART_SUFFIX)
        assert sim.world.content(image_id).startswith(part.read_bytes()), image_id
        expected.add(part.name)
    for image_id in failed:
        name = latest[image_id].get("file")
        if name:
            assert not (dest / name).exists(), image_id
    on_disk = set(os.listdir(dest))
    assert on_disk == expected, (sorted(on_disk - expected)[:10], sorted(expected - on_disk)[:10])
    assert LOCK_NAME not in on_disk
    assert len({name_key(n) for n in on_disk}) == len(on_disk)
    assert sim.api_key.encode() not in (dest / MANIFEST_NAME).read_bytes()
    assert not any(sim.api_key in n for n in on_disk)
    return files
