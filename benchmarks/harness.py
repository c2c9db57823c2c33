#!/usr/bin/env python3
"""Benchmark runner: data generation, measured subprocess runs, verification, stats and the report.

Usually started by ``bash benchmarks/run.sh`` (which also installs the tools and starts nginx).
Subcommands:

  gendata [--quick]                 make the random data sets under benchmarks/data (reused if present)
  run --base-url URL [--quick] ...  run every group, write results/<latest|quick>.{json,md,png}
  report JSON                       re-render the Markdown report and the chart from a results JSON
  tls                               make (or reuse while valid) the throwaway CA + server cert in work/tls

Every contender runs as a child process; its wall time is taken around the process, its CPU time
(user+sys) and peak RSS come from ``os.wait4`` on that child, and its output is verified (file
count, sizes, sampled bytes) before the run counts. A wrong output marks the contender FAILED.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import page_reporting

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
WORK_DIR = BENCH_DIR / "work"
OUT_DIR = Path(os.environ.get("NINEPIC_BENCH_OUT") or WORK_DIR / "out")
"""Where every contender writes (``run.sh`` points it at a journaled scratch file system when
the work dir's is ext4 without a journal; see :func:`output_filesystem`)."""
LIST_DIR = WORK_DIR / "lists"
SIM_DIR = WORK_DIR / "sim"
RESULTS_DIR = BENCH_DIR / "results"
TLS_DIR = WORK_DIR / "tls"
PY = sys.executable

KiB = 1024
MiB = 1024 * KiB
MB = 1_000_000
IGNORED_OUTPUTS = frozenset({"manifest.jsonl", ".ninepic.lock"})
"""Files a contender may leave beside the downloads (our downloader's manifest and run lock)."""
SAMPLE_BYTES = 4096
SWEEP_LEVELS = (1, 4, 16, 64)
SNAPSHOT_DIR = WORK_DIR / "snapshot"
CHILD_ENV: dict[str, str] | None = None
EVENT_LOOPS: set[str] = set()
"""Event loops our Python contenders reported using ("uvloop" when installed, else "asyncio")."""
"""Environment of every child: PYTHONPATH points at the snapshot of ninepic_async taken at start."""


def snapshot_package() -> None:
    """Freeze the code under test: copy ninepic_async/ and make every child import the copy.

    Edits to the working tree while the benchmark runs (other people's work, test tools that
    mutate sources) then cannot leak into some runs and not others.
    """
    global CHILD_ENV
    shutil.rmtree(SNAPSHOT_DIR, ignore_errors=True)
    shutil.copytree(
        REPO_DIR / "ninepic_async",
        SNAPSHOT_DIR / "ninepic_async",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # Bytecode, as `pip install` of the wheel leaves it: without it every child would compile
    # the package afresh (this machine sets PYTHONDONTWRITEBYTECODE), ~0.1 s per run.
    compileall.compile_dir(SNAPSHOT_DIR / "ninepic_async", quiet=1)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SNAPSHOT_DIR), env.get("PYTHONPATH", "")) if p)
    CHILD_ENV = env


