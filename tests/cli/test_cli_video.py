"""`ninepic video`: what waiting shows, what a timeout says, and downloading a finished job's clips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory

from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


async def test_a_wait_that_times_out_names_the_real_request_id(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await sim_factory(video_polls_to_complete=10_000)
    request_id = next(iter(sim.world.selfie_request_ids))
    argv = ["video", "--request-id", request_id, "--wait", "--wait-timeout", "0.05", "--interval", "0.01"]
    code, _, err = await run_cli(capsys, *argv, *conn(sim))
    assert code == 1
    error = next(line for line in err.splitlines() if line.startswith("error:"))
    assert "REQUEST_ID" not in err
    job_id = next(line for line in err.splitlines() if line.startswith("started video clipping job "))
    assert f"ninepic video status {job_id.rsplit(' ', 1)[1]}" in error


async def test_waiting_without_a_terminal_says_each_new_status_once(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await sim_factory(video_polls_to_complete=4)
    request_id = next(iter(sim.world.selfie_request_ids))
    argv = ["video", "--request-id", request_id, "--wait", "--interval", "0.01"]
    code, _, err = await run_cli(capsys, *argv, *conn(sim))
    assert code == 0, err
    statuses = [
        line.rsplit(": ", 1)[1] for line in err.splitlines() if line.startswith("video clipping job ")
    ]
    assert statuses == ["queued", "processing", "completed"]


async def test_out_downloads_the_clips_with_a_manifest_and_a_rerun_skips_them(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_id = next(iter(sim.world.selfie_request_ids))
    dest = tmp_path / "clips"
    argv = ["video", "--request-id", request_id, "--wait", "--interval", "0.01", "--out", str(dest), "--json"]
    code, out, err = await run_cli(capsys, *argv, *conn(sim))
    assert code == 0, err
    job = json.loads(out)
    clips = sorted(p.name for p in dest.iterdir() if p.suffix == ".mp4")
    assert len(clips) == len(job["clips"]) >= 1
    assert all(name.startswith(job["request_id"]) for name in clips)
    assert all((dest / name).stat().st_size == 64 * 1024 for name in clips)  # the store's clip size
    entries = [json.loads(line) for line in (dest / "manifest.jsonl").read_text().splitlines()]
    assert {e["status"] for e in entries if "status" in e} >= {"ok"}
    assert not list(dest.glob("*.part"))
    code, _, err = await run_cli(capsys, "video", "status", job["request_id"], "--out", str(dest), *conn(sim))
    assert code == 0 and f"skipped {len(clips)} (already on disk)" in err


async def test_out_without_wait_on_a_new_job_is_bad_input(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_id = next(iter(sim.world.selfie_request_ids))
    code, _, err = await run_cli(
        capsys, "video", "--request-id", request_id, "--out", str(tmp_path), *conn(sim)
    )
    assert code == 2 and "add --wait" in err and len(err.splitlines()) == 1
    assert sim.counters.api_requests == 0
