"""The README's "Running inside a service" example runs as written against the simulator: a job
completes, a cancelled job says so, and the metrics page shows the client's and the jobs' counters.

Same convention as test_readme.py (org 903, event 456, BIB "1234" replaced by a real one), with its
own marker, ``<!-- test: service -->``, so its output can be checked here.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from helpers.readme import README, marked_blocks, run_script

from ninepic_async.testing import Simulator, SimulatorConfig

MARKER = "<!-- test: service -->"
BLOCKS = marked_blocks(MARKER)


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
        status, out, err = await run_script(sim, script)
    assert status == 0, f"--- stdout\n{out}\n--- stderr\n{err}"
    assert (
        f"bib job: {{'state': 'done', 'ok': {len(ids)}, 'skipped': 0, 'failed': 0, 'of': {len(ids)}," in out
    )
    assert "whole-event job: {'state': 'cancelled'}" in out
    calls = re.search(r"^ninepic_api_calls_total (\d+)$", out, re.MULTILINE)
    assert calls is not None and int(calls.group(1)) >= 1
    assert re.search(rf'^ninepic_download_files{{job="\w+",state="ok"}} {len(ids)}$', out, re.MULTILINE)
    sizes = sorted(len(os.listdir(job)) for job in (tmp_path / "photos").iterdir())
    assert sizes[-1] == len(ids) + 1  # the bib job's photos and its manifest
