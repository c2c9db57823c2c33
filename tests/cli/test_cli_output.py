"""Server-supplied text never reaches the terminal as control sequences (ESC, CR, bidi overrides)."""

from __future__ import annotations

import pytest
from helpers.cli import conn, run_cli

from ninepic_async.cli.output import visible
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")

HOSTILE = "x\x1b[2J\x1b]0;pwned\x07\ry\u202egpj.exe"


def test_visible_escapes_control_and_format_characters_only() -> None:
    assert visible("IMG_0001 é 写真.jpg") == "IMG_0001 é 写真.jpg"
    shown = visible(HOSTILE)
    assert shown.isprintable()
    assert shown == "x\\x1b[2J\\x1b]0;pwned\\x07\\ryxx\\u202egpj.exe".replace("yxx", "y")
    assert visible("a\tb\nc") == "a\\tb\\nc"


async def test_a_hostile_image_id_is_shown_escaped_in_the_failure_lines(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--image-id", HOSTILE, "--image-id", sim.world.photos[0].image_id,
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 1, err
    assert "\x1b" not in err + out and "\r" not in err + out and "\u202e" not in err + out
    assert "x\\x1b[2J" in err
