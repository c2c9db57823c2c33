"""The README's marked code blocks, and running one as a script against a simulator."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from ninepic_async.testing import Simulator

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def marked_blocks(marker: str, language: str = "python") -> list[str]:
    """The code of every ```language block right after a ``marker`` line, in order."""
    block = re.compile(r"^" + re.escape(marker) + rf"\n```{language}\n(.*?)^```", re.DOTALL | re.MULTILINE)
    return block.findall(README)


async def run_script(sim: Simulator, script: Path) -> tuple[int | None, str, str]:
    """``(exit status, stdout, stderr)`` of ``python -W error script`` in its folder, with the
    simulator's key and URL as NINEPIC_API_KEY / NINEPIC_BASE_URL (no other NINEPIC_ variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEPIC_")}
    env.update(NINEPIC_API_KEY=sim.api_key, NINEPIC_BASE_URL=sim.base_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(script),
        cwd=script.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()
