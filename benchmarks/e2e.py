#!/usr/bin/env python3
"""End-to-end pieces around the simulator, each a subcommand run in its own process by harness.py.

serve   --photos N --size-min B --size-max B --api-latency-s S --info FILE [--tls-cert PEM --tls-key PEM]
        start ninepic_async.testing.Simulator on 127.0.0.1, write FILE (JSON: urls, ids, key)
        and FILE.expected.json (the (size, md5) of every stored photo, for the harness's check),
        serve until SIGTERM or --max-lifetime-s. With --tls-cert/--tls-key the API and the storage
        are also served over HTTPS (second sites on the same aiohttp runners) and FILE and every
        presigned URL name the https origins. With --external-storage PREFIX it is an API
        stand-in for a harness data set: photo i is named f<i:05d>.bin and its presigned URL is
        PREFIX/f<i:05d>.bin (nginx serves the bytes; the simulator only pages and signs).
resolve --info FILE --out LIST.tsv
        list every photo through the API and write its presigned URL (not timed: the
        pre-resolved list the end-to-end run is compared with).
api     --info FILE --dest DIR --concurrency N
        the measured end-to-end run: download_originals(client, event, dest, whole_event=True).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loops import pick_loop, run_with_loop

ORIGINALS_PAGE_MAX = 60


def load_info(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def make_client(info: dict[str, Any]) -> Any:
    """A NinePicClient for the simulator described by info."""
    try:
        from ninepic_async import NinePicClient
    except ImportError:
        from ninepic_async.client import NinePicClient
    return NinePicClient(info["api_key"], org_id=info["org_id"], base_url=info["base_url"])


async def serve(args: argparse.Namespace) -> int:
    from ninepic_async.testing import Faults, Simulator, SimulatorConfig

    cfg = SimulatorConfig(
        photo_count=args.photos,
        photo_size=(args.size_min, args.size_max),
        seed=args.seed,
        faults=Faults(api_latency_s=args.api_latency_s),
    )
    async with Simulator(cfg) as sim:
        sim.faults.api_latency_s = args.api_latency_s
        base_url = sim.base_url
        if args.tls_cert:
            base_url = await serve_tls(sim, args.tls_cert, args.tls_key)
        if args.external_storage:
            point_at_external_storage(sim, args.external_storage)
        missing = set(sim.world.missing_ids)
        expected = []
        for photo in [] if args.external_storage else sim.world.photos:
            if photo.image_id in missing:
                continue
            data = sim.world.content(photo.image_id)
            expected.append((len(data), hashlib.md5(data).hexdigest()))
        info = {
            "base_url": base_url,
            "storage_url": sim.storage_url,
            "org_id": sim.org_id,
            "event_id": sim.event_id,
            "api_key": sim.api_key,
            "photos": args.photos,
        }
        # the expected digests go to a separate file: clients must not load them (memory check)
        expected_path = args.info.with_suffix(".expected.json")
        expected_path.write_text(json.dumps(expected))
        tmp = args.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(args.info)
        print(f"simulator ready: {sim.base_url} storage {sim.storage_url} photos {args.photos}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=args.max_lifetime_s)
        print(f"simulator stopping; counters: {sim.counters}", flush=True)
    return 0


def point_at_external_storage(sim: Any, prefix: str) -> None:
    """Make the simulator's API name photo i ``f<i:05d>.bin`` and sign it as
    ``PREFIX/f<i:05d>/<image id>.bin``: the key ends in the id as R2's keys do, and run.sh's nginx
    serves that path from ``f<i:05d>.bin``."""
    world, state = sim.world, sim.state
    photo_at = world.photo_at

    def named_as_data_set(index: int) -> Any:
        return dataclasses.replace(photo_at(index), filename=f"f{index:05d}.bin")

    def presign(event_id: int, image_id: str, lifetime_s: float | None = None) -> str:
        return f"{prefix}/f{world.index_of(image_id):05d}/{image_id}.bin"

    world.photo_at = named_as_data_set
    state.presign = presign


async def serve_tls(sim: Any, cert: Path, key: Path) -> str:
    """Serve the simulator's storage and API apps over TLS too; return the https API origin.

    The simulator has no TLS option of its own: a second TCPSite with an SSL context is added to
    each of its runners (storage first, then API: the order Simulator.start makes them), and the
    storage origin the API signs URLs with is pointed at the TLS site.
    """
    from aiohttp import web

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    ports = []
    for runner in sim._runners:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        ports.append(int(runner.addresses[-1][1]))
    storage_port, api_port = ports
    sim.state.storage_url = f"https://127.0.0.1:{storage_port}"
    return f"https://127.0.0.1:{api_port}"


async def resolve(args: argparse.Namespace) -> int:
    info = load_info(args.info)
    lines = []
    async with make_client(info) as client:
        ids = [item.image_id async for item in client.all_photos(info["event_id"], page_size=100)]
        for i in range(0, len(ids), ORIGINALS_PAGE_MAX):
            chunk = ids[i : i + ORIGINALS_PAGE_MAX]
            async for page in client.iter_original_photos(
                info["event_id"], "image_ids", chunk, page_size=ORIGINALS_PAGE_MAX
            ):
                for pu in page.presigned_urls:
                    stem = urlsplit(pu.url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                    lines.append(f"{pu.url}\t{stem}.jpg\n")
    args.out.write_text("".join(lines))
    print(f"resolved {len(lines)} URLs of {len(ids)} photos", file=sys.stderr)
    return 0


async def api(args: argparse.Namespace) -> int:
    from ninepic_async.download import download_originals

    info = load_info(args.info)
    t0 = time.perf_counter()
    async with make_client(info) as client:
        report = await download_originals(
            client, info["event_id"], args.dest, whole_event=True, concurrency=args.concurrency
        )
    result = {
        "downloaded": report.downloaded,
        "skipped": report.skipped,
        "failed": report.failed,
        "bytes": report.bytes,
        "elapsed_s": time.perf_counter() - t0,
        "first_error": report.failures[0].error if report.failures else None,
        "loop": args.loop_name,
    }
    print(json.dumps(result))
    return 1 if report.failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--photos", type=int, required=True)
    s.add_argument("--size-min", type=int, default=64 * 1024)
    s.add_argument("--size-max", type=int, default=256 * 1024)
    s.add_argument("--api-latency-s", type=float, default=0.020)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--info", type=Path, required=True)
    s.add_argument("--max-lifetime-s", type=float, default=1800.0, help="stop by itself after this long")
    s.add_argument("--tls-cert", type=Path, default=None, help="serve API and storage over HTTPS too")
    s.add_argument("--tls-key", type=Path, default=None)
    s.add_argument("--external-storage", default=None, help="an API stand-in for PREFIX/f<i:05d>.bin")
    r = sub.add_parser("resolve")
    r.add_argument("--info", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    a = sub.add_parser("api")
    a.add_argument("--info", type=Path, required=True)
    a.add_argument("--dest", type=Path, required=True)
    a.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    handler = {"serve": serve, "resolve": resolve, "api": api}[args.cmd]
    # The measured client runs on uvloop when installed; the simulator always on asyncio.
    args.loop_name = pick_loop() if args.cmd == "api" else "asyncio"
    return run_with_loop(args.loop_name, handler(args))


if __name__ == "__main__":
    sys.exit(main())
