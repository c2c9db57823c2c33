#!/usr/bin/env python3
"""Interleaved A/B runs of ``benchmarks/ours.py``: CPU seconds and in-process time per variant.

    python benchmarks/abtest.py --base-url https://127.0.0.1:PORT --set s4m --runs 7 \\
        --variant before=/tmp/before --variant after=.  [--curl https://127.0.0.1:PORT]

Each variant is a directory holding a ``ninepic_async`` package (put first on ``PYTHONPATH``)
and optional ``KEY=VALUE`` environment settings or ``--option=value`` arguments for ours.py after
commas (``name=DIR,NINEPIC_BENCH_LOOP=asyncio,--chunk-size=4194304``); ``BASE=URL`` points that
variant at another server (e.g. the plain-HTTP port). ``--curl BASE_URL`` (repeatable) adds curl.
Variants (and curl with ``--curl``) run in turn, round after round, so load from other work on
a shared box falls on all alike; each child's user+sys CPU comes from ``os.wait4``. Prints one
line per run and a median table. For HTTPS, ``SSL_CERT_FILE`` is the harness's throwaway CA.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import page_reporting

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
CA = BENCH_DIR / "work" / "tls" / "ca.pem"
OUT = Path(os.environ.get("NINEPIC_BENCH_OUT") or BENCH_DIR / "work" / "ab-out")
"""Where the children write (``NINEPIC_BENCH_OUT``: see ``harness.output_filesystem``)."""


def url_list(base_url: str, data_set: str, path: Path) -> tuple[int, int]:
    """Write ``url<TAB>name`` lines for every file of ``data_set``; (files, bytes)."""
    files = sorted((DATA_DIR / data_set).glob("*.bin"))
    path.write_text("".join(f"{base_url}/{data_set}/{f.name}\t{f.name}\n" for f in files))
    return len(files), sum(f.stat().st_size for f in files)


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str, str]:
    """(wall s, user CPU s, system CPU s, stdout, page faults and context switches) of one child."""
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd[:3]} failed ({status}): {out}")
    counts = (
        f"user {ru.ru_utime:.2f} sys {ru.ru_stime:.2f} faults {ru.ru_minflt} csw {ru.ru_nvcsw + ru.ru_nivcsw}"
    )
    return wall, ru.ru_utime, ru.ru_stime, out, counts


def run_rounds(
    runs: int,
    contenders: list[tuple[str, list[str], dict[str, str]]],
    results: dict[str, list[tuple[float, float, float, float]]],
) -> None:
    """A discarded warm-up round, then ``runs`` rounds of every contender in turn."""
    for round_no in range(runs + 1):
        for name, cmd, env in contenders:
            wall, user, system, out, counts = run_child(cmd, env)
            cpu = user + system
            inproc = wall
            if out.strip().startswith("{"):
                inproc = float(json.loads(out.strip().splitlines()[-1])["elapsed_s"])
            tag = "warm-up" if round_no == 0 else f"run {round_no}"
            print(
                f"{tag:8} {name:12} wall {wall:6.3f}  in-process {inproc:6.3f}  cpu {cpu:6.3f}  {counts}",
                flush=True,
            )
            if round_no:
                results[name].append((wall, inproc, user, system))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--set", default="s4m", help="data set directory under benchmarks/data")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--variant", action="append", default=[], help="NAME=DIR[,KEY=VALUE...]")
    ap.add_argument(
        "--curl", action="append", default=[], metavar="BASE_URL", help="also run curl --parallel on BASE_URL"
    )
    args = ap.parse_args()
    lists = BENCH_DIR / "work" / "ab-lists"
    lists.mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ, SSL_CERT_FILE=str(CA))
    n_files, n_bytes = 0, 0

    def lists_for(base_url: str) -> tuple[Path, Path]:
        """The url<TAB>name list for ours and the url/output config for curl, for ``base_url``."""
        nonlocal n_files, n_bytes
        stem = f"{args.set}-{base_url.split(':', 1)[0]}"
        tsv, curl_cfg = lists / f"{stem}.tsv", lists / f"{stem}.curl"
        n_files, n_bytes = url_list(base_url, args.set, tsv)
        pairs = [line.split("\t") for line in tsv.read_text().splitlines()]
        curl_cfg.write_text("".join(f'url = "{u}"\noutput = "{OUT / n}"\n' for u, n in pairs))
        return tsv, curl_cfg

    contenders: list[tuple[str, list[str], dict[str, str]]] = []
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        directory, *settings = rest.split(",")
        env = dict(base_env, PYTHONPATH=f"{Path(directory).resolve()}:{BENCH_DIR}")
        extra = [s for s in settings if s.startswith("--")]
        env.update(s.split("=", 1) for s in settings if not s.startswith("--"))
        tsv, _ = lists_for(env.pop("BASE", args.base_url))
        cmd = [sys.executable, str(BENCH_DIR / "ours.py"), "--urls", str(tsv), "--dest", str(OUT)]
        contenders.append((name, [*cmd, "--concurrency", str(args.concurrency), *extra], env))
    for base_url in args.curl:
        _, curl_cfg = lists_for(base_url)
        curl = ["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max"]
        cmd = [*curl, str(args.concurrency), "--cacert", str(CA), "--config", str(curl_cfg)]
        contenders.append((f"curl {base_url.split(':', 1)[0]}", cmd, base_env))
    results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _, _ in contenders}
    print(f"{args.set}: {n_files} files, {n_bytes / 1e9:.3f} GB, {args.base_url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with page_reporting.held() as reporting:
        print(reporting, flush=True)
        run_rounds(args.runs, contenders, results)
    print(f"\nmedians of {args.runs} interleaved runs ({args.set}, concurrency {args.concurrency}):")
    print("| contender | wall s | in-process s | CPU s (user + sys) | CPU s/GB |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        wall, inproc, user, system = (statistics.median(r[i] for r in rows) for i in range(4))
        cpu = statistics.median(r[2] + r[3] for r in rows)
        per_gb = cpu / (n_bytes / 1e9)
        row = f"{wall:.3f} | {inproc:.3f} | {cpu:.2f} ({user:.2f} + {system:.2f}) | {per_gb:.2f}"
        print(f"| {name} | {row} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
