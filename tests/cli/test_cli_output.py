"""Server-supplied text never reaches the terminal as control sequences (ESC, CR, bidi overrides)."""

from __future__ import annotations

import io
import re

import pytest
from helpers.cli import conn, run_cli
from rich.console import Console

from ninepic_async.cli.output import DownloadProgress, Output, visible
from ninepic_async.download import BytesReceived, FileStarted, PlannedEvent
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")

HOSTILE = "x\x1b[2J\x1b]0;pwned\x07\ry\u202egpj.exe"


def test_visible_escapes_control_and_format_characters_only() -> None:
    assert visible("IMG_0001 é 写真.jpg") == "IMG_0001 é 写真.jpg"
    shown = visible(HOSTILE)
    assert shown.isprintable()
    assert shown == "x\\x1b[2J\\x1b]0;pwned\\x07\\ryxx\\u202egpj.exe".replace("yxx", "y")
    assert visible("a\tb\nc") == "a\\tb\\nc"


async def test_a_hostile_image_id_is_refused_before_any_request_and_shown_escaped(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--image-id", HOSTILE, "--image-id", sim.world.photos[0].image_id,
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and out == "", err
    assert "\x1b" not in err and "\r" not in err and "\u202e" not in err
    assert "x\\x1b[2J" in err and "is not an image id" in err
    assert sim.counters.api_requests == 0


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_download_bar_stays_on_one_line_on_a_narrow_terminal(width: int) -> None:
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    screen = io.StringIO()
    output.err = Console(file=screen, force_terminal=True, width=width, color_system=None)
    progress = DownloadProgress(output, label="event 1234567 (12/40)")
    with progress:
        progress(PlannedEvent(total_files=30000))
        for n in range(20):
            progress(FileStarted(image_id=str(n), size=12_000_000))
            progress(BytesReceived(image_id=str(n), n=12_000_000))
    frame = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue()).replace("\r", "\n")
    last = [line for line in frame.splitlines() if line.strip()][-1]
    assert "event 1234567 (12/40)" in last and "/30000 files" in last, frame  # label and count share a line
    assert len(last) <= width
    if width >= 100:
        assert "MB" in last and "/s" in last  # bytes and rate where there is room
