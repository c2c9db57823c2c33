"""Where a single PUT stops paying off against a multipart upload (BUCKET_SINGLE_PUT_MAX_BYTES).

Uploads bodies of several sizes to a local S3 server (moto, on loopback: it measures request
overhead and the client's cost, not a real bucket's bandwidth) both ways, through obstore
exactly as :mod:`ninepic_async.download.upload` does, and prints the median seconds of each.

    python benchmarks/bucket_put.py [--sizes-mib 1,2,4,8,16] [--repeat 3]

Needs the test extra (obstore, moto[server], boto3).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.buckets import TestBucket, s3_server

from ninepic_async._constants import BUCKET_PART_BYTES, BUCKET_PART_CONCURRENCY

_PIECE = 64 * 1024


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _PIECE):
        yield data[start : start + _PIECE]


async def _measure(url: str, sizes_mib: list[float], repeat: int) -> list[tuple[float, float, float]]:
    import obstore
    from obstore.store import from_url

    store = from_url(url)
    rows: list[tuple[float, float, float]] = []
    for mib in sizes_mib:
        data = os.urandom(int(mib * 1024 * 1024))
        single: list[float] = []
        multi: list[float] = []
        for n in range(repeat):
            began = time.perf_counter()
            await obstore.put_async(store, f"single-{mib}-{n}", data, use_multipart=False)
            single.append(time.perf_counter() - began)
            began = time.perf_counter()
            await obstore.put_async(
                store,
                f"multi-{mib}-{n}",
                _pieces(data),
                use_multipart=True,
                chunk_size=BUCKET_PART_BYTES,
                max_concurrency=BUCKET_PART_CONCURRENCY,
            )
            multi.append(time.perf_counter() - began)
        rows.append((mib, statistics.median(single), statistics.median(multi)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="0.5,2,4,8,16")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes_mib.split(",")]
    with s3_server() as server:
        os.environ.update(server.env)
        bucket = TestBucket(server)
        rows = asyncio.run(_measure(bucket.url("bench"), sizes, args.repeat))
    print(f"{'MiB':>6} {'single PUT s':>13} {'multipart s':>12}")
    for mib, single, multi in rows:
        print(f"{mib:>6g} {single:>13.3f} {multi:>12.3f}")


if __name__ == "__main__":
    main()
