"""The command line starts without loading the simulator's server (aiohttp.web): start-up time is
paid on every `ninepic` run, and only `demo` and `simulate` need the server."""

from __future__ import annotations

import subprocess
import sys

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
