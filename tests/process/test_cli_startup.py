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


def test_version_and_help_load_no_http_client_nor_downloader() -> None:
    """`ninepic --version`/`--help` run on every shell start-up of some users: they must not pay
    for aiohttp, the client or the download pipeline (commands are imported when they run)."""
    code = (
        "import sys, contextlib, io\n"
        "from ninepic_async.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version']); main(['--help'])\n"
        "heavy = ('aiohttp', 'ninepic_async.client', 'ninepic_async.download.api',\n"
        "         'ninepic_async.download.run')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
