"""`ninepic check` through the real entry point (`main([...])` in-process): offline, no API key."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from ninepic_async.cli import output as output_module
from ninepic_async.cli.main import main
from ninepic_async.cli.output import CheckProgress, Output
from ninepic_async.download.check import CheckedFile
from ninepic_async.download.lock import DestinationLock

pytestmark = pytest.mark.usefixtures("clean_env")

PHOTOS = {"id1": ("IMG_0001.jpg", b"\x01" * 1500), "id2": ("IMG_0002.jpg", b"\x02" * 2500)}
HEADER = "status\tfile\timage_id\tdetail"


@pytest.fixture(autouse=True)
def no_timed_progress_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """No plain progress line however slow the machine: stderr is deterministic."""
    monkeypatch.setattr(output_module, "CLI_PLAIN_PROGRESS_INTERVAL_S", float("inf"))


def ok_line(image_id: str, file: str, data: bytes, **fields: object) -> str:
    line = {"v": 1, "image_id": image_id, "status": "ok", "file": file, "bytes": len(data),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "time": 1.0, **fields}  # fmt: skip
    return json.dumps({k: v for k, v in line.items() if v is not None}) + "\n"


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    out = tmp_path / "photos"
    out.mkdir()
    for image_id, (file, data) in PHOTOS.items():
        (out / file).write_bytes(data)
        with (out / "manifest.jsonl").open("a") as handle:
            handle.write(ok_line(image_id, file, data))
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clean_destination_exits_0_with_the_summary(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    code, out, err = run(capsys, "check", "--out", str(dest))
    assert code == 0, err
    assert out == "checked 2 files: 2 ok, 0 missing, 0 changed, 0 extra\n"
    assert err == ""


def test_problems_are_listed_and_exit_1(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    (dest / "IMG_0001.jpg").unlink()
    (dest / "IMG_0002.jpg").write_bytes(b"\x03" * 2500)
    (dest / "holiday.jpg").write_bytes(b"mine")
    (dest / "IMG_0003.jpg.part").write_bytes(b"half")
    code, out, err = run(capsys, "check", "--out", str(dest), "--concurrency", "2")
    assert code == 1
    assert out.splitlines() == [
        HEADER,
        "missing\tIMG_0001.jpg\tid1\tno such file",
        "changed\tIMG_0002.jpg\tid2\tcontent differs: the SHA-256 does not match",
        "extra\tholiday.jpg\t-\tnot in the manifest",
        "checked 3 files: 0 ok, 1 missing, 1 changed, 1 extra",
    ]
    assert err.splitlines() == [f"error: {dest} does not match its manifest: 1 missing, 1 changed, 1 extra"]


def test_unverifiable_files_are_reported_but_exit_0(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    data = b"legacy" * 100
    (dest / "legacy.jpg").write_bytes(data)
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(ok_line("old", "legacy.jpg", data, digest=None, etag='"abc-2"'))
    code, out, err = run(capsys, "check", "--out", str(dest))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == HEADER and lines[1].startswith("unverifiable\tlegacy.jpg\told\tno digest")
    assert lines[-1] == "checked 3 files: 2 ok, 0 missing, 0 changed, 0 extra, 1 unverifiable"


def test_json_prints_the_report(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    code, out, _ = run(capsys, "check", "--out", str(dest), "--json")
    assert code == 0
    assert json.loads(out) == {"checked": 2, "ok": 2, "missing": 0, "changed": 0, "extra": 0,
                               "unverifiable": 0, "problems": [], "clean": True}  # fmt: skip
    (dest / "IMG_0002.jpg").write_bytes(b"short")
    code, out, err = run(capsys, "check", "--out", str(dest), "--json")
    assert code == 1 and "error:" in err
    report = json.loads(out)
    assert report["clean"] is False and report["changed"] == 1
    assert report["problems"] == [{"image_id": "id2", "file": "IMG_0002.jpg", "status": "changed",
                                   "detail": "size 5 bytes, the manifest records 2500"}]  # fmt: skip


def test_hostile_names_are_shown_escaped(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    hostile = "x\x1b[2J\ry\u202egpj.exe"
    (dest / hostile).write_bytes(b"dropped in")
    with (dest / "manifest.jsonl").open("a") as handle:
        handle.write(ok_line(f"id\x1b]0;pwned\x07{hostile}", "gone.jpg", b"gone"))
    code, out, err = run(capsys, "check", "--out", str(dest))
    assert code == 1
    assert "\x1b" not in out + err and "\r" not in out + err and "\u202e" not in out + err
    assert "extra\tx\\x1b[2J\\ry\\u202egpj.exe\t-\tnot in the manifest" in out.splitlines()
    assert "id\\x1b]0;pwned\\x07" in out


def test_plain_progress_lines_go_to_stderr(
    capsys: pytest.CaptureFixture[str], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output_module, "CLI_PLAIN_PROGRESS_INTERVAL_S", 0.0)  # a line per file
    code, out, err = run(capsys, "check", "--out", str(dest), "--concurrency", "1")
    assert code == 0
    assert err.splitlines() == [
        f"checking {dest}: 1 files checked, 0 problems so far",
        f"checking {dest}: 2 files checked, 0 problems so far",
    ]
    assert out == "checked 2 files: 2 ok, 0 missing, 0 changed, 0 extra\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{tmp}/nope"], "error: --out '{tmp}/nope' does not exist"),
        (["--out", "{tmp}/file.txt"], "error: --out '{tmp}/file.txt' is not a directory"),
        (["--out", "{tmp}/empty"], "error: --out '{tmp}/empty' has no manifest.jsonl"),
        (["--out", "{tmp}/photos", "--concurrency", "0"], "error: --concurrency must be from 1"),
        ([], "error: the following arguments are required: --out"),  # argparse: usage line first
        (["--out", "{tmp}/photos", "--org", "903"], "error: unrecognized arguments: --org 903"),
    ],
    ids=["absent", "a-file", "no-manifest", "concurrency-0", "no-out", "connection-option"],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], dest: Path, argv: list[str], message: str
) -> None:
    tmp = dest.parent
    (tmp / "file.txt").write_text("x")
    (tmp / "empty").mkdir()
    code, out, err = run(capsys, "check", *(a.replace("{tmp}", str(tmp)) for a in argv))
    assert code == 2 and out == ""
    assert message.replace("{tmp}", str(tmp)) in err.splitlines()[-1]  # argparse prints its usage first
    assert "Traceback" not in err
    if message.startswith("error: --"):  # checked by the command: one line
        assert len(err.splitlines()) == 1


def test_an_archive_root_points_at_its_event_folders(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    root = dest.parent / "archive"
    root.mkdir()
    dest.rename(root / "456-run")
    code, out, err = run(capsys, "check", "--out", str(root))
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"it looks like an archive: check each event folder, e.g. --out {str(root / '456-run')!r}" in err


def test_needs_no_api_key_org_or_event(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    code, _, err = run(capsys, "check", "--out", str(dest))  # clean_env: no NINEPIC_* variable is set
    assert code == 0 and "API key" not in err


def test_a_running_download_exits_5(capsys: pytest.CaptureFixture[str], dest: Path) -> None:
    with DestinationLock(dest):
        code, out, err = run(capsys, "check", "--out", str(dest))
    assert code == 5 and out == ""
    assert err.startswith("error: destination problem: a download is running in")


def test_help_shows_an_example_and_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0
    assert "ninepic check --out ./photos" in out and "exit statuses:" in out
    assert "--api-key" not in out


def test_the_terminal_progress_counts_files_and_problems() -> None:
    stderr = io.StringIO()
    output = Output(stdout=io.StringIO(), stderr=stderr)
    output.err = Console(file=stderr, force_terminal=True, width=120)
    with CheckProgress(output, label="checking [bold]photos\x1b") as progress:
        progress(CheckedFile("id1", "a.jpg", "ok"))
        progress(CheckedFile("id2", "b.jpg", "missing", "no such file"))
        progress(CheckedFile("id3", "c.jpg", "unverifiable", "no SHA-256"))
    shown = stderr.getvalue()
    assert "checking [bold]photos\\x1b" in shown  # neither markup nor a control character
    assert "3 files checked" in shown and "(1 missing, changed or extra)" in shown
