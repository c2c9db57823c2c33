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
started = []
real_start = threading.Thread.start
def start(self):
    started.append(self.name)
    real_start(self)
threading.Thread.start = start
from ninepic_async.client import _load_downloader
async def main():
    await asyncio.gather(*(_load_downloader() for _ in range(10)))  # ten first downloads at once
    await _load_downloader()
asyncio.run(main())
print(sorted(loaded.items()), started)
"""


def test_the_downloader_is_imported_once_in_a_thread_of_its_own() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=60)
    thread = "import-ninepic-downloader"
    imported = [("anyio._backends._asyncio", thread), ("ninepic_async.download.api", thread)]
    assert out.stdout.strip() == f"{imported} {[thread]}"  # one thread for all ten callers