def log(msg: str) -> None:
    """Progress line on stderr (the harness is a command-line tool)."""
    print(f"[harness {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# data sets
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    """A directory of same-size random files served by nginx."""

    key: str
    dirname: str
    count: int
    size: int
    quick_count: int

    def n(self, quick: bool) -> int:
        return self.quick_count if quick else self.count

    def names(self, quick: bool) -> list[str]:
        return [f"f{i:05d}.bin" for i in range(self.n(quick))]

    def title(self, quick: bool) -> str:
        return f"{self.n(quick):,} x {human_size(self.size)}"


DATASETS: tuple[DataSet, ...] = (
    DataSet("256k", "s256k", 2000, 256 * KiB, 200),
    DataSet("4m", "s4m", 400, 4 * MiB, 40),
    DataSet("256m", "s256m", 4, 256 * MiB, 1),
)
DATASET_BY_KEY = {d.key: d for d in DATASETS}


def human_size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"


def gendata(quick: bool) -> None:
    """Create missing or wrong-size files; existing complete files are reused."""
    chunk = 4 * MiB
    for ds in DATASETS:
        d = DATA_DIR / ds.dirname
        d.mkdir(parents=True, exist_ok=True)
        made = 0
        for name in ds.names(quick):
            path = d / name
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_size == ds.size:
                    continue
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                left = ds.size
                while left:
                    n = min(chunk, left)
                    f.write(os.urandom(n))
                    left -= n
            tmp.replace(path)
            made += 1
        log(f"data {ds.dirname}: {ds.n(quick)} x {human_size(ds.size)} ({made} generated)")


# --------------------------------------------------------------------------------------------
# TLS: a throwaway CA and a server certificate for 127.0.0.1 / localhost (openssl binary)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    """PEM files under benchmarks/work/tls/: the CA every client trusts, nginx's cert and key."""

    ca: Path
    cert: Path
    key: Path


TLS_DAYS = 30
TLS_MIN_LEFT_S = 86400
"""A certificate with less than this left is regenerated."""
SERVER_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def tls_files_valid(tls: TlsFiles) -> bool:
    """The three files exist, the server cert chains to the CA, matches the key and is not near expiry."""
    if not all(p.is_file() for p in (tls.ca, tls.cert, tls.key)):
        return False
    d = tls.ca.parent
    if _openssl("verify", "-CAfile", str(tls.ca), str(tls.cert), cwd=d).returncode != 0:
        return False
    for pem in (tls.ca, tls.cert):
        if _openssl("x509", "-noout", "-checkend", str(TLS_MIN_LEFT_S), "-in", str(pem), cwd=d).returncode:
            return False
    cert_pub = _openssl("x509", "-noout", "-pubkey", "-in", str(tls.cert), cwd=d).stdout
    key_pub = _openssl("pkey", "-pubout", "-in", str(tls.key), cwd=d).stdout
    return bool(cert_pub) and cert_pub == key_pub


def make_tls(directory: Path = TLS_DIR) -> TlsFiles:
    """Reuse the CA and server certificate under directory when valid, else make new ones.

    Both keys are ECDSA P-256 (what Cloudflare serves to clients that support it). The server
    certificate names IP 127.0.0.1 and DNS localhost; the CA's key never leaves directory.
    """
    tls = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    if tls_files_valid(tls):
        return tls
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.ext").write_text(SERVER_EXT)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    steps = [
        ("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", str(TLS_DAYS),
         "-subj", "/CN=ninepic_async benchmark throwaway CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        ("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"),
        ("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", str(TLS_DAYS), "-extfile", "server.ext"),
    ]  # fmt: skip
    for step in steps:
        p = _openssl(*step, cwd=directory)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {step[0]} failed: {p.stderr.strip()[-400:]}")
    os.chmod(directory / "ca.key", 0o600)
    os.chmod(directory / "server.key", 0o600)
    if not tls_files_valid(tls):
        raise RuntimeError(f"the certificates just made in {directory} do not verify")
    log(f"made a throwaway CA and a server certificate for 127.0.0.1/localhost in {directory}")
    return tls


@dataclass(frozen=True)
class Transport:
    """How the contenders reach nginx: plain HTTP, or HTTPS with the throwaway CA trusted.

    Verification stays on for every contender: Python (aiohttp's default context) and OpenSSL
    users read the CA from SSL_CERT_FILE; curl and aria2c are also given it explicitly
    (``--cacert``, ``--ca-certificate``) because their builds pin the system bundle.
    """

    name: str
    base_url: str
    ca_file: Path | None = None

    @property
    def suffix(self) -> str:
        """Appended to group ids and list names: "" for http (the ids of earlier reports), "-https"."""
        return "" if self.name == "http" else f"-{self.name}"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str] | None:
        """The child environment: base (default CHILD_ENV) plus SSL_CERT_FILE for https."""
        if self.ca_file is None:
            return base
        return {
            **(base if base is not None else (CHILD_ENV or dict(os.environ))),
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def curl_args(self) -> list[str]:
        return ["--cacert", str(self.ca_file)] if self.ca_file else []

    def aria2_args(self) -> list[str]:
        return [f"--ca-certificate={self.ca_file}", "--check-certificate=true"] if self.ca_file else []


TRANSPORTS = ("http", "https")


# --------------------------------------------------------------------------------------------
# measuring one child process
# --------------------------------------------------------------------------------------------
@dataclass
class Measurement:
    """What one child process cost: CPU from os.wait4, peak RSS from the kernel's VmHWM."""

    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


RSS_POLL_S = 0.01


def _poll_peak_rss(pid: int, cmdline: bytes, stop: threading.Event, peak: list[int]) -> None:
    """Keep peak[0] = the child's VmHWM (KiB) once it runs cmd.

    ru_maxrss from wait4 is useless here: Linux carries the pre-exec high-water mark (a forked
    copy of this Python process, ~30 MiB) into it, so small tools would all read ~30 MiB.
    VmHWM belongs to the post-exec address space; it only grows, so the last sample before
    exit is the peak up to the last RSS_POLL_S. Samples taken before the exec are skipped.
    """
    base = f"/proc/{pid}"
    while not stop.is_set():
        try:
            with open(f"{base}/cmdline", "rb") as f:
                if f.read() == cmdline:
                    with open(f"{base}/status") as f2:
                        for line in f2:
                            if line.startswith("VmHWM:"):
                                peak[0] = max(peak[0], int(line.split()[1]))
                                break
        except (OSError, ValueError):
            pass
        stop.wait(RSS_POLL_S)


def measure(cmd: Sequence[str], *, timeout_s: float, env: dict[str, str] | None = None) -> Measurement:
    """Run cmd as a child (own process group), wait4() it, kill its group after timeout_s."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed_out = threading.Event()
        stop = threading.Event()
        peak = [0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env if env is not None else CHILD_ENV,
            start_new_session=True,
        )
        cmdline = b"".join(a.encode() + b"\0" for a in cmd)
        poller = threading.Thread(target=_poll_peak_rss, args=(proc.pid, cmdline, stop, peak), daemon=True)
        poller.start()

        def _expire() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, _expire)
        timer.start()
        reaped = False
        try:
            _, status, ru = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            reaped = True
        finally:
            timer.cancel()
            stop.set()
            poller.join()
            if not reaped:  # interrupted: do not leave the child behind
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, 0)
                proc.returncode = -9
        proc.returncode = os.waitstatus_to_exitcode(status)
        # a child that forked helpers may leave them in its group: end them too (same ids only)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return Measurement(
            wall_s=wall,
            user_s=ru.ru_utime,
            sys_s=ru.ru_stime,
            maxrss_kib=peak[0],
            returncode=proc.returncode,
            timed_out=timed_out.is_set(),
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def last_json_line(text: str) -> dict[str, Any] | None:
    """The last line of stdout that parses as a JSON object (our scripts print one)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    return obj
    return None


# --------------------------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------------------------
def list_outputs(out_dir: Path) -> list[Path]:
    """Every regular file under out_dir except the allowed side files."""
    found = []
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if name not in IGNORED_OUTPUTS:
                found.append(Path(root) / name)
    return found


def _sample(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        parts = []
        for offset in (0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)):
            f.seek(offset)
            parts.append(f.read(SAMPLE_BYTES))
        return b"".join(parts)


def verify_named(out_dir: Path, source_dir: Path, names: Sequence[str], size: int) -> str | None:
    """Each expected file exists with the right size and sampled bytes; nothing else is there."""
    outputs = list_outputs(out_dir)
    if len(outputs) != len(names):
        extra = sorted(str(p.relative_to(out_dir)) for p in outputs if p.name not in set(names))[:3]
        return f"{len(outputs)} files, expected {len(names)}" + (f" (extra: {extra})" if extra else "")
    for name in names:
        path = out_dir / name
        try:
            got = path.stat().st_size
        except FileNotFoundError:
            return f"missing {name}"
        if got != size:
            return f"{name}: {got} bytes, expected {size}"
        if _sample(path, size) != _sample(source_dir / name, size):
            return f"{name}: content differs from the source"
    return None


def verify_digests(out_dir: Path, expected: Sequence[tuple[int, str]]) -> str | None:
    """The multiset of (size, md5) of the outputs equals the expected one (names are the tool's)."""
    outputs = list_outputs(out_dir)
    if len(outputs) != len(expected):
        return f"{len(outputs)} files, expected {len(expected)}"
    got = []
    for path in outputs:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(MiB), b""):
                h.update(block)
        got.append((path.stat().st_size, h.hexdigest()))
    if sorted(got) != sorted(tuple(e) for e in expected):
        bad_sizes = sorted(s for s, _ in got) != sorted(s for s, _ in expected)
        return "file sizes differ from the source" if bad_sizes else "file contents differ from the source"
    return None


def clean_out() -> None:
    """Empty the shared output directory and flush metadata so every run starts alike."""
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    os.sync()


# --------------------------------------------------------------------------------------------
# contenders and groups
# --------------------------------------------------------------------------------------------
@dataclass
class Contender:
    """One command to time. ``verify`` returns an error text or None."""

    name: str
    label: str
    cmd: list[str]
    verify: Callable[[Measurement], str | None]
    ref: str | None = None
    """Name of the contender in the same group whose same-round wall time gives the ratio."""
    env: dict[str, str] | None = None


@dataclass
class RunRecord:
    round: int
    ok: bool
    error: str | None
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int
    inproc_s: float | None = None


@dataclass
class GroupResult:
    id: str
    kind: str
    title: str
    files: int
    bytes: int
    concurrency: int | None
    contenders: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    transport: str = "http"


@dataclass
class GroupSpec:
    """A group to run: what it downloads and its contenders (results become one GroupResult)."""

    id: str
    kind: str
    title: str
    files: int
    bytes: int
    concurrency: int | None
    contenders: Sequence[Contender]
    note: str = ""
    transport: str = "http"


