"""`ninepic simulate` prints a ready-to-paste export line and BIBs and request ids that exist."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import child_env, spawn_cli

pytestmark = pytest.mark.usefixtures("clean_env")


async def test_the_printed_export_line_bibs_and_request_ids_work_as_printed(tmp_path: Path) -> None:
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = await spawn_cli("simulate", "--port", "0", "--photos", "30", **pipes, env=child_env())
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("export "):
            raw = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert raw, "ninepic simulate exited before printing its export line"
            lines.append(raw.decode().rstrip("\n"))
        fields = dict(
            line.partition(": ")[::2] for line in lines if ": " in line and not line.startswith("#")
        )
        exported = dict(word.split("=", 1) for word in shlex.split(lines[-1])[1:])
        assert set(exported) == {"NINEPIC_BASE_URL", "NINEPIC_API_KEY", "NINEPIC_ORG_ID", "NINEPIC_EVENT_ID"}
        env = child_env(None, **exported)
        bib = fields["bibs"].split()[0]
        request_id = fields["selfie_request_ids"].split()[0]
        bib_run = await spawn_cli(
            "bib", bib, "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        out, err = await asyncio.wait_for(bib_run.communicate(), 60)
        assert bib_run.returncode == 0, err
        assert json.loads(out)["images"]
        argv = ["download", "--selfie", request_id, "--out", str(tmp_path / "p"), "--dry-run", "-q"]
        selfie_run = await spawn_cli(*argv, **pipes, env=env)
        out, err = await asyncio.wait_for(selfie_run.communicate(), 60)
        assert selfie_run.returncode == 0, err
        assert "would download" in out.decode()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.communicate(), 20)
