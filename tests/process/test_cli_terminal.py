"""What `ninepic` draws on a (pseudo-)terminal: tables whose ids and URLs can be copied."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import subprocess

import pytest
from helpers.cli import PYTHON, child_env
from helpers.sim import SimFactory

from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_a_terminal(argv: list[str], env: dict[str, str], columns: int) -> tuple[int, str]:
    """Run ``ninepic argv`` on a pseudo-terminal ``columns`` wide; return (status, screen text)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-W", "error", "-m", "ninepic_async", *argv],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**env, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"},
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    return proc.wait(timeout=60), _ANSI.sub("", b"".join(chunks).decode()).replace("\r", "")


async def test_table_cells_keep_uuids_and_urls_whole_and_right_align_numbers(sim: Simulator) -> None:
    argv = ["photos", "--page-size", "5"]
    code, screen = await asyncio.to_thread(run_on_a_terminal, argv, child_env(sim), 60)
    assert code == 0, screen
    for photo in sim.world.photos[:5]:
        assert photo.image_id in screen  # not folded across two lines of its cell
    urls = re.findall(r"http://\S+\.jpg", screen)
    assert len(urls) == 5 and all(url.endswith(".jpg") for url in urls)
    width = sim.world.photos[0].width
    row = next(line for line in screen.splitlines() if sim.world.photos[0].image_id in line)
    assert re.search(rf"│ +{width} │", row), row  # right-aligned: spaces before, one after


async def test_the_video_wait_spinner_shows_the_status_and_the_time_waited(sim_factory: SimFactory) -> None:
    sim: Simulator = await sim_factory(video_polls_to_complete=4)
    request_id = next(iter(sim.world.selfie_request_ids))
    argv = ["video", "--request-id", request_id, "--wait", "--interval", "0.3"]
    code, screen = await asyncio.to_thread(run_on_a_terminal, argv, child_env(sim), 120)
    assert code == 0, screen
    assert re.search(
        r"video clipping job \S+: (queued|processing) \(gives up after 600 s\) 0:00:0\d", screen
    ), screen
