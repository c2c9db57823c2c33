"""`ninepic download` selections through the entry point: --bib repeated, --image-ids-from FILE or
stdin, --selfie as a request id, an image file or stdin."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory

from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def saved_ids(dest: Path) -> set[str]:
    lines = (dest / "manifest.jsonl").read_text().splitlines()
    return {e["image_id"] for e in map(json.loads, filter(str.strip, lines)) if e.get("status") == "ok"}


def fake_stdin(text: str = "", data: bytes = b"") -> io.TextIOWrapper:
    """A stdin holding ``text`` (or raw ``data``), with its ``buffer`` as sys.stdin has."""
    return io.TextIOWrapper(io.BytesIO(data or text.encode()), encoding="utf-8")


async def test_bib_given_twice_downloads_both(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=60, bib_count=5)
    (a, ids_a), (b, ids_b) = list(sim.world.bibs.items())[:2]
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--bib", a, "--bib", b, "--out", str(tmp_path)
    )
    assert code == 0, err
    assert saved_ids(tmp_path) == set(ids_a) | set(ids_b)
    assert f"downloaded {len(set(ids_a) | set(ids_b))}," in out


async def test_image_ids_from_a_file_and_from_stdin(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [p.image_id for p in sim.world.photos[:4]]
    listing = tmp_path / "ids.txt"
    listing.write_text(f"{ids[0]}\n\n  {ids[1]}  \n\n")
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--image-ids-from", str(listing), "--out", str(tmp_path / "f")
    )
    assert code == 0, err
    assert saved_ids(tmp_path / "f") == set(ids[:2])
    monkeypatch.setattr(sys, "stdin", fake_stdin("\n".join(ids[2:]) + "\n"))
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--image-ids-from", "-", "--out", str(tmp_path / "s")
    )
    assert code == 0, err
    assert saved_ids(tmp_path / "s") == set(ids[2:])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ok-id-1\n\nnot an id\n", "line 3: 'not an id' is not an image id"),
        ("../../etc/passwd\n", "line 1: '../../etc/passwd' is not an image id"),
        ("\n \n", "holds no image ids"),
    ],
)
async def test_a_bad_image_id_list_names_the_line_before_any_request(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    listing = tmp_path / "ids.txt"
    listing.write_text(content)
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--image-ids-from", str(listing), "--out", str(tmp_path / "d")
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert sim.counters.api_requests == 0


async def test_an_empty_image_ids_from_is_refused_rather_than_downloading_the_whole_event(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--image-ids-from", "", "--out", str(tmp_path / "d")
    )
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: --image-ids-from is empty"), err
    assert sim.counters.api_requests == 0 and not (tmp_path / "d").exists()


async def test_selfie_image_file_runs_the_face_search_first(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_id, image = next(iter(sim.world.selfies.items()))
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(image)
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--selfie", str(selfie), "--out", str(tmp_path / "d")
    )
    assert code == 0, err
    assert f"request_id {request_id}" in err
    assert saved_ids(tmp_path / "d") == set(sim.world.selfie_request_ids[request_id])
    assert sim.counters.api_requests_by_endpoint["faces_post"] == 1


async def test_selfie_from_stdin(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id, image = list(sim.world.selfies.items())[1]
    monkeypatch.setattr(sys, "stdin", fake_stdin(data=image))
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--selfie", "-", "--out", str(tmp_path))
    assert code == 0, err
    assert f"request_id {request_id}" in err and "from stdin" in err
    assert saved_ids(tmp_path) == set(sim.world.selfie_request_ids[request_id])


class _Keyboard(io.BytesIO):
    def isatty(self) -> bool:
        return True


async def test_a_selfie_from_a_terminal_stdin_is_refused_instead_of_waiting(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(_Keyboard(b"never read")))
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--selfie", "-", "--out", str(tmp_path / "d")
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and "stdin is a terminal" in err, err
    assert sim.counters.api_requests == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [("missing.jpg", "no such file"), ("-", "stdin is empty"), ("empty", "file is empty")],
)
async def test_a_bad_selfie_is_one_line_before_any_request(
    sim: Simulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").write_bytes(b"")
    monkeypatch.setattr(sys, "stdin", fake_stdin())
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--selfie", value, "--out", str(tmp_path / "d")
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert sim.counters.api_requests == 0


async def test_name_template_puts_each_bib_in_its_folder(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=60, bib_count=5)
    (a, ids_a), (b, _) = list(sim.world.bibs.items())[:2]
    argv = ["download", *conn(sim), "--bib", a, "--bib", b, "--name-template", "{bib}/{filename}"]
    code, out, err = await run_cli(capsys, *argv, "--out", str(tmp_path), "--dry-run")
    assert code == 0, err
    assert all(line.split("\t")[1].split("/")[0] in (a, b) for line in out.splitlines()[1:])
    code, _, err = await run_cli(capsys, *argv, "--out", str(tmp_path))
    assert code == 0, err
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    files = {e["image_id"]: e["file"] for e in map(json.loads, lines) if e.get("status") == "ok"}
    assert {files[i].split("/")[0] for i in ids_a} == {a}
    assert all((tmp_path / name).is_file() for name in files.values())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["download", "--all", "--name-template", "../{filename}"], "--name-template '../{filename}'"),
        (["download", "--all", "--name-template", "{size}"], "unknown field {size}"),
        (["download", "--all", "--name-template", "{bib}/{filename}"], "{bib} needs --bib"),
        (["archive", "--all-events", "--name-template", "{bib}/{filename}"], "{bib} needs --bib"),
    ],
)
async def test_a_bad_name_template_is_one_line_before_any_request(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    code, out, err = await run_cli(capsys, argv[0], *conn(sim), *argv[1:], "--out", str(tmp_path / "d"))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert sim.counters.api_requests == 0 and not (tmp_path / "d").exists()


async def test_archive_names_files_inside_each_event_folder(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=4, extra_events=0)
    argv = [
        "archive",
        *conn(sim),
        "--all-events",
        "--name-template",
        "{image_id}{ext}",
        "--out",
        str(tmp_path),
    ]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 0, err
    folder = tmp_path / out.splitlines()[1].split("\t")[1]
    assert sorted(os.listdir(folder)) == sorted(
        ["manifest.jsonl", *(f"{p.image_id}.jpg" for p in sim.world.photos)]
    )
