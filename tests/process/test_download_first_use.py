"""What a process's first download loads, and where: the downloader off the event loop (its
modules and anyio's asyncio backend take tens of milliseconds to import, a stall for a
service's loop), and no aiohttp when every storage GET goes over a socket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ninepic_async._constants import MANIFEST_NAME

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


URL_LIST_CODE = """
import asyncio, functools, http.server, os, sys, threading
from pathlib import Path
root = Path(sys.argv[1])
(root / "store").mkdir()
for n in range(3):
    (root / "store" / f"p{n}.jpg").write_bytes(bytes([n]) * 70_000)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root / "store"))
handler.func.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
from ninepic_async.download import UrlJob, download_url_list
base = f"http://127.0.0.1:{server.server_port}"
jobs = [UrlJob(url=f"{base}/p{n}.jpg", image_id=f"p{n}") for n in range(3)]
report = asyncio.run(download_url_list(jobs, root / "out"))
server.shutdown()
print(report.downloaded, report.failed, sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp"))
"""


def test_a_url_list_download_over_sockets_loads_no_aiohttp(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", URL_LIST_CODE, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "0", "[]"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted([MANIFEST_NAME, "p0.jpg", "p1.jpg", "p2.jpg"])
    for n in range(3):
        assert (tmp_path / "out" / f"p{n}.jpg").read_bytes() == bytes([n]) * 70_000
