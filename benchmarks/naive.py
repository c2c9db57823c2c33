#!/usr/bin/env python3
"""The baseline people write first: aiohttp + aiofiles, asyncio.gather, 64 KiB chunks, a semaphore of N.

    python benchmarks/naive.py --urls LIST.tsv --dest DIR --concurrency 16

LIST.tsv has one ``url<TAB>filename`` per line. Prints one JSON line (downloaded, failed, bytes,
elapsed_s); exits 1 if any download failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiofiles
import aiohttp

CHUNK_BYTES = 64 * 1024


def read_url_list(path: Path) -> list[tuple[str, str]]:
    jobs = []
    for line in path.read_text().splitlines():
        if line.strip():
            url, _, name = line.partition("\t")
            jobs.append((url, name or url.rsplit("/", 1)[-1].split("?", 1)[0]))
    return jobs


async def fetch(session: aiohttp.ClientSession, sem: asyncio.Semaphore, url: str, path: Path) -> int:
    async with sem, session.get(url) as resp:
        resp.raise_for_status()
        n = 0
        async with aiofiles.open(path, "wb") as f:
            async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                await f.write(chunk)
                n += len(chunk)
        return n


async def run(jobs: list[tuple[str, str]], dest: Path, concurrency: int) -> dict[str, object]:
    dest.mkdir(parents=True, exist_ok=True)
    sem = asyncio.Semaphore(concurrency)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(
            *(fetch(session, sem, url, dest / name) for url, name in jobs), return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "downloaded": len(results) - len(errors),
        "failed": len(errors),
        "bytes": sum(r for r in results if isinstance(r, int)),
        "elapsed_s": time.perf_counter() - t0,
        "first_error": repr(errors[0]) if errors else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--urls", type=Path, required=True)
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    report = asyncio.run(run(read_url_list(args.urls), args.dest, args.concurrency))
    print(json.dumps(report))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
