"""``ninepic archive --cluster local:2`` against one process on the same work (HTTP or HTTPS).

Starts the simulator in its own process (an organisation of ``--events`` events of ``--photos``
photos each), then times, interleaved ``--rounds`` times, ``ninepic archive --all-events`` into
a fresh directory by one process and by ``--cluster local:2`` (two Dask worker processes, one
task per event and shard). Prints wall seconds, MB/s, the peak RSS of the CLI process and the
largest peak RSS of its descendants (the Dask worker processes). The simulator shares the
cores: on a 2-core machine this measures contention as much as scaling.

    python benchmarks/cluster.py [--events 3] [--photos 300] [--photo-size 200000] [--rounds 2] [--https]

Needs the dask and bench extras (distributed, psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from ninepic_async.testing.standalone import read_coordinates

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness (the throwaway CA)

_SERVER = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {bench!r})
from ninepic_async.testing import Simulator, SimulatorConfig

async def main() -> None:
    config = SimulatorConfig(photo_count={photos}, photo_size={size}, extra_events={extra},
                             extra_event_photos={photos}, port=0, seed=7)
    async with Simulator(config) as sim:
        base_url = sim.base_url
        if {cert!r}:
            from e2e import serve_tls  # the simulator's apps on a second, TLS site

            base_url = await serve_tls(sim, Path({cert!r}), Path({key!r}))
        for line in (f"base_url: {{base_url}}", f"org_id: {{sim.org_id}}", f"api_key: {{sim.api_key}}"):
            print(line)
        print("photos: 0", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def _start_simulator(
    events: int, photos: int, size: int, tls: tuple[str, str] | None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    # the simulator's first extra event has no photos: one more extra event keeps ``events`` full
    cert, key = tls or ("", "")
    bench = str(Path(__file__).resolve().parent)
    code = _SERVER.format(photos=photos, size=size, extra=events, cert=cert, key=key, bench=bench)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, read_coordinates(proc.stdout.readline)


def _peak_rss(proc: subprocess.Popen[bytes], peaks: dict[int, int], stop: threading.Event) -> None:
    """Sample the RSS of ``proc`` and all its descendants every 50 ms (peak per process)."""
    try:
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
            stop.wait(0.05)
    except psutil.Error:
        return


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, the CLI process's peak RSS and the largest peak RSS of its descendants (the
    Dask workers; 0 without) of one CLI run (exit 0 required)."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_peak_rss, args=(proc, peaks, stop), daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - began
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... exited {proc.returncode}: {err.decode()[-500:]}")
    own = peaks.pop(proc.pid, 0)
    return elapsed, own, max(peaks.values(), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--photos", type=int, default=300, help="photos per event")
    parser.add_argument("--photo-size", type=int, default=200_000, help="bytes per photo")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--https", action="store_true", help="API and storage over TLS (a throwaway CA)")
    args = parser.parse_args()
    tls = None
    extra_env: dict[str, str] = {}
    if args.https:
        from harness import make_tls

        files = make_tls()
        tls = (str(files.cert), str(files.key))
        extra_env["SSL_CERT_FILE"] = str(files.ca)  # trusted by the CLI and every worker; none skips checks
    server, coordinates = _start_simulator(args.events, args.photos, args.photo_size, tls)
    work = Path(tempfile.mkdtemp(prefix="ninepic-cluster-bench-"))
    env = dict(os.environ, NINEPIC_API_KEY=coordinates["api_key"], **extra_env)
    base = [
        sys.executable, "-m", "ninepic_async", "archive", "--all-events",
        "--org", coordinates["org_id"], "--base-url", coordinates["base_url"],
    ]  # fmt: skip
    total = args.events * args.photos * args.photo_size
    results: dict[str, list[tuple[float, int, int]]] = {"one process": [], "--cluster local:2": []}
    try:
        for n in range(args.rounds):
            for label, extra in (("one process", []), ("--cluster local:2", ["--cluster", "local:2"])):
                out = work / f"{n}-{len(extra)}"
                results[label].append(_run([*base, *extra, "--out", str(out)], env))
                shutil.rmtree(out, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    scheme = "HTTPS" if args.https else "HTTP"
    print(
        f"{total / 1e6:.0f} MB in {args.events} events over {scheme}, "
        f"{os.cpu_count()} cores shared with the simulator"
    )
    print(f"{'how':<20} {'median s':>9} {'MB/s':>7} {'CLI peak RSS':>13} {'worker peak RSS':>16}")
    for label, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        own, worker = max(r[1] for r in runs), max(r[2] for r in runs)
        print(
            f"{label:<20} {seconds:>9.2f} {total / 1e6 / seconds:>7.1f} {own / 2**20:>9.0f} MiB "
            f"{worker / 2**20:>12.0f} MiB"
        )


if __name__ == "__main__":
    main()
