"""Bad input to any `ninepic` command: one `error:` line naming the problem, exit 2, nothing sent."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ninepic_async.cli.main import main

pytestmark = pytest.mark.usefixtures("clean_env")

_CONN = ["--org", "903", "--event", "456", "--api-key", "k-123456", "--base-url", "http://127.0.0.1:9"]

BAD_INPUTS: list[tuple[list[str], str]] = [
    ([], "COMMAND"),
    (["no-such-command"], "no-such-command"),
    (["ping", "--org", "abc"], "--org"),
    (["ping", "--base-url", ""], "--base-url"),
    (["ping", "--timeout", "0"], "--timeout"),
    (["ping", "--max-retries", "-1"], "--max-retries"),
    (["ping", "--bogus"], "--bogus"),
    (["events", "--page", "0"], "--page"),
    (["events", "--page-size", "x"], "--page-size"),
    (["events", *_CONN[:2], *_CONN[4:], "--page-size", "0"], "--page-size"),
    (["event", "--event", "4.5"], "--event"),
    (["photos", "--page-size", "99999", *_CONN], "--page-size"),
    (["bib"], "BIB"),
    (["bib", " ", *_CONN], "BIB"),
    (["faces", *_CONN], "--selfie"),
    (["faces", "--selfie", "/no/such/selfie.jpg", *_CONN], "selfie"),
    (["timeline"], "days"),
    (["timeline", "images", "--from", "yesterday", "--to", "1"], "--from"),
    (["timeline", "images", "--from", "10", "--to", "5", *_CONN], "--to"),
    (["video", *_CONN], "--selfie"),
    (["video", "--wait-timeout", "-3"], "--wait-timeout"),
    (["video", "status"], "REQUEST_ID"),
    (["video", "status", " ", *_CONN], "REQUEST_ID"),
    (["download", "--out", "d"], "--bib"),
    (["download", "--all"], "--out"),
    (["download", "--all", "--out", ""], "--out"),
    (["download", "--all", "--bib", "1", "--out", "d"], "--bib"),
    (["download", "--all", "--out", "d", "--concurrency", "abc"], "--concurrency"),
    (["download", "--all", "--out", "d", "--concurrency", "0"], "--concurrency"),
    (["download", "--image-id", " ", "--out", "d", *_CONN], "--image-id"),
    (["download", "--image-id", "a1,b2", "--out", "d", *_CONN], "repeat --image-id for each id"),
    (["download", "--image-id", "../x", "--out", "d", *_CONN], "'../x' is not an image id"),
    (["download", "--all", "--out", "d", "--low-speed-time", "nan"], "--low-speed-time"),
    (["demo", "--out", ""], "--out"),
    (["demo", "--out", "d", "--photos", "0"], "--photos"),
    (["demo", "--out", "d", "--org", "903"], "--org"),
    (["check"], "--out"),
    (["check", "--out", ""], "--out"),
    (["check", "--out", "/no/such/dir"], "--out"),
    (["simulate", "--port", "99999"], "--port"),
    (["simulate", "--port", "http"], "--port"),
    (["simulate", "--photo-size", "abc"], "--photo-size"),
    (["simulate", "--etag-style", "sha1"], "--etag-style"),
    (["simulate", "--photos", "-1"], "--photos"),
    (["simulate", "--bibs", "0"], "--bibs"),
    (["simulate", "--api-5xx-rate", "2"], "--api-5xx-rate"),
    (["simulate", "--storage-latency", "-1"], "--storage-latency"),
    (["simulate", "--storage-bytes-per-s", "nan"], "--storage-bytes-per-s"),
]


@pytest.mark.parametrize(
    ("argv", "names"), BAD_INPUTS, ids=[" ".join(a) or "(nothing)" for a, _ in BAD_INPUTS]
)
def test_bad_input_is_one_error_line_and_exit_2(
    argv: list[str],
    names: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert names in lines[0], lines[0]
    assert lines[0].endswith(" --help`)"), lines[0]  # every bad value points at the command's help
    assert "usage:" not in err and "Traceback" not in err and "internal error" not in err
    assert "_photo_size" not in err and "invalid int value" not in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # nothing was created, e.g. no download into "."


_CONNECTION_OPTIONS = ("--org", "--event", "--base-url", "--api-key", "--timeout", "--max-retries")


def _help(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


def test_help_lists_only_the_options_a_command_uses(capsys: pytest.CaptureFixture[str]) -> None:
    demo = _help(capsys, "demo")  # it serves and uses its own simulator
    assert not [option for option in _CONNECTION_OPTIONS if option in demo]
    assert "--out" in demo and "--progress" in demo and "-q, --quiet" in demo
    events = _help(capsys, "events")  # an organisation's listing: no event
    assert "--event" not in events and "--org" in events
    archive = _help(capsys, "archive")  # its events are --events/--all-events
    assert "--event " not in archive and "--event EVENT_ID" not in archive and "--events" in archive
    assert "--event" in _help(capsys, "photos")
    for command in (["ping"], ["check"], ["video", "status"], ["timeline", "days"]):
        text = _help(capsys, *command)
        assert "-q, --quiet" in text and "--log-file PATH" in text, command


def test_one_set_of_connection_options_still_fits_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`events` accepts --event (unused, not in its help), so scripts can pass the same options everywhere."""
    main_module = importlib.import_module("ninepic_async.cli.main")
    monkeypatch.setattr(main_module, "command", lambda name: _returns_zero)
    assert main(["events", *_CONN]) == 0


async def _returns_zero(rt: object) -> int:
    return 0
