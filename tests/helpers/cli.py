"""Shared helpers of the `ninepic` CLI tests, in-process and as a child process (no tests here).

The ``clean_env`` fixture (no NINEPIC_* variable leaks in from the outer environment) is in
conftest.py; CLI test modules use it with ``pytestmark = pytest.mark.usefixtures("clean_env")``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import pytest

from ninepic_async.cli.main import main
from ninepic_async.testing import Simulator

ENV_NAMES = ("NINEPIC_API_KEY", "NINEPIC_BASE_URL", "NINEPIC_ORG_ID", "NINEPIC_EVENT_ID")
PYTHON = sys.executable


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run main(argv) in a worker thread (it owns its event loop; the simulator serves in ours)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def conn(sim: Simulator, *, key: str | None = None, event: int | None = None) -> list[str]:
    """The connection options for ``sim`` (another API key or event id where given)."""
    return [
        "--org",
        str(sim.org_id),
        "--event",
        str(sim.event_id if event is None else event),
        "--base-url",
        sim.base_url,
        "--api-key",
        sim.api_key if key is None else key,
    ]


def child_env(sim: Simulator | None = None, **extra: str) -> dict[str, str]:
    """This environment without NINEPIC_* variables, plus those of ``sim`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    if sim is not None:
        env.update(
            NINEPIC_API_KEY=sim.api_key,
            NINEPIC_BASE_URL=sim.base_url,
            NINEPIC_ORG_ID=str(sim.org_id),
            NINEPIC_EVENT_ID=str(sim.event_id),
        )
    env.update(extra)
    return env


async def spawn_cli(
    *argv: str, entry: tuple[str, ...] = ("-m", "ninepic_async"), **kwargs: Any
) -> asyncio.subprocess.Process:
    """Start ``python -W error <entry> argv`` (``kwargs``: stdout, stderr, env, ...)."""
    return await asyncio.create_subprocess_exec(PYTHON, "-W", "error", *entry, *argv, **kwargs)


async def interrupt(
    proc: asyncio.subprocess.Process, signum: signal.Signals = signal.SIGINT
) -> tuple[bytes, bytes]:
    """Ctrl-C (or SIGTERM) the child: it must stop on its own with 128 + the signal's number
    (130, 143), saying so, without a traceback (the 60 s bound only catches a hang)."""
    proc.send_signal(signum)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 128 + signum, (out, err)
    said = b"interrupted" if signum == signal.SIGINT else f"stopped by {signum.name}".encode()
    assert said in err and b"Traceback" not in err
    return out, err
