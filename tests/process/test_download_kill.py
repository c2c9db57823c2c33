"""`ninepic download` killed (SIGKILL) or interrupted (SIGINT, SIGTERM) in a child process.

The simulator runs in this test's event loop, so it outlives every killed child and its
per-image served-bytes counter tells exactly what each rerun fetched again: a completed
file must never be served again, a ``.part`` only its remainder.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import child_env, interrupt, spawn_cli
from helpers.sim import SimFactory, check_dest, expected_names, outcome, settle

from ninepic_async._constants import MANIFEST_NAME, PART_SUFFIX
from ninepic_async.testing import Simulator

KILLED = -signal.SIGKILL

# Runs the CLI with os.replace wrapped: SIGKILL right before/after the Nth rename of a .part.
# Renames run in worker threads, so each call takes its number under a lock.
HOOK = """
import os, signal, sys, threading
n, when = int(os.environ["KILL_AT_RENAME"]), os.environ["KILL_WHEN"]
real, count, lock = os.replace, 0, threading.Lock()
def replace(src, dst, *args, **kwargs):
    global count
    final = str(src).endswith(".part") and not str(dst).endswith(".part")
    with lock:
        count += final
        mine = count if final else 0
    if mine == n and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst, *args, **kwargs)
    if mine == n and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from ninepic_async.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def download_argv(dest: Path, concurrency: int = 8) -> list[str]:
    return ["download", "--all", "--out", str(dest), "--concurrency", str(concurrency)]


async def start(
    sim: Simulator, argv: list[str], *, hook: dict[str, str] | None = None, capture: bool = False
) -> asyncio.subprocess.Process:
    entry = ("-c", HOOK) if hook is not None else ("-m", "ninepic_async")
    pipe = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    return await spawn_cli(*argv, entry=entry, stdout=pipe, stderr=pipe, env=child_env(sim, **(hook or {})))


