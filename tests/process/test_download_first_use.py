"""The first download of a process loads the downloader off the event loop: its modules (and
anyio's asyncio backend) take tens of milliseconds to import, a stall for a service's loop."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import asyncio, importlib, sys, threading
loaded = {}
WATCHED = ("ninepic_async.download.api", "anyio._backends._asyncio")
real_import = importlib.import_module
def import_module(name, package=None):
    if name in WATCHED and name not in sys.modules:
        loaded[name] = threading.current_thread().name
    return real_import(name, package)
importlib.import_module = import_module
from ninepic_async.client import _load_downloader
async def main():
    await _load_downloader()
    await _load_downloader()  # loaded once
asyncio.run(main())
print(sorted(loaded.items()))
"""


def test_the_downloader_is_imported_in_a_thread_of_its_own() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=60)
    thread = "import-ninepic-downloader"
    assert out.stdout.strip() == str(
        [("anyio._backends._asyncio", thread), ("ninepic_async.download.api", thread)]
    )
