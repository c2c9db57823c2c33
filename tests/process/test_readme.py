"""The README's marked Python blocks run against the simulator, so the docs cannot rot.

Convention: a ```python block right after a `<!-- test: quickstart -->` line is run as a
script in a temporary directory with NINEPIC_API_KEY / NINEPIC_BASE_URL pointing at a
simulator whose org and event ids are the README's (903, 456) and whose seed is the default of
`ninepic simulate`, so the BIB and request id the README uses exist as written; a `selfie.jpg`
is provided (the simulator matches any bytes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.readme import README, ROOT, marked_blocks, run_script

from ninepic_async.cli.errors import EXIT_STATUSES
from ninepic_async.testing import Simulator, SimulatorConfig

MARKER = "<!-- test: quickstart -->"
BLOCKS = marked_blocks(MARKER)
SETUP_DEMO = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && ninepic demo --out ./demo-photos"
)
SETUP_TEST = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
    "python -m pytest -W error -q"
)


def test_readme_has_the_two_setup_commands_at_the_top() -> None:
    head = README[: README.index("## ")]
    assert SETUP_DEMO in head and SETUP_TEST in head
    assert "python -m pytest -W error -q" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_exit_status() -> None:
    for code in EXIT_STATUSES:
        assert f"\n| {code} |" in README


def test_every_marked_block_was_found() -> None:
    markers = re.findall(r"^" + re.escape(MARKER) + r"$", README, re.MULTILINE)
    assert len(BLOCKS) == len(markers) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_quickstart_block_runs(index: int, tmp_path: Path) -> None:
    code = BLOCKS[index]
    async with Simulator(SimulatorConfig(photo_count=60, org_id=903, event_id=456)) as sim:
        (tmp_path / "selfie.jpg").write_bytes(b"a selfie for the readme test" * 50)
        script = tmp_path / f"block_{index}.py"
        script.write_text(code, encoding="utf-8")
        status, out, err = await run_script(sim, script)
    report = f"README block {index} failed:\n{code}\n--- stdout\n{out}\n--- stderr\n{err}"
    assert status == 0, report


SHELL_MARKER = "<!-- test: shell -->"
SHELL_BLOCKS = marked_blocks(SHELL_MARKER, "bash")
SHELL_LINES = [
    line.strip()
    for block in SHELL_BLOCKS
    for line in block.splitlines()
    if line.strip().startswith("ninepic ") and not line.strip().startswith("ninepic simulate")
]  # `ninepic simulate` itself is run by tests/process/test_cli_shell.py


def test_the_shell_quick_start_is_marked() -> None:
    markers = re.findall(r"^" + re.escape(SHELL_MARKER) + r"$", README, re.MULTILINE)
    assert len(SHELL_BLOCKS) == len(markers) == 2
    assert any(line.startswith("ninepic download") for line in SHELL_LINES)
    assert len(SHELL_LINES) >= 9


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("line", SHELL_LINES)
async def test_shell_quick_start_line_runs(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shlex

    from helpers.cli import run_cli

    async with Simulator(SimulatorConfig(photo_count=60, org_id=903, event_id=456)) as sim:
        (tmp_path / "me.jpg").write_bytes(b"a selfie for the readme test" * 50)
        monkeypatch.chdir(tmp_path)
        for name, value in (
            ("NINEPIC_API_KEY", sim.api_key),
            ("NINEPIC_BASE_URL", sim.base_url),
            ("NINEPIC_ORG_ID", "903"),
            ("NINEPIC_EVENT_ID", "456"),
        ):
            monkeypatch.setenv(name, value)
        command, _, consumer = line.partition(" | ")
        argv = shlex.split(command, comments=True)[1:]  # as written: the BIB and request id exist
        code, out, err = await run_cli(capsys, *argv)
    assert code == 0, f"{line}\n--- stdout\n{out}\n--- stderr\n{err}"
    assert "error" not in err.lower()
    if argv[0] == "bib":  # the README's BIB exists: a header and at least one photo
        assert len(out.splitlines()) > 1, out
    if argv[0] == "download":  # so does its request id: something to fetch, nothing failed
        assert "would download" in out if "--dry-run" in argv else "failed 0" in out, out
        assert not out.startswith("downloaded 0, skipped 0")
    if consumer.startswith("jq -r .image_id"):  # what jq reads: JSON Lines with an image_id each
        image_ids = [json.loads(row)["image_id"] for row in out.splitlines()]
        assert image_ids == [photo.image_id for photo in sim.world.photos]
