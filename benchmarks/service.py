#!/usr/bin/env python3
"""The downloader inside a service: threads and memory of concurrent runs, event-loop stalls.

    python benchmarks/service.py threads --runs 40 --photos 20 --photo-size 2000-4000000
    python benchmarks/service.py loop-block --photos 20000 --repeat 3 [--loop uvloop]

``threads``: ``--runs`` concurrent ``download_originals`` of one simulator event into separate
destinations, in one process and loop; reports the peak thread count and RSS (psutil, every
10 ms). ``loop-block``: a destination of ``--photos`` complete tiny photos (written directly)
is downloaded again, whole event and by id list; a task that sleeps 1 ms reports the longest
the loop went without running it. The simulator runs in a subprocess, so neither its threads
nor its work count. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psutil

from ninepic_async.client import NinePicClient
from ninepic_async.download.manifest import Manifest
from ninepic_async.download.names import NameAllocator
from ninepic_async.testing import Simulator, SimulatorConfig
from ninepic_async.testing.standalone import read_coordinates

SEED = 7
T = TypeVar("T")


@contextmanager
def simulator(photos: int, photo_size: str) -> Iterator[dict[str, str]]:
    """A simulator subprocess; yields its coordinates (base_url, api_key, org_id, event_id)."""
    command = [sys.executable, "-m", "ninepic_async.testing", "--port", "0", "--seed", str(SEED)]
    proc = subprocess.Popen(
        [*command, "--photos", str(photos), "--photo-size", photo_size],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield read_coordinates(proc.stdout.readline)
    finally:
        proc.terminate()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def client_for(coords: dict[str, str]) -> NinePicClient:
    return NinePicClient(coords["api_key"], org_id=int(coords["org_id"]), base_url=coords["base_url"])


async def concurrent_runs(args: argparse.Namespace) -> dict[str, Any]:
    me = psutil.Process()
    root = Path(tempfile.mkdtemp(prefix="service-threads-"))
    peak = {"threads": 0, "rss": 0}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak["threads"] = max(peak["threads"], me.num_threads())
            peak["rss"] = max(peak["rss"], me.memory_info().rss)
            await asyncio.sleep(0.01)

    before = me.num_threads()
    try:
        with simulator(args.photos, args.photo_size) as coords:
            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            async with client_for(coords) as client:
                reports = await asyncio.gather(
                    *(
                        client.download_originals(
                            int(coords["event_id"]),
                            root / str(n),
                            whole_event=True,
                            concurrency=args.concurrency,
                        )
                        for n in range(args.runs)
                    )
                )
            elapsed = time.perf_counter() - started
            done.set()
            await sampler
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "measure": "threads",
        "runs": args.runs,
        "concurrency": args.concurrency,
        "photos_per_run": args.photos,
        "photo_size": args.photo_size,
        "downloaded": sum(r.downloaded for r in reports),
        "elapsed_s": round(elapsed, 2),
        "threads_before": before,
        "threads_peak": peak["threads"],
        "rss_peak_mb": round(peak["rss"] / 2**20),
    }


def complete_destination(dest: Path, photos: int) -> list[str]:
    """Every photo of the simulator's event on disk with its ``ok`` line; returns the ids."""
    world = Simulator(SimulatorConfig(photo_count=photos, photo_size=48, seed=SEED)).world
    allocator = NameAllocator()
    manifest = Manifest(dest)
    manifest.open()
    try:
        for photo in world.photos:
            name = allocator.allocate(photo.image_id, photo.filename)
            data = world.content(photo.image_id)
            (dest / name).write_bytes(data)
            manifest.ok(photo.image_id, name, len(data), None)
    finally:
        manifest.close()
    return [photo.image_id for photo in world.photos]


async def longest_stall(
    coords: dict[str, str] | None, dest: Path, ids: list[str] | None
) -> tuple[list[float], int]:
    """How late a 1 ms ticker ran each time during one rerun (sorted), and the skips; without
    ``coords``, during one idle second (the machine's own noise)."""
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    stop = False

    async def tick() -> None:
        last = loop.time()
        while not stop:
            await asyncio.sleep(0.001)
            now = loop.time()
            lateness.append(now - last - 0.001)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    if coords is None:
        await asyncio.sleep(1.0)
        stop = True
        await ticker
        return sorted(lateness), 0
    async with client_for(coords) as client:
        if ids is None:
            report = await client.download_originals(int(coords["event_id"]), dest, whole_event=True)
        else:
            report = await client.download_originals(int(coords["event_id"]), dest, image_ids=ids)
    stop = True
    await ticker
    return sorted(lateness), report.skipped


def _summary(lateness: list[float]) -> dict[str, float]:
    """The longest stall and the 99th percentile, in ms."""
    return {
        "max_block_ms": round(lateness[-1] * 1000, 1),
        "p99_block_ms": round(lateness[int(len(lateness) * 0.99)] * 1000, 1),
    }


def _run(loop: str, main: Coroutine[Any, Any, T]) -> T:
    """``main`` on a new event loop of the kind asked for (``uvloop`` or ``asyncio``)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def loop_block(args: argparse.Namespace) -> list[dict[str, Any]]:
    dest = Path(tempfile.mkdtemp(prefix="service-rerun-"))
    rows: list[dict[str, Any]] = []
    try:
        ids = complete_destination(dest, args.photos)
        gc.collect()
        gc.freeze()  # this script's own heap (the simulated world): not the library's collections
        with simulator(args.photos, "48") as coords:
            idle, _ = _run(args.loop, longest_stall(None, dest, None))
            rows.append({"measure": "loop_block", "selection": "idle", **_summary(idle)})
            for selection in ("whole_event", "image_ids"):
                for attempt in range(args.repeat):
                    chosen = None if selection == "whole_event" else ids
                    lateness, skipped = _run(args.loop, longest_stall(coords, dest, chosen))
                    rows.append(
                        {
                            "measure": "loop_block",
                            "loop": args.loop,
                            "photos": args.photos,
                            "selection": selection,
                            "attempt": attempt,
                            "first_use": attempt == 0 and selection == "whole_event",
                            "skipped": skipped,
                            **_summary(lateness),
                        }
                    )
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    threads = sub.add_parser("threads", help="threads and RSS of concurrent runs")
    threads.add_argument("--runs", type=int, default=40)
    threads.add_argument("--photos", type=int, default=20)
    threads.add_argument("--photo-size", default="2000-4000000")
    threads.add_argument("--concurrency", type=int, default=16)
    block = sub.add_parser("loop-block", help="longest event-loop stall of a large rerun")
    block.add_argument("--photos", type=int, default=20_000)
    block.add_argument("--repeat", type=int, default=3)
    block.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.command == "threads":
        print(json.dumps(asyncio.run(concurrent_runs(args))))
    else:
        for row in loop_block(args):
            print(json.dumps(row))


if __name__ == "__main__":
    main()
