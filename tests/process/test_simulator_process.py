"""``python -m ninepic_async.testing`` starts, prints its coordinates, serves, and exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ninepic_async.testing import SimulatorConfig, build_arg_parser, config_from_args, serve_forever


async def read_coordinates(proc: asyncio.subprocess.Process) -> dict[str, str]:
    assert proc.stdout is not None
    lines: dict[str, str] = {}
    while "photos" not in lines:
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
        assert raw, "the simulator exited before printing its coordinates"
        key, _, value = raw.decode().strip().partition(": ")
        lines[key] = value
    return lines


@contextlib.asynccontextmanager
async def simulator_process(*argv: str, **kwargs: Any) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m ninepic_async.testing --port 0 *argv`` (stdout piped), killed at the end if alive."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ninepic_async.testing", "--port", "0", *argv, stdout=subprocess.PIPE, **kwargs
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_module_runs_and_terminates() -> None:
    async with simulator_process(
        "--photos", "25", "--seed", "3", "--event-id", "77", stderr=subprocess.PIPE
    ) as proc:
        lines = await read_coordinates(proc)
        assert lines["event_id"] == "77" and lines["org_id"] == "903" and lines["photos"] == "25"
        assert lines["api_key"]
        url = f"{lines['base_url']}/api/v1/ext/{lines['org_id']}/event/77/ping"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"X-API-Key": lines["api_key"]}) as r,
        ):
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), timeout=20) == 0
        assert proc.stderr is not None
        assert b"Traceback" not in await proc.stderr.read()


async def test_sigterm_exits_cleanly() -> None:
    async with simulator_process() as proc:
        await read_coordinates(proc)
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=20) == 0


def test_arguments_map_to_config() -> None:
    ns = build_arg_parser().parse_args(
        [
            "--photos",
            "9",
            "--photo-size",
            "100-200",
            "--url-lifetime",
            "2",
            "--seed",
            "4",
            "--disable",
            "bib_search",
            "--storage-cut-rate",
            "0.5",
            "--retry-after",
            "1",
            "--legacy-flat",
            "--port",
            "0",
        ]
    )
    cfg = config_from_args(ns)
    assert isinstance(cfg, SimulatorConfig)
    assert (cfg.photo_count, cfg.photo_size, cfg.url_lifetime_s, cfg.seed) == (9, (100, 200), 2.0, 4)
    assert cfg.disabled_features == {"bib_search"} and cfg.legacy_flat
    assert cfg.faults.storage_cut_rate == 0.5 and cfg.faults.api_retry_after_s == 1.0


async def test_serve_forever_in_process() -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_forever(SimulatorConfig(photo_count=3), out=out, stop=stop))
    while "photos: 3" not in out.getvalue():
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert "base_url: http://127.0.0.1:" in out.getvalue()


async def test_simulated_api_yields_the_base_url_and_releases_it() -> None:
    from ninepic_async import NinePicClient
    from ninepic_async.testing import simulated_api

    config = SimulatorConfig(photo_count=5, event_id=77)
    async with simulated_api(config) as base_url:
        assert isinstance(base_url, str) and base_url.startswith("http://127.0.0.1:")
        async with NinePicClient(config.api_key, org_id=config.org_id, base_url=base_url) as client:
            assert (await client.ping(77)).status == "ok"
            assert len((await client.all_photos(77)).images) == 5
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):  # the port was released
            async with http.get(base_url):
                pass
