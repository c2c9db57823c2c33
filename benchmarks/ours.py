#!/usr/bin/env python3
"""Our downloader fed a URL list directly: ``ninepic_async.download.download_url_list``.

    python benchmarks/ours.py --urls LIST.tsv --dest DIR --concurrency 16 [--chunk-size BYTES] [--no-fsync]

LIST.tsv has one ``url<TAB>filename`` per line (the same list the other contenders get). Runs as
its own process so the harness measures it exactly like curl and aria2c. Prints one JSON line
(downloaded, failed, bytes, elapsed_s, loop: uvloop or asyncio); exits 1 if any download failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from loops import pick_loop, run_with_loop

from ninepic_async.download import UrlJob, download_url_list


def read_jobs(path: Path) -> list[UrlJob]:
    jobs = []
    for line in path.read_text().splitlines():
        if line.strip():
            url, _, name = line.partition("\t")
            stem = url.rsplit("/", 1)[-1].split("?", 1)[0].rsplit(".", 1)[0]
            jobs.append(UrlJob(url=url, filename=name or None, image_id=stem))
    return jobs


async def run(args: argparse.Namespace) -> dict[str, Any]:
    jobs = read_jobs(args.urls)
    kwargs: dict[str, Any] = {"concurrency": args.concurrency}
    if args.chunk_size:
        kwargs["chunk_size"] = args.chunk_size
    if args.no_fsync:
        kwargs["fsync"] = False
    t0 = time.perf_counter()
    report = await download_url_list(jobs, args.dest, **kwargs)
    elapsed = time.perf_counter() - t0
    return {
        "downloaded": report.downloaded,
        "skipped": report.skipped,
        "failed": report.failed,
        "bytes": report.bytes,
        "elapsed_s": elapsed,
        "slow_loop_writes": report.stats.slow_loop_writes,
        "first_error": report.failures[0].error if report.failures else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--urls", type=Path, required=True)
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--chunk-size", type=int, default=0, help="bytes per read/write (default: the library's)")
    ap.add_argument("--no-fsync", action="store_true", help="skip the per-file sync before the ok line")
    args = ap.parse_args()
    loop_name = pick_loop()
    result = run_with_loop(loop_name, run(args))
    result["loop"] = loop_name
    print(json.dumps(result))
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
