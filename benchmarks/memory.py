#!/usr/bin/env python3
"""Memory check client: download a whole simulator event and report its own RSS over time.

    python benchmarks/memory.py --info SIM.json --dest DIR --concurrency 16

SIM.json is written by ``e2e.py serve``. The harness runs this for events of 1,000 to 50,000
small photos and takes the peak RSS from wait4 (ru_maxrss); the samples printed here (psutil,
every 100 ms) show whether memory grows during a run. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from e2e import load_info, make_client

from ninepic_async.download import download_originals

SAMPLE_EVERY_S = 0.1
MAX_SAMPLES = 200


async def sample_rss(samples: list[int], stop: asyncio.Event) -> None:
    proc = psutil.Process()
    while not stop.is_set():
        samples.append(proc.memory_info().rss // 1024)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)


def thin(values: list[int], n: int) -> list[int]:
    """At most n values, evenly spaced, keeping the maximum."""
    if len(values) <= n:
        return values
    step = len(values) / n
    out = [values[int(i * step)] for i in range(n)]
    out[out.index(max(out))] = max(values)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    info = load_info(args.info)
    baseline = psutil.Process().memory_info().rss // 1024
    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(samples, stop))
    t0 = time.perf_counter()
    async with make_client(info) as client:
        report = await download_originals(
            client, info["event_id"], args.dest, whole_event=True, concurrency=args.concurrency
        )
    elapsed = time.perf_counter() - t0
    stop.set()
    await sampler
    return {
        "downloaded": report.downloaded,
        "failed": report.failed,
        "bytes": report.bytes,
        "elapsed_s": elapsed,
        "baseline_rss_kib": baseline,
        "rss_samples_kib": thin(samples, MAX_SAMPLES),
        "first_error": report.failures[0].error if report.failures else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--info", type=Path, required=True)
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