async def kill_when(
    proc: asyncio.subprocess.Process, condition: Callable[[], bool], timeout_s: float = 30
) -> None:
    """SIGKILL the child as soon as ``condition()`` holds; it must not have finished by itself."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.returncode is None, "the child finished before the kill point"
        assert time.monotonic() < deadline, "the kill point was never reached"
        await asyncio.sleep(0.005)
    proc.kill()
    assert await asyncio.wait_for(proc.wait(), 10) == KILLED


async def finish(sim: Simulator, dest: Path, timeout_s: float = 60) -> str:
    proc = await start(sim, download_argv(dest), capture=True)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def manifest_lines(dest: Path) -> int:
    """The ``ok`` lines of the manifest so far."""
    try:
        return (dest / MANIFEST_NAME).read_bytes().count(b'"status":"ok"')
    except FileNotFoundError:
        return 0


class Ledger:
    """What was complete after each kill, and what the store had served for it by then."""

    def __init__(self, sim: Simulator, dest: Path) -> None:
        self.sim, self.dest = sim, dest
        self.names = expected_names(sim)
        self.frozen: dict[str, int] = {}
        self.parts: dict[str, tuple[int, int]] = {}
        """id -> (.part bytes, served bytes) at the last kill."""

    async def observe(self) -> None:
        await settle(self.sim)
        served = self.sim.counters.storage_bytes_by_image
        latest = outcome(self.dest)  # every line parses: the manifest stays readable
        for image_id, frozen in self.frozen.items():
            assert served.get(image_id, 0) == frozen, f"{image_id} was downloaded again after completing"
        self.parts = {}
        for image_id, name in self.names.items():
            done = (self.dest / name).exists() or latest.get(image_id, {}).get("status") == "ok"
            if done:
                self.frozen.setdefault(image_id, served.get(image_id, 0))
                continue
            part = self.dest / (name + PART_SUFFIX)
            if part.exists():
                data = part.read_bytes()
                assert self.sim.world.content(image_id).startswith(data), image_id
                self.parts[image_id] = (len(data), served.get(image_id, 0))

    def check_remainders(self) -> None:
        """After a completing rerun: a resumed .part was served only what it lacked."""
        served = self.sim.counters.storage_bytes_by_image
        for image_id, (have, before) in self.parts.items():
            size = self.sim.world.photo(image_id).size
            assert served[image_id] - before <= size - have, image_id


async def test_sigkill_during_paging_download_and_manifest_writes_then_rerun(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=1000, photo_size=(1_000, 4_000), seed=201)
    dest = tmp_path / "out"
    ledger = Ledger(sim, dest)
    total_bytes = sum(p.size for p in sim.world.photos)

    # 1. During paging: a slow API, killed while the listing is still being walked.
    sim.faults.api_latency_s = 0.1
    proc = await start(sim, download_argv(dest))
    await kill_when(proc, lambda: sim.counters.api_requests_by_endpoint["images"] >= 3)
    assert sim.counters.api_requests_by_endpoint["images"] < 10  # the listing was unfinished
    await ledger.observe()
    sim.faults.api_latency_s = 0.0

    # 2. Mid-download: slow storage, killed with many bodies in flight.
    sim.faults.storage_latency_s = 0.02
    proc = await start(sim, download_argv(dest))
    served_before = sim.counters.storage_bytes_served
    await kill_when(proc, lambda: sim.counters.storage_bytes_served - served_before > total_bytes * 0.3)
    await ledger.observe()

    # 3. During a burst of manifest writes.
    proc = await start(sim, download_argv(dest))
    lines_before = manifest_lines(dest)
    await kill_when(proc, lambda: manifest_lines(dest) >= lines_before + 200)
    await ledger.observe()
    assert 0 < len(ledger.frozen) < 1000

    # 4. The rerun completes everything, fetching nothing that was complete.
    sim.faults.storage_latency_s = 0.0
    out = await finish(sim, dest)
    assert "failed 0" in out
    await ledger.observe()
    assert len(ledger.frozen) == 1000
    ledger.check_remainders()
    check_dest(sim, dest)  # every byte, no .part, no duplicate, manifest == outcome


async def run_killed_at_rename(sim: Simulator, dest: Path, n: int, when: str) -> Ledger:
    ledger = Ledger(sim, dest)
    proc = await start(
        sim, download_argv(dest, concurrency=4), hook={"KILL_AT_RENAME": str(n), "KILL_WHEN": when}
    )
    assert await asyncio.wait_for(proc.wait(), 30) == KILLED
    await ledger.observe()
    return ledger


async def test_sigkill_right_after_a_rename_never_downloads_that_file_again(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=120, photo_size=(2_000, 8_000), seed=202)
    dest = tmp_path / "out"
    ledger = await run_killed_at_rename(sim, dest, 25, "after")
    renamed = {i for i, name in ledger.names.items() if (dest / name).exists()}
    # The kill lands while up to 3 other workers' threads may be mid-rename themselves.
    assert 25 <= len(renamed) < 25 + 4
    # Every final-named file already has its ok line: nothing on disk is unrecorded.
    latest = outcome(dest)
    assert {i for i, e in latest.items() if e["status"] == "ok"} >= renamed
    await finish(sim, dest)
    await ledger.observe()  # asserts none of the 25 (or any other completed one) was served again
    check_dest(sim, dest)  # and no duplicate file under another name


async def test_sigkill_between_the_ok_line_and_the_rename_finishes_the_rename_without_traffic(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=120, photo_size=(2_000, 8_000), seed=203)
    dest = tmp_path / "out"
    ledger = await run_killed_at_rename(sim, dest, 25, "before")
    latest = outcome(dest)
    pending = [
        i
        for i, e in latest.items()
        if e["status"] == "ok"
        and not (dest / e["file"]).exists()
        and (dest / (e["file"] + PART_SUFFIX)).exists()
    ]
    # Recorded ok, .part complete, not yet renamed: the hooked one, and any other of the 4
    # workers' threads caught between the same two steps.
    assert 1 <= len(pending) <= 4
    requests_before = {i: sim.counters.storage_requests_by_image[i] for i in pending}
    await finish(sim, dest)
    await ledger.observe()
    for image_id, before in requests_before.items():
        assert sim.counters.storage_requests_by_image[image_id] == before  # not even a 416 probe
    check_dest(sim, dest)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_ctrl_c_or_sigterm_stops_cleanly_keeps_parts_and_the_rerun_resumes(
    rsim: SimFactory, tmp_path: Path, signum: signal.Signals
) -> None:
    sim = await rsim(photo_count=16, photo_size=(1_500_000, 2_500_000), seed=204, storage_chunk_size=65_536)
    sim.faults.storage_bytes_per_s = 4_000_000  # each body takes ~0.5 s: some are mid-way at Ctrl-C
    dest = tmp_path / "out"
    ledger = Ledger(sim, dest)
    proc = await start(sim, download_argv(dest, concurrency=4), capture=True)

    def parts_with_data() -> list[Path]:
        return [p for p in dest.glob("*" + PART_SUFFIX) if p.stat().st_size > 0] if dest.exists() else []

    deadline = time.monotonic() + 30
    while not (manifest_lines(dest) >= 2 and parts_with_data()):
        assert proc.returncode is None and time.monotonic() < deadline
        await asyncio.sleep(0.005)
    await interrupt(proc, signum)
    await ledger.observe()
    assert ledger.parts and any(have for have, _ in ledger.parts.values()), "a .part with data was kept"
    assert 2 <= len(ledger.frozen) < 16
    latest = outcome(dest)
    assert {i for i, e in latest.items() if e["status"] == "ok"} == set(ledger.frozen)
    assert {e["status"] for e in latest.values()} <= {"ok", "partial"}  # partial: a kept .part
    sim.faults.storage_bytes_per_s = 0
    ranged_before = sim.counters.storage_ranged
    out_text = await finish(sim, dest)
    assert "failed 0" in out_text
    await ledger.observe()
    ledger.check_remainders()
    assert sim.counters.storage_ranged - ranged_before >= sum(1 for have, _ in ledger.parts.values() if have)
    check_dest(sim, dest)
