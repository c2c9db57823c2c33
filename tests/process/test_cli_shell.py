"""`ninepic` as a user drives it from a shell: pipes closed early, `simulate`, the console script."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from helpers.cli import PYTHON, child_env, conn, run_cli, spawn_cli

from ninepic_async.cli.errors import EXIT_PIPE_CLOSED
from ninepic_async.cli.main import main
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def _read_one_line_then_close(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Like ``ninepic ... | head -1``: read one line of stdout, close the pipe, wait for the exit."""
    proc = subprocess.Popen(
        [PYTHON, "-W", "error", "-m", "ninepic_async", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline().decode()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=60), first, err


async def test_a_reader_that_stops_early_ends_the_listing_quietly(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim: Simulator = await sim_factory(photo_count=1500, photo_size=(100, 200))
    argv = ["photos", "--all-pages", "--json", "--page-size", "100"]
    code, first, err = await asyncio.to_thread(_read_one_line_then_close, argv, child_env(sim))
    assert json.loads(first)["image_id"] == sim.world.photos[0].image_id
    assert code == EXIT_PIPE_CLOSED, err
    assert "internal error" not in err and "Traceback" not in err and "Exception ignored" not in err
    # it stopped fetching pages once nobody read them (1500 photos are 15 pages)
    assert sim.counters.api_requests_by_endpoint["images"] < 15


def test_simulate_on_a_port_in_use_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["simulate", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2, err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "internal error" not in err
    assert "--port" in error_lines[0] and "in use" in error_lines[0]


async def test_simulate_serves_until_ctrl_c(tmp_path: Path) -> None:
    proc = await spawn_cli(
        "simulate",
        "--port",
        "0",
        "--photos",
        "7",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        coordinates: dict[str, str] = {}
        while "photos" not in coordinates:
            raw = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert raw, "ninepic simulate exited before printing its coordinates"
            key, _, value = raw.decode().strip().partition(": ")
            coordinates[key] = value
        assert coordinates["photos"] == "7" and coordinates["org_id"] == "903"
        assert coordinates["event_id"] == "456" and coordinates["api_key"]
        env = child_env(
            NINEPIC_BASE_URL=coordinates["base_url"],
            NINEPIC_API_KEY=coordinates["api_key"],
            NINEPIC_ORG_ID=coordinates["org_id"],
            NINEPIC_EVENT_ID=coordinates["event_id"],
        )
        ping = await spawn_cli("photos", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(ping.communicate(), 60)
        assert ping.returncode == 0, err
        assert len(json.loads(out)["images"]) == 7
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0
        assert b"Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_the_console_script_is_the_cli_entry_point() -> None:
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("ninepic") == "ninepic_async.cli.main:main"


async def test_video_from_a_selfie_file_and_plain_outputs(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(b"a selfie for the video" * 40)
    code, out, err = await run_cli(
        capsys, "video", "--selfie", str(selfie), "--wait", "--interval", "0.01", *conn(sim)
    )
    assert code == 0, err
    lines = out.splitlines()
    assert "status\tcompleted" in lines and lines[0].startswith("request_id\t")
    assert any(line.startswith("http") and ".mp4" in line for line in lines)  # one row per clip
    assert sim.counters.api_requests_by_endpoint["video_start"] == 1

    bib, ids = next(iter(sim.world.bibs.items()))
    code, out, err = await run_cli(capsys, "bib", bib, *conn(sim), "--page-size", "100")
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0].split("\t") == ["image_id", "width", "height", "img_url"]
    assert [row.split("\t")[0] for row in rows[1:]] == ids
    assert f"{len(ids)} photos in all" in err

    code, out, err = await run_cli(capsys, "faces", "--selfie", str(selfie), *conn(sim))
    assert code == 0, err
    assert out.splitlines()[0].startswith("image_id\t") and "request_id: " in err


async def test_a_page_past_the_end_says_so(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run_cli(capsys, "events", *conn(sim), "--page", "50")
    assert code == 0, err
    assert out.splitlines() == ["event_id\tname\tdate\tstatus\tslug"]
    assert f"page 50 is past the last page (1); {len(sim.event_ids)} events in all" in err
