"""The command line starts without loading the simulator's server (aiohttp.web): start-up time is
paid on every `ninepic` run, and only `demo` and `simulate` need the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_building_the_cli_parser_loads_no_server() -> None:
    code = (
        "import sys; from ninepic_async.cli.parser import build_parser; build_parser(); "
        "print(sorted(m for m in ('aiohttp.web', 'ninepic_async.testing.server') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_testing_package_loads_its_names_on_first_use() -> None:
    import ninepic_async.testing as testing

    for name in testing.__all__:
        assert getattr(testing, name) is not None
    with pytest.raises(ImportError):
        from ninepic_async.testing import NoSuchName  # noqa: F401  (a module __getattr__: mypy allows it)


HEAVY = (
    "aiohttp",
    "asyncio",
    "msgspec",
    "rich",
    "ssl",
    "yarl",
    "ninepic_async.client",
    "ninepic_async.models",
    "ninepic_async.download.api",
    "ninepic_async.download.run",
)
"""What a command that answers from argparse alone must not import (each costs milliseconds)."""


def _heavy_modules_loaded_by(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line.startswith("[")][-1:]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["download", "--help"], ["simulate", "--help"]])
def test_version_and_help_load_no_event_loop_http_client_nor_terminal_ui(argv: list[str]) -> None:
    """`ninepic --version`/`--help` run on every shell start-up of some users: they must not pay
    for asyncio, aiohttp, rich or the download pipeline (commands are imported when they run)."""
    code = (
        "import contextlib, io\n"
        "from ninepic_async.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({argv!r}) == 0\n"
    )
    assert _heavy_modules_loaded_by(code) == ["[]"]


def test_importing_the_package_loads_its_names_on_first_use() -> None:
    assert _heavy_modules_loaded_by("import ninepic_async") == ["[]"]
    code = "import ninepic_async\nfor name in ninepic_async.__all__: getattr(ninepic_async, name)"
    assert _heavy_modules_loaded_by(code) != ["[]"]


def test_a_download_without_a_terminal_loads_no_terminal_ui(tmp_path: Path) -> None:
    """Piped, scripted or cron runs print plain lines: rich (tens of milliseconds) stays unloaded."""
    code = (
        "import contextlib, io, sys\n"
        "from ninepic_async.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    status = main(['demo', '--photos', '3', '--out', {str(tmp_path / 'out')!r}])\n"
        "print(status, sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    assert out.stdout.splitlines()[-1] == "0 []"
    assert len(list((tmp_path / "out").glob("*.jpg"))) == 3


def _terminal_answers(**settings: str) -> list[str]:
    """What ``Output`` says of piped stdout/stderr in a child with these environment settings
    (FORCE_COLOR and TTY_COMPATIBLE otherwise unset), and whether it loaded rich to decide."""
    code = (
        "import sys\n"
        "from ninepic_async.cli.output import Output\n"
        "output = Output()\n"
        "print(output.err_is_terminal, output.stdout_is_terminal, 'rich.console' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**env, **settings},
    )
    return out.stdout.split()


def test_forcing_colour_still_draws_with_rich() -> None:
    """FORCE_COLOR makes rich treat a pipe as a terminal; the lazy check must agree with rich."""
    assert _terminal_answers(FORCE_COLOR="1") == ["True", "True", "True"]
    assert _terminal_answers() == ["False", "False", "False"]
    assert _terminal_answers(FORCE_COLOR="1", TTY_COMPATIBLE="0") == ["False", "False", "False"]
