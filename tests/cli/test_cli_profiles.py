"""A profile carries the connection settings of a real command; a NINEPIC_* variable outranks it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import run_cli

from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


async def test_a_profile_supplies_the_connection_and_a_variable_overrides_it(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[sim]\nbase_url = "{sim.base_url}"\norg = {sim.org_id}\nevent = {sim.event_id}\nmax-retries = 0\n'
    )
    monkeypatch.setenv("NINEPIC_API_KEY", sim.api_key)  # the key stays in the environment
    code, _, err = await run_cli(capsys, "ping", "--config", str(config), "--profile", "sim")
    assert code == 0, err
    monkeypatch.setenv("NINEPIC_EVENT_ID", "999")
    code, _, err = await run_cli(capsys, "ping", "--config", str(config), "--profile", "sim")
    assert code == 3 and "event 999" in err
    code, _, err = await run_cli(
        capsys, "ping", "--config", str(config), "--profile", "sim", "--event", str(sim.event_id)
    )
    assert code == 0, err