def run_interleaved(
    specs: Sequence[GroupSpec], runs: int, warmup: int, timeout_s: float
) -> list[GroupResult]:
    """Interleave every contender of every spec, each round in its own shuffled order (seeded
    by the round: C A' B A B' C', then A B' C' ...); one result per spec.

    Used to run the same data set over http and https in the same rounds, so load on a shared
    box falls on both transports alike. The order is shuffled because on this VM a run's speed
    depends on what ran just before it (measured: the same 1 GB download took 1.3-1.6 s right
    after another run of ours and 2.1-3.1 s after naive's or after 3 idle seconds, the
    difference in system time): a fixed order would hand one contender the same neighbour in
    every round.
    """
    records: dict[tuple[str, str], list[RunRecord]] = {
        (sp.id, c.name): [] for sp in specs for c in sp.contenders
    }
    contenders = [(spec, c) for spec in specs for c in spec.contenders]
    for rnd in range(warmup + runs):
        for sp, c in random.Random(rnd).sample(contenders, len(contenders)):
            gid = sp.id
            clean_out()
            m = measure(c.cmd, timeout_s=timeout_s, env=c.env)
            if m.timed_out:
                error: str | None = f"timed out after {timeout_s:.0f} s"
            elif m.returncode != 0:
                tail = (m.stderr.strip() or m.stdout.strip()).splitlines()[-1:] or [""]
                error = f"exit {m.returncode}: {tail[0][:160]}"
            else:
                error = c.verify(m)
            info = last_json_line(m.stdout)
            inproc = info.get("elapsed_s") if info else None
            if info and isinstance(info.get("loop"), str):
                EVENT_LOOPS.add(info["loop"])
            tag = "warmup" if rnd < warmup else f"run {rnd - warmup + 1}/{runs}"
            log(
                f"{gid:<14} {c.name:<12} {tag:<9} wall {m.wall_s:7.3f}s cpu {m.cpu_s:6.2f}s "
                f"rss {m.maxrss_kib / 1024:6.1f}MiB {'OK' if error is None else 'FAIL: ' + error}"
            )
            if rnd >= warmup:
                records[(sp.id, c.name)].append(
                    RunRecord(
                        round=rnd - warmup,
                        ok=error is None,
                        error=error,
                        wall_s=m.wall_s,
                        user_s=m.user_s,
                        sys_s=m.sys_s,
                        maxrss_kib=m.maxrss_kib,
                        inproc_s=float(inproc) if isinstance(inproc, (int, float)) else None,
                    )
                )
    clean_out()
    results = []
    for sp in specs:
        result = GroupResult(
            sp.id, sp.kind, sp.title, sp.files, sp.bytes, sp.concurrency, note=sp.note, transport=sp.transport
        )
        for c in sp.contenders:
            runs_ = [asdict(r) for r in records[(sp.id, c.name)]]
            result.contenders.append({"name": c.name, "label": c.label, "ref": c.ref, "runs": runs_})
        results.append(result)
    return results


def write_url_files(tag: str, urls: Sequence[str], names: Sequence[str]) -> dict[str, Path]:
    """The same job list in each tool's format: TSV for our scripts, curl config, aria2 input."""
    LIST_DIR.mkdir(parents=True, exist_ok=True)
    tsv = LIST_DIR / f"{tag}.tsv"
    tsv.write_text("".join(f"{u}\t{n}\n" for u, n in zip(urls, names, strict=True)))
    curl_cfg = LIST_DIR / f"{tag}.curl"
    curl_cfg.write_text(
        "".join(f'url = "{u}"\noutput = "{OUT_DIR / n}"\n' for u, n in zip(urls, names, strict=True))
    )
    aria = LIST_DIR / f"{tag}.aria2"
    aria.write_text("".join(f"{u}\n  out={n}\n" for u, n in zip(urls, names, strict=True)))
    return {"tsv": tsv, "curl": curl_cfg, "aria2": aria}


def curl_cmd(cfg: Path, n: int, tr: Transport | None = None) -> list[str]:
    return [
        "curl",
        *(tr.curl_args() if tr else []),
        "--parallel",
        "--parallel-max",
        str(n),
        "--config",
        str(cfg),
        "--silent",
        "--no-progress-meter",  # curl 7.88 prints its --parallel meter despite --silent
        "--show-error",
        "--fail",
    ]


def aria2_cmd(inp: Path, n: int, tr: Transport | None = None) -> list[str]:
    return [
        "aria2c",
        "--no-conf",
        *(tr.aria2_args() if tr else []),
        "--input-file",
        str(inp),
        "--dir",
        str(OUT_DIR),
        "-j",
        str(n),
        "-x1",
        "-s1",
        "--file-allocation=none",
        "--summary-interval=0",
        "--show-console-readout=false",
        "--download-result=hide",
        "--console-log-level=error",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
    ]


def url_list_cmd(script: str, tsv: Path, n: int) -> list[str]:
    """A Python contender (``ours.py``, ``naive.py``) fed the URL list at concurrency ``n``."""
    return [PY, str(BENCH_DIR / script), "--urls", str(tsv), "--dest", str(OUT_DIR), "--concurrency", str(n)]


def ours_cmd(tsv: Path, n: int) -> list[str]:
    return url_list_cmd("ours.py", tsv, n)


def naive_cmd(tsv: Path, n: int) -> list[str]:
    return url_list_cmd("naive.py", tsv, n)


def ours_available() -> str | None:
    """None if download_url_list imports in the bench interpreter, else the reason."""
    probe = subprocess.run(
        [PY, "-c", "from ninepic_async.download import download_url_list"],
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["import failed"])[-1]


