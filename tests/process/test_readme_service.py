"""The README's "Running inside a service" example runs as written against the simulator: a job
completes, a cancelled job says so, and the metrics page shows the client's and the jobs' counters.

Same convention as test_readme.py (org 903, event 456, BIB "1234" replaced by a real one), with its
own marker, ``<!-- test: service -->``, so its output can be checked here.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
from pathlib import Path

from ninepic_async.testing import Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MARKER = "<!-- test: service -->"
BLOCKS = re.findall(r"^" + re.escape(MARKER) + r"\n```python\n(.*?)^```", README, re.DOTALL | re.MULTILINE)


def test_the_service_example_is_in_its_own_section() -> None:
    (code,) = BLOCKS
    section = README[README.index("## Running inside a service") :]
    assert section.index(MARKER) < section.index("\n## ")
    names = {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}
    assert {"NinePicClient", "DownloadMonitor", "instrument", "web"} <= names


async def test_the_service_example_runs(tmp_path: Path) -> None:
    (code,) = BLOCKS
    async with Simulator(SimulatorConfig(photo_count=60, org_id=903, event_id=456)) as sim:
        bib, ids = max(sim.world.bibs.items(), key=lambda item: len(item[1]))
        script = tmp_path / "service.py"
        script.write_text(code.replace('"1234"', repr(bib)), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NINEPIC_")}
        env.update(NINEPIC_API_KEY=sim.api_key, NINEPIC_BASE_URL=sim.base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-W",
            "error",
            str(script),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out_bytes, err_bytes = await asyncio.wait_for(proc.communicate(), 120)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert proc.returncode == 0, f"--- stdout\n{out}\n--- stderr\n{err}"
    assert (
        f"bib job: {{'state': 'done', 'ok': {len(ids)}, 'skipped': 0, 'failed': 0, 'of': {len(ids)}," in out
    )
    assert "whole-event job: {'state': 'cancelled'}" in out
    calls = re.search(r"^ninepic_api_calls_total (\d+)$", out, re.MULTILINE)
    assert calls is not None and int(calls.group(1)) >= 1
    assert re.search(rf'^ninepic_download_files{{job="\w+",state="ok"}} {len(ids)}$', out, re.MULTILINE)
    sizes = sorted(len(os.listdir(job)) for job in (tmp_path / "photos").iterdir())
    assert sizes[-1] == len(ids) + 1  # the bib job's photos and its manifest