# --------------------------------------------------------------------------------------------
# the simulator (end to end and memory), run by e2e.py in its own process
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def simulator(
    photos: int,
    size: tuple[int, int],
    api_latency_s: float,
    tag: str,
    tls: TlsFiles | None = None,
    external_storage: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Start `e2e.py serve`; yield its info (urls, ids, key) plus "expected": [(size, md5), ...].

    With tls, the simulator's API and storage are served over HTTPS with that certificate. With
    external_storage (a data set's URL prefix), it is an API stand-in whose presigned URLs name
    that data set's files on nginx ("expected" is then empty).
    """
    tls_args = ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)] if tls else []
    if external_storage:
        tls_args += ["--external-storage", external_storage]
    SIM_DIR.mkdir(parents=True, exist_ok=True)
    info_path = SIM_DIR / f"{tag}.json"
    info_path.unlink(missing_ok=True)
    log_path = SIM_DIR / f"{tag}.log"
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(
            [
                PY,
                str(BENCH_DIR / "e2e.py"),
                "serve",
                "--photos",
                str(photos),
                "--size-min",
                str(size[0]),
                "--size-max",
                str(size[1]),
                "--api-latency-s",
                str(api_latency_s),
                "--info",
                str(info_path),
                "--max-lifetime-s",
                "1800",
                *tls_args,
            ],
            stdin=subprocess.DEVNULL,
            env=CHILD_ENV,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not info_path.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"simulator exited {proc.returncode}: {log_path.read_text()[-400:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not start within 180 s")
            time.sleep(0.1)
        info = json.loads(info_path.read_text())
        info["expected"] = json.loads(info_path.with_suffix(".expected.json").read_text())
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def resolve_urls(info_path: Path, out_tsv: Path, env: dict[str, str] | None = None) -> None:
    """Pre-resolve every photo's presigned URL through the API (not timed)."""
    subprocess.run(
        [PY, str(BENCH_DIR / "e2e.py"), "resolve", "--info", str(info_path), "--out", str(out_tsv)],
        check=True,
        timeout=600,
        env=env if env is not None else CHILD_ENV,
    )


# --------------------------------------------------------------------------------------------
# the groups
# --------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """Sizes and repetitions of a run (full or --quick)."""

    quick: bool
    runs: int
    warmup: int
    sweep_runs: int
    concurrency: int
    e2e_photos: int
    e2e_size: tuple[int, int]
    e2e_runs: int
    memory_sizes: tuple[int, ...]
    memory_size: tuple[int, int]
    timeout_s: float


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(
            True,
            2,
            0,
            1,
            args.concurrency,
            300,
            (64 * KiB, 256 * KiB),
            2,
            (1000, 3000),
            (4 * KiB, 16 * KiB),
            120.0,
        )
    else:
        plan = Plan(
            False,
            5,
            1,
            3,
            args.concurrency,
            2000,
            (64 * KiB, 256 * KiB),
            5,
            (1000, 5000, 20000, 50000),
            (4 * KiB, 16 * KiB),
            300.0,
        )
    if args.runs:
        plan.runs = args.runs
    return plan


def cli_download_cmd(
    info: dict[str, Any], n: int, env: dict[str, str] | None
) -> tuple[list[str], dict[str, str]]:
    """`ninepic download --all` against the API at ``info`` as a user runs it, and its
    environment: ``env`` (default the children's) with the key, which never goes in argv."""
    cmd = [
        PY,
        "-m",
        "ninepic_async",
        "download",
        "--org",
        str(info["org_id"]),
        "--event",
        str(info["event_id"]),
        "--base-url",
        str(info["base_url"]),
        "--all",
        "--out",
        str(OUT_DIR),
        "--concurrency",
        str(n),
    ]
    return cmd, {**(env or CHILD_ENV or os.environ), "NINEPIC_API_KEY": str(info["api_key"])}


def throughput_spec(
    ds: DataSet, plan: Plan, tr: Transport, with_ours: bool, standin: dict[str, Any] | None = None
) -> GroupSpec:
    names = ds.names(plan.quick)
    urls = [f"{tr.base_url}/{ds.dirname}/{n}" for n in names]
    files = write_url_files(f"tput-{ds.key}{tr.suffix}", urls, names)
    src = DATA_DIR / ds.dirname
    n = plan.concurrency
    env = tr.env()

    def check(_m: Measurement) -> str | None:
        return verify_named(OUT_DIR, src, names, ds.size)

    cs = [
        Contender(
            "curl", f"curl --parallel --parallel-max {n}", curl_cmd(files["curl"], n, tr), check, env=env
        ),
        Contender(
            "aria2c", f"aria2c -j {n} -x1", aria2_cmd(files["aria2"], n, tr), check, ref="curl", env=env
        ),
        Contender(
            "naive", "naive aiohttp+aiofiles gather", naive_cmd(files["tsv"], n), check, ref="curl", env=env
        ),
    ]
    if with_ours:
        cs.append(
            Contender(
                "ours",
                "ninepic_async download_url_list",
                ours_cmd(files["tsv"], n),
                check,
                ref="curl",
                env=env,
            )
        )
    if with_ours and standin is not None:
        cli_cmd, cli_env = cli_download_cmd(standin, n, env)
        cs.append(
            Contender(
                "cli",
                "CLI end to end: ninepic download --all",
                cli_cmd,
                check,
                ref="curl",
                env=cli_env,
            )
        )
    return GroupSpec(
        f"tput-{ds.key}{tr.suffix}",
        "throughput",
        ds.title(plan.quick),
        len(names),
        len(names) * ds.size,
        n,
        cs,
        transport=tr.name,
    )


def throughput_groups(
    ds: DataSet, plan: Plan, transports: Sequence[Transport], with_ours: bool, tls: TlsFiles | None
) -> list[GroupResult]:
    """One data set over every transport, all contenders interleaved in the same rounds.

    The CLI runs end to end: it pages the listing and fetches presigned URLs from an API
    stand-in (the simulator's API, on loopback with no added latency, over the same transport)
    whose URLs name the data set's files on nginx, where the others get the resolved list.
    """
    with contextlib.ExitStack() as stack:
        specs = []
        for tr in transports:
            standin = None
            if with_ours:
                standin = stack.enter_context(
                    simulator(
                        len(ds.names(plan.quick)),
                        (ds.size, ds.size),
                        0.0,
                        f"standin-{ds.key}{tr.suffix}",
                        tls if tr.ca_file else None,
                        external_storage=f"{tr.base_url}/{ds.dirname}",
                    )
                )
            specs.append(throughput_spec(ds, plan, tr, with_ours, standin))
        return run_interleaved(specs, plan.runs, plan.warmup, plan.timeout_s)


def ceiling_spec(plan: Plan, tr: Transport) -> GroupSpec:
    ds = DATASET_BY_KEY["256m"]
    name = ds.names(plan.quick)[0]
    url = f"{tr.base_url}/{ds.dirname}/{name}"
    env = tr.env()

    def check_null(m: Measurement) -> str | None:
        got = m.stdout.strip()
        return None if got == str(ds.size) else f"downloaded {got!r} bytes, expected {ds.size}"

    def check_disk(_m: Measurement) -> str | None:
        return verify_named(OUT_DIR, DATA_DIR / ds.dirname, [name], ds.size)

    base = ["curl", *tr.curl_args(), "--silent", "--show-error", "--fail"]
    cs = [
        Contender(
            "curl-null",
            "curl, 1 stream -> /dev/null",
            [*base, "-o", "/dev/null", "-w", "%{size_download}", url],
            check_null,
            env=env,
        ),
        Contender(
            "curl-disk",
            "curl, 1 stream -> disk",
            [*base, "-o", str(OUT_DIR / name), url],
            check_disk,
            ref="curl-null",
            env=env,
        ),
    ]
    return GroupSpec(
        f"ceiling{tr.suffix}",
        "ceiling",
        f"1 x {human_size(ds.size)}, one stream",
        1,
        ds.size,
        1,
        cs,
        transport=tr.name,
    )


def ceiling_groups(plan: Plan, transports: Sequence[Transport]) -> list[GroupResult]:
    specs = [ceiling_spec(plan, tr) for tr in transports]
    return run_interleaved(specs, plan.runs, plan.warmup, plan.timeout_s)


def sweep_group(plan: Plan, tr: Transport) -> GroupResult:
    ds = DATASET_BY_KEY["256k"]
    names = ds.names(plan.quick)
    urls = [f"{tr.base_url}/{ds.dirname}/{n}" for n in names]
    files = write_url_files(f"sweep{tr.suffix}", urls, names)
    env = tr.env()
    src = DATA_DIR / ds.dirname

    def check(_m: Measurement) -> str | None:
        return verify_named(OUT_DIR, src, names, ds.size)

    cs = []
    for n in SWEEP_LEVELS:
        cs.append(
            Contender(f"curl@{n}", f"curl --parallel-max {n}", curl_cmd(files["curl"], n, tr), check, env=env)
        )
        cs.append(
            Contender(
                f"ours@{n}",
                f"ours, concurrency {n}",
                ours_cmd(files["tsv"], n),
                check,
                ref=f"curl@{n}",
                env=env,
            )
        )
    spec = GroupSpec("sweep", "sweep", ds.title(plan.quick), len(names), len(names) * ds.size, None, cs)
    spec.transport = tr.name
    return run_interleaved([spec], plan.sweep_runs, 0, plan.timeout_s)[0]


def e2e_spec(plan: Plan, tr: Transport, info: dict[str, Any]) -> GroupSpec:
    n = plan.concurrency
    tag = f"e2e{tr.suffix}"
    info_path = SIM_DIR / f"{tag}.json"
    tsv = LIST_DIR / f"{tag}.tsv"
    LIST_DIR.mkdir(parents=True, exist_ok=True)
    env = tr.env()
    resolve_urls(info_path, tsv, env)
    expected: list[tuple[int, str]] = [(int(e[0]), str(e[1])) for e in info["expected"]]
    total = sum(s for s, _ in expected)

    def check(_m: Measurement) -> str | None:
        return verify_digests(OUT_DIR, expected)

    api_cmd = [
        PY,
        str(BENCH_DIR / "e2e.py"),
        "api",
        "--info",
        str(info_path),
        "--dest",
        str(OUT_DIR),
        "--concurrency",
        str(n),
    ]
    cli_cmd, cli_env = cli_download_cmd(info, n, env)
    cs = [
        Contender("list", "pre-resolved URL list (download_url_list)", ours_cmd(tsv, n), check, env=env),
        Contender("api", "download_originals(whole_event=True)", api_cmd, check, ref="list", env=env),
        Contender("cli", "CLI: ninepic download --all", cli_cmd, check, ref="list", env=cli_env),
    ]
    note = (
        f"simulator: {plan.e2e_photos} photos of "
        f"{plan.e2e_size[0] // KiB}-{plan.e2e_size[1] // KiB} KiB, "
        "20 ms added latency per API call; API and storage served by the simulator"
        + (" over TLS (its aiohttp sites with the throwaway certificate)" if tr.ca_file else "")
    )
    return GroupSpec(
        tag,
        "e2e",
        f"{len(expected):,} photos via the simulator",
        len(expected),
        total,
        n,
        cs,
        note=note,
        transport=tr.name,
    )


def e2e_groups(plan: Plan, transports: Sequence[Transport], tls: TlsFiles | None) -> list[GroupResult]:
    """One simulator per transport (same seed, so the same photos); contenders interleaved across them."""
    with contextlib.ExitStack() as stack:
        specs = []
        for tr in transports:
            info = stack.enter_context(
                simulator(
                    plan.e2e_photos, plan.e2e_size, 0.020, f"e2e{tr.suffix}", tls if tr.ca_file else None
                )
            )
            specs.append(e2e_spec(plan, tr, info))
        return run_interleaved(specs, plan.e2e_runs, 0, plan.timeout_s)


def memory_check(plan: Plan) -> list[dict[str, Any]]:
    """Peak RSS of download_originals(whole_event=True) for growing events of small photos."""
    rows = []
    for photos in plan.memory_sizes:
        tag = f"mem-{photos}"
        with simulator(photos, plan.memory_size, 0.0, tag) as info:
            expected: list[tuple[int, str]] = [(int(e[0]), str(e[1])) for e in info["expected"]]
            clean_out()
            cmd = [
                PY,
                str(BENCH_DIR / "memory.py"),
                "--info",
                str(SIM_DIR / f"{tag}.json"),
                "--dest",
                str(OUT_DIR),
                "--concurrency",
                str(plan.concurrency),
            ]
            m = measure(cmd, timeout_s=plan.timeout_s * 2)
            error = None
            if m.timed_out:
                error = "timed out"
            elif m.returncode != 0:
                error = f"exit {m.returncode}: {(m.stderr.strip().splitlines() or [''])[-1][:160]}"
            else:
                error = verify_digests(OUT_DIR, expected)
            info_out = last_json_line(m.stdout) or {}
            row = {
                "photos": photos,
                "files": len(expected),
                "bytes": sum(s for s, _ in expected),
                "ok": error is None,
                "error": error,
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "maxrss_kib": m.maxrss_kib,
                "baseline_rss_kib": info_out.get("baseline_rss_kib"),
                "rss_samples_kib": info_out.get("rss_samples_kib", []),
            }
            log(
                f"memory {photos:>6} photos: wall {m.wall_s:6.2f}s peak RSS {m.maxrss_kib / 1024:6.1f} MiB "
                f"{'OK' if error is None else 'FAIL: ' + error}"
            )
            rows.append(row)
            clean_out()
    return rows


def file_create_cost_us(n: int = 500) -> float:
    """Quick probe: microseconds to create (and close) one empty file in the output dir.

    Every contender pays this once per file; on some VM disks it is a large share of the
    small-file runs, so the report states it.
    """
    clean_out()
    t0 = time.perf_counter()
    for i in range(n):
        os.close(os.open(OUT_DIR / f"probe{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    cost = (time.perf_counter() - t0) / n * 1e6
    clean_out()
    return cost


def source_digest() -> str:
    """SHA-256 of the package sources, to notice code that changed while the benchmark ran."""
    h = hashlib.sha256()
    root = SNAPSHOT_DIR if CHILD_ENV is not None else REPO_DIR
    for path in sorted((root / "ninepic_async").rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def startup_cost(with_ours: bool) -> dict[str, float]:
    """Median wall time of starting the interpreter and importing what each Python contender imports."""
    out = {}
    stmts = [("naive", "import aiohttp, aiofiles")]
    if with_ours:
        # what ours.py imports before its first request (the package's names load on first use)
        ours = "import asyncio\nfrom ninepic_async.download import UrlJob, download_url_list"
        stmts.insert(0, ("ours", ours))
    for name, stmt in stmts:
        walls = [measure([PY, "-c", stmt], timeout_s=60).wall_s for _ in range(5)]
        out[name] = statistics.median(walls)
    return out


# --------------------------------------------------------------------------------------------
# machine description
# --------------------------------------------------------------------------------------------
def _first_line(cmd: Sequence[str]) -> str:
    try:
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def output_filesystem(path: Path) -> str:
    """What ``path`` is stored on, e.g. ``ext4 on /dev/vda without a journal``.

    Said because it shapes the small-file sets: on ext4 without a journal, creating a file
    skips (one buffer lookup each) every free inode of its group that was deleted in the last
    60 s, 360 s while that inode's table block is dirty (``recently_deleted`` in
    ``fs/ext4/ialloc.c``). The harness deletes each run's 2,000 files before the next run, so
    there every contender's creates scan thousands of them, one at a time under the directory's
    lock.
    """
    path.mkdir(parents=True, exist_ok=True)
    fields = _first_line(["sh", "-c", f"df --output=source,fstype '{path}' | tail -1"]).split()
    if len(fields) != 2:
        return "unknown"
    source, fstype = fields
    name = Path(source).name
    text = f"{fstype} on {source}"
    if fstype == "ext4" and Path("/proc/fs/ext4", name).exists():
        journaled = any(Path("/proc/fs/jbd2").glob(f"{name}-*"))
        text += " (journaled)" if journaled else " without a journal (see harness.output_filesystem)"
    with contextlib.suppress(OSError):
        backing = Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
        text += f", a loop-mounted image file ({backing})"
    return text


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1) if m else cpu
    mem_kib = 0
    with contextlib.suppress(OSError, AttributeError):
        mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))  # type: ignore[union-attr]
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    versions = {}
    for pkg in ("ninepic-async", "aiohttp", "aiofiles", "msgspec", "anyio"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    git = _first_line(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO_DIR), "status", "--porcelain", "--", "ninepic_async"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / MiB, 1),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "nginx": _first_line([nginx, "-v"]),
        "curl": _first_line(["curl", "--version"]),
        "aria2c": _first_line(["aria2c", "--version"]),
        "packages": versions,
        "git": git + (" + uncommitted changes in ninepic_async/" if dirty else ""),
        "filesystem": output_filesystem(OUT_DIR),
    }


# --------------------------------------------------------------------------------------------
# stats and the Markdown report
# --------------------------------------------------------------------------------------------
def contender_stats(group: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """Median/min/max of the runs; None figures when any run failed (a wrong output is not fast)."""
    runs = c["runs"]
    failed = [r for r in runs if not r["ok"]]
    st: dict[str, Any] = {
        "n": len(runs),
        "failed": len(failed),
        "error": failed[0]["error"] if failed else None,
    }
    if not runs or failed:
        return st
    walls = [r["wall_s"] for r in runs]
    mbps = [group["bytes"] / MB / w for w in walls]
    fps = [group["files"] / w for w in walls]
    cpus = [r["user_s"] + r["sys_s"] for r in runs]
    gb = group["bytes"] / 1e9
    st.update(
        wall=(statistics.median(walls), min(walls), max(walls)),
        mbps=(statistics.median(mbps), min(mbps), max(mbps)),
        fps=statistics.median(fps),
        cpu=(statistics.median(cpus), min(cpus), max(cpus)),
        cpu_per_gb=(statistics.median(cpus) / gb, min(cpus) / gb, max(cpus) / gb) if gb else None,
        rss_mib=max(r["maxrss_kib"] for r in runs) / 1024,
    )
    inproc = [r["inproc_s"] for r in runs if r.get("inproc_s") is not None]
    if inproc:
        st["inproc"] = statistics.median(inproc)
    if c.get("ref"):
        st["ratio"] = ratio_stats(group, c["ref"], c["name"])
    return st


def ratio_stats(group: dict[str, Any], ref: str, name: str) -> tuple[float, float, float] | None:
    """Throughput of `name` over that of `ref`, round by round (= ref wall / name wall)."""
    by = {c["name"]: {r["round"]: r for r in c["runs"]} for c in group["contenders"]}
    if ref not in by or name not in by:
        return None
    ratios = []
    for rnd, r in by[name].items():
        q = by[ref].get(rnd)
        if q is None or not q["ok"] or not r["ok"]:
            return None
        ratios.append(q["wall_s"] / r["wall_s"])
    if not ratios:
        return None
    return statistics.median(ratios), min(ratios), max(ratios)


def fmt_range(t: tuple[float, float, float] | None, digits: int = 2) -> str:
    if not t:
        return "—"
    med, lo, hi = t
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def transport_of(group: dict[str, Any]) -> str:
    """The group's transport; results written before HTTPS was measured are all http."""
    return str(group.get("transport", "http"))


def group_table(group: dict[str, Any], show_title: bool = True) -> list[str]:
    lines = []
    head = "| Data set | Transport | Contender |" if show_title else "| Transport | Contender |"
    lines.append(
        head + " Wall s, median (min–max) | MB/s, median (min–max) | CPU s per GB | files/s | CPU s user+sys "
        "| Peak RSS MiB | Throughput ratio (min–max) | Status |"
    )
    lines.append("|" + "---|" * (head.count("|") - 1 + 8))
    for c in group["contenders"]:
        st = contender_stats(group, c)
        tr = transport_of(group)
        prefix = f"| {group['title']} | {tr} | {c['label']} |" if show_title else f"| {tr} | {c['label']} |"
        if "wall" not in st:
            status = f"**FAILED** {st['failed']}/{st['n']} runs: {st['error']}" if st["n"] else "not run"
            lines.append(prefix + " — | — | — | — | — | — | — | " + status + " |")
            continue
        ratio = st.get("ratio")
        ratio_txt = f"{fmt_range(ratio)} × {c['ref']}" if ratio else "reference"
        per_gb = st.get("cpu_per_gb")
        per_gb_txt = f"{per_gb[0]:.2f}" if per_gb else "—"
        lines.append(
            prefix
            + f" {fmt_range(st['wall'], 3)} | {fmt_range(st['mbps'], 0)} | {per_gb_txt} "
            + f"| {st['fps']:,.0f} | {st['cpu'][0]:.2f} "
            + f"| {st['rss_mib']:.1f} | {ratio_txt} | ok {st['n']}/{st['n']} |"
        )
    return lines


def transport_table(groups: list[dict[str, Any]]) -> list[str]:
    """Per data set and contender: MB/s and CPU s per GB over http and https side by side."""
    by_title: dict[str, dict[str, dict[str, Any]]] = {}
    for g in groups:
        if g["kind"] == "throughput":
            by_title.setdefault(g["title"], {})[transport_of(g)] = g
    pairs = {t: d for t, d in by_title.items() if "http" in d and "https" in d}
    if not pairs:
        return []
    lines = [
        "| Data set | Contender | MB/s http | MB/s https | https ÷ http | CPU s/GB http | CPU s/GB https "
        "| https ÷ curl (throughput, same round) | CPU s/GB https ÷ curl's |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for title, d in pairs.items():
        h, s_ = d["http"], d["https"]
        curl_s = next((c for c in s_["contenders"] if c["name"] == "curl"), None)
        curl_st = contender_stats(s_, curl_s) if curl_s else {}
        for ch in h["contenders"]:
            cs = next((c for c in s_["contenders"] if c["name"] == ch["name"]), None)
            if cs is None:
                continue
            a, b = contender_stats(h, ch), contender_stats(s_, cs)
            if "mbps" not in a or "mbps" not in b:
                lines.append(f"| {title} | {ch['name']} | — | — | — | — | — | — | — |")
                continue
            r = ratio_stats(s_, "curl", cs["name"]) if cs["name"] != "curl" else None
            cpu_rel = (
                f"{b['cpu_per_gb'][0] / curl_st['cpu_per_gb'][0]:.2f}"
                if curl_st.get("cpu_per_gb") and b.get("cpu_per_gb")
                else "—"
            )
            lines.append(
                f"| {title} | {ch['name']} | {a['mbps'][0]:.0f} | {b['mbps'][0]:.0f} "
                f"| {b['mbps'][0] / a['mbps'][0]:.2f} | {a['cpu_per_gb'][0]:.2f} | {b['cpu_per_gb'][0]:.2f} "
                f"| {fmt_range(r) if r else ('reference' if cs['name'] == 'curl' else '—')} | {cpu_rel} |"
            )
    return lines


def find(groups: list[dict[str, Any]], gid: str) -> dict[str, Any] | None:
    return next((g for g in groups if g["id"] == gid), None)


def targets(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows; figures are medians of same-round ratios."""
    groups = res["groups"]
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("met" if ok else "**missed**")

    for key, need in (("4m", 1.0), ("256k", 0.9)):
        g = find(groups, f"tput-{key}")
        r = ratio_stats(g, "curl", "ours") if g else None
        rows.append(
            (
                f"HTTP: ours ≥ {need:.1f}× curl on {g['title'] if g else key}",
                fmt_range(r),
                verdict(r and r[0] >= need),
            )
        )
    for key, need in (("4m", 1.0), ("256m", 1.0), ("256k", 0.9)):
        g = find(groups, f"tput-{key}-https")
        if g is None:
            continue
        r = ratio_stats(g, "curl", "ours")
        rows.append(
            (f"HTTPS: ours ≥ {need:.1f}× curl on {g['title']}", fmt_range(r), verdict(r and r[0] >= need))
        )
    for suffix, label, needs in (
        ("", "HTTP", (("4m", 1.0), ("256m", 1.0), ("256k", 1.0))),
        ("-https", "HTTPS", (("4m", 1.0), ("256m", 1.0), ("256k", 0.9))),
    ):
        for key, need in needs:
            g = find(groups, f"tput-{key}{suffix}")
            if g is None or not any(c["name"] == "cli" for c in g["contenders"]):
                continue
            r = ratio_stats(g, "curl", "cli")
            rows.append(
                (
                    f"{label}: CLI end to end ≥ {need:.1f}× curl on {g['title']}",
                    fmt_range(r),
                    verdict(r and r[0] >= need),
                )
            )
    for key in ("4m", "256m", "256k"):
        g = find(groups, f"tput-{key}-https")
        if g is None:
            continue
        by = {c["name"]: contender_stats(g, c) for c in g["contenders"]}
        ours_gb = by.get("ours", {}).get("cpu_per_gb")
        curl_gb = by.get("curl", {}).get("cpu_per_gb")
        rel = ours_gb[0] / curl_gb[0] if ours_gb and curl_gb else None
        rows.append(
            (
                f"HTTPS: ours' CPU s per GB ≤ 1.25× curl's on {g['title']}",
                f"{rel:.2f} ({ours_gb[0]:.2f} / {curl_gb[0]:.2f})" if rel and ours_gb and curl_gb else "—",
                verdict(rel <= 1.25 if rel else None),
            )
        )
    for key in ("4m", "256k"):
        g = find(groups, f"tput-{key}")
        r = ratio_stats(g, "aria2c", "ours") if g else None
        rows.append(
            (
                f"HTTP: ours ≥ 2× aria2c on {g['title'] if g else key}",
                fmt_range(r),
                verdict(r and r[0] >= 2.0),
            )
        )
    peaks = []
    for g in groups:
        for c in g["contenders"]:
            if c["name"].startswith("ours") or c["name"] == "cli" or g["id"].startswith("e2e"):
                peaks += [r["maxrss_kib"] / 1024 for r in c["runs"]]
    peaks += [m["maxrss_kib"] / 1024 for m in res.get("memory", [])]
    rows.append(
        (
            "ours: peak RSS < 100 MB everywhere",
            f"max {max(peaks):.1f} MiB" if peaks else "—",
            verdict(max(peaks) * MiB < 100 * MB if peaks else None),
        )
    )
    mem = [m for m in res.get("memory", []) if m["ok"]]
    if len(mem) >= 2:
        growth = (mem[-1]["maxrss_kib"] - mem[0]["maxrss_kib"]) / 1024
        rows.append(
            (
                f"flat RSS from {mem[0]['photos']:,} to {mem[-1]['photos']:,} photos (growth < 10 MiB)",
                f"{growth:+.1f} MiB",
                verdict(growth < 10),
            )
        )
    else:
        rows.append(("flat RSS in the number of photos", "—", "—"))
    g = find(groups, "e2e")
    r = ratio_stats(g, "list", "api") if g else None
    inv = (1 / r[0], 1 / r[2], 1 / r[1]) if r else None
    rows.append(
        ("end to end ≤ 1.1× the pre-resolved list (time)", fmt_range(inv), verdict(inv and inv[0] <= 1.1))
    )
    r = ratio_stats(g, "list", "cli") if g else None
    if r:
        inv = (1 / r[0], 1 / r[2], 1 / r[1])
        rows.append(
            (
                "end to end via the CLI (ninepic download --all) ≤ 1.1× the list (time)",
                fmt_range(inv),
                verdict(inv[0] <= 1.1),
            )
        )
    g = find(groups, "e2e-https")
    for name, what in (("api", "download_originals"), ("cli", "the CLI")):
        r = ratio_stats(g, "list", name) if g else None
        if r:
            inv = (1 / r[0], 1 / r[2], 1 / r[1])
            rows.append(
                (
                    f"HTTPS end to end via {what} ≤ 1.1× the list (time)",
                    fmt_range(inv),
                    verdict(inv[0] <= 1.1),
                )
            )
    return rows


def render_markdown(res: dict[str, Any]) -> str:
    meta, groups = res["meta"], res["groups"]
    mc = meta["machine"]
    out = [f"# ninepic_async benchmark{' (quick smoke run)' if meta['quick'] else ''}", ""]
    out.append(
        f"Run {meta['started']} in {meta['duration_s'] / 60:.1f} min: "
        f"{meta['runs']} measured runs per contender "
        f"(after {meta['warmup']} discarded warm-up round{'s' if meta['warmup'] != 1 else ''}), "
        "contenders interleaved, each round in a shuffled order (seeded by the round), concurrency "
        f"{meta['concurrency']}. `bash benchmarks/run.sh{' --quick' if meta['quick'] else ''}` reproduces it."
    )
    out += ["", "## Throughput (nginx on 127.0.0.1, sendfile on, output to the same local disk)", ""]
    if any(transport_of(g) == "https" for g in groups):
        out += [
            "Transports: http = plain HTTP/1.1; https = the same nginx and files over TLS (HTTP/1.1, "
            "TLS 1.2/1.3 with nginx's default ciphers, ECDSA P-256 certificate from a throwaway CA). "
            "Every contender verifies the certificate (CA via SSL_CERT_FILE; curl --cacert, "
            "aria2c --ca-certificate). Both transports of a data set run interleaved in the same rounds.",
            "",
        ]
    tput = [g for g in groups if g["kind"] == "throughput"]
    for i, g in enumerate(tput):
        tbl = group_table(g)
        out += tbl if i == 0 else tbl[2:]
    out += [
        "",
        "Wall time is the whole child process (start-up included: Python interpreter + imports cost "
        + ", ".join(f"{k} {v:.2f} s" for k, v in meta.get("startup_s", {}).items())
        + "). CPU = user+sys of the child from wait4; peak RSS = the child's VmHWM (kernel high-water "
        "mark). Throughput ratio = the "
        "reference's wall time / this contender's, same round (> 1 is faster than the reference). "
        "MB = 10^6 bytes.",
    ]
    if meta.get("event_loops"):
        out.append(
            "Event loop of ours (benchmarks/ours.py, e2e.py api): "
            + ", ".join(meta["event_loops"])
            + " (uvloop when installed, the `speed` extra; NINEPIC_BENCH_LOOP=asyncio forces the stock loop)."
        )
    inproc = []
    for g in tput:
        for c in g["contenders"]:
            st = contender_stats(g, c)
            if "inproc" in st:
                inproc.append(
                    f"{c['name']} {g['title']} {transport_of(g)}: {g['bytes'] / MB / st['inproc']:.0f} MB/s"
                )
    if inproc:
        out.append("In-process transfer rate (excluding start-up), medians: " + "; ".join(inproc) + ".")
    tt = transport_table(groups)
    if tt:
        out += ["", "## HTTP vs HTTPS (medians)", "", *tt]
    ceil = [g for g in groups if g["kind"] == "ceiling"]
    if ceil:
        out += ["", "## Ceiling: one curl stream of one large file", ""]
        for i, g in enumerate(ceil):
            tbl = group_table(g, show_title=False)
            out += tbl if i == 0 else tbl[2:]
    out += ["", "## Targets (measured, not asserted)", "", "| Target | Measured | Verdict |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in targets(res)]
    e2e = [g for g in groups if g["kind"] == "e2e"]
    if e2e:
        out += ["", "## End to end: API paging + URL refresh vs a pre-resolved list", ""]
        out += [f"{transport_of(g)}: {g['note']}." for g in e2e]
        out.append("")
        for i, g in enumerate(e2e):
            tbl = group_table(g, show_title=False)
            out += tbl if i == 0 else tbl[2:]
        out.append("")
        out.append(
            "The ratio for the API run is the list's wall time over its own: the cost of paging "
            "original-photos (and any URL refresh) on top of the same transfers."
        )
    g = find(groups, "sweep")
    if g:
        out += [
            "",
            f"## Concurrency sweep ({g['title']}, {transport_of(g)})",
            "",
            *group_table(g, show_title=False),
        ]
    mem = res.get("memory", [])
    if mem:
        out += ["", "## Memory: download_originals(whole_event=True) on growing events", ""]
        out += [
            "| Photos | Bytes | Wall s | CPU s | Peak RSS MiB | RSS after imports MiB | Status |",
            "|---|---|---|---|---|---|---|",
        ]
        for m in mem:
            base = m.get("baseline_rss_kib")
            out.append(
                f"| {m['photos']:,} | {m['bytes'] / MB:.0f} MB | {m['wall_s']:.1f} | {m['cpu_s']:.1f} "
                f"| {m['maxrss_kib'] / 1024:.1f} | {base / 1024 if base else 0:.1f} "
                f"| {'ok' if m['ok'] else '**FAILED**: ' + str(m['error'])} |"
            )
        out.append("")
        out.append(
            f"Photos of {meta['memory_size'][0] // KiB}-{meta['memory_size'][1] // KiB} KiB from the "
            "simulator (no added latency), concurrency " + str(meta["concurrency"]) + "."
        )
    if res.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    out += ["", "## Machine", ""]
    out += [
        f"- CPU: {mc['cpu']}, {mc['cores']} cores; memory {mc['memory_gib']} GiB",
        f"- OS: {mc['os']}, kernel {mc['kernel']}; outputs on {mc['filesystem']}; creating one "
        f"empty file there took {meta.get('file_create_us', 0):.0f} µs at start (every contender pays it "
        "per file)",
        f"- memory: {meta.get('page_reporting', 'free page reporting not recorded')}",
        f"- Python {mc['python']}; " + ", ".join(f"{k} {v}" for k, v in mc["packages"].items()),
        f"- {mc['nginx']} (1 worker, sendfile on, access_log off)",
        f"- {mc['curl']}",
        f"- {mc['aria2c']}",
        f"- repo at {mc['git']}; ninepic_async sources sha256 {meta.get('source_digest', '?')}",
        "- load average (1, 5, 15 min) at start "
        + ", ".join(f"{x:.2f}" for x in meta.get("loadavg_start", []))
        + "; at end "
        + ", ".join(f"{x:.2f}" for x in meta.get("loadavg_end", []))
        + " (the box is shared: other work adds noise)",
        "",
        "![charts](" + Path(meta["png"]).name + ")",
        "",
    ]
    return "\n".join(out)


def load_results(json_path: Path) -> dict[str, Any]:
    res: dict[str, Any] = json.loads(json_path.read_text())
    return res


def write_report(json_path: Path) -> None:
    res = load_results(json_path)
    md_path = json_path.with_suffix(".md")
    md_path.write_text(render_markdown(res))
    log(f"wrote {md_path}")
    png = json_path.with_suffix(".png")
    p = subprocess.run([PY, str(BENCH_DIR / "chart.py"), str(json_path), str(png)], check=False)
    if p.returncode == 0:
        log(f"wrote {png}")
    else:
        log("chart.py failed (is matplotlib installed?)")


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
GROUPS = ("throughput", "ceiling", "e2e", "sweep", "memory")


def cmd_run(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    only = set(args.only.split(",")) if args.only else set(GROUPS)
    unknown = only - set(GROUPS)
    if unknown:
        log(f"unknown group(s): {sorted(unknown)}; choose from {GROUPS}")
        return 2
    names = [t.strip() for t in args.transports.split(",") if t.strip()]
    if not names or set(names) - set(TRANSPORTS):
        log(f"--transports {args.transports!r}: choose a comma-separated subset of {','.join(TRANSPORTS)}")
        return 2
    for tool in ("curl", "aria2c", *(("openssl",) if "https" in names else ())):
        if not shutil.which(tool):
            log(f"{tool} not found: run benchmarks/run.sh, which installs it")
            return 2
    tls: TlsFiles | None = None
    if "https" in names:
        if not args.tls_base_url:
            log("--transports includes https but no --tls-base-url (run.sh passes nginx's TLS port)")
            return 2
        tls = make_tls()
        ca = Path(args.ca_file) if args.ca_file else tls.ca
        if ca.resolve() != tls.ca.resolve():
            log(f"--ca-file {ca} is not the harness's CA {tls.ca}")
            return 2
    transports = [
        Transport(t, args.base_url)
        if t == "http"
        else Transport(t, args.tls_base_url, tls.ca if tls else None)
        for t in names
    ]
    gendata(plan.quick)
    snapshot_package()
    t0 = time.time()
    notes: list[str] = []
    digest = source_digest()
    why = ours_available()
    if why:
        notes.append(f"our downloader could not be imported ({why}); its rows are missing.")
        log(notes[-1])
    res: dict[str, Any] = {
        "meta": {
            "quick": plan.quick,
            "runs": plan.runs,
            "warmup": plan.warmup,
            "concurrency": plan.concurrency,
            "transports": names,
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(),
            "memory_size": list(plan.memory_size),
            "startup_s": startup_cost(why is None),
            "loadavg_start": os.getloadavg(),
            "file_create_us": file_create_cost_us(),
        },
        "groups": [],
        "memory": [],
        "notes": notes,
    }
    name = "quick" if plan.quick else "latest"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.output) if args.output else RESULTS_DIR / f"{name}.json"
    res["meta"]["png"] = str(json_path.with_suffix(".png"))

    def save() -> None:
        res["meta"]["duration_s"] = time.time() - t0
        res["meta"]["loadavg_end"] = os.getloadavg()
        json_path.write_text(json.dumps(res, indent=1))

    # SIGTERM unwinds like Ctrl-C, so the finally blocks restore the machine and write the report.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with page_reporting.held() as reporting:
        res["meta"]["page_reporting"] = reporting
        log(reporting)
        try:
            _run_groups(res, plan, only, transports, tls, why, save)
        finally:
            if source_digest() != digest:
                notes.append("**the snapshot of ninepic_async changed while this benchmark ran**; rerun it.")
                log(notes[-1])
            res["meta"]["source_digest"] = digest
            res["meta"]["event_loops"] = sorted(EVENT_LOOPS)
            save()
            write_report(json_path)
    log(f"done in {(time.time() - t0) / 60:.1f} min")
    return 0


def _run_groups(
    res: dict[str, Any],
    plan: Plan,
    only: set[str],
    transports: list[Transport],
    tls: TlsFiles | None,
    why: str | None,
    save: Callable[[], None],
) -> None:
    """Every selected group in order, saving the results after each."""
    if "throughput" in only:
        for ds in DATASETS:
            groups = throughput_groups(ds, plan, transports, why is None, tls)
            res["groups"] += [g.__dict__ for g in groups]
            save()
    if "ceiling" in only:
        res["groups"] += [g.__dict__ for g in ceiling_groups(plan, transports)]
        save()
    if why is None and "e2e" in only:
        res["groups"] += [g.__dict__ for g in e2e_groups(plan, transports, tls)]
        save()
    if why is None and "sweep" in only:
        # one transport only (the first given) to keep the run short
        res["groups"].append(sweep_group(plan, transports[0]).__dict__)
        save()
    if why is None and "memory" in only:
        res["memory"] = memory_check(plan)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gendata", help="create the data sets (reused if present)")
    g.add_argument("--quick", action="store_true")
    r = sub.add_parser("run", help="run the benchmark against a server of the data directory")
    r.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:PORT serving benchmarks/data")
    r.add_argument("--tls-base-url", default="", help="e.g. https://127.0.0.1:PORT, the same data over TLS")
    r.add_argument(
        "--ca-file", default="", help="the CA of --tls-base-url's certificate (default: made by `tls`)"
    )
    r.add_argument(
        "--transports",
        default=",".join(TRANSPORTS),
        help="comma-separated subset of http,https (default both; https needs --tls-base-url)",
    )
    r.add_argument("--quick", action="store_true", help="small sets, 2 runs: a smoke test")
    r.add_argument("--runs", type=int, default=0, help="measured runs per contender (default 5, quick 2)")
    r.add_argument("--concurrency", type=int, default=16)
    r.add_argument("--only", default="", help=f"comma-separated subset of {','.join(GROUPS)}")
    r.add_argument("--output", default="", help="results JSON path (default results/latest.json)")
    p = sub.add_parser("report", help="re-render the Markdown report and the chart from a results JSON")
    p.add_argument("json", type=Path)
    sub.add_parser("tls", help=f"make (or reuse while valid) the throwaway CA and server cert in {TLS_DIR}")
    args = ap.parse_args(argv)
    if args.cmd == "tls":
        tls = make_tls()
        log(f"TLS: CA {tls.ca}, server certificate {tls.cert} (127.0.0.1, localhost)")
        return 0
    if args.cmd == "gendata":
        gendata(args.quick)
        return 0
    if args.cmd == "report":
        write_report(args.json)
        return 0
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
