"""`python -m ninepic_async ...` as a real process: entry point, exit statuses.

Ctrl-C is in test_download_kill.py (download) and test_cli_shell.py (simulate)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
from pathlib import Path

from helpers.cli import child_env, spawn_cli
from helpers.sim import SimFactory

from ninepic_async.testing import Simulator


async def ninepic(
    *argv: str, env: dict[str, str] | None = None, timeout_s: float = 60.0
) -> tuple[int, str, str]:
    """Run the CLI as a subprocess without blocking the loop the simulator serves in."""
    proc = await spawn_cli(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env or child_env()
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_help_and_usage_error() -> None:
    code, out, _ = await ninepic("--help")
    assert code == 0 and "ninepic demo --out" in out and "exit statuses" in out
    code, _, err = await ninepic("download", "--all")
    assert code == 2 and "the following arguments are required: --out" in err


async def test_ping_and_photos_json_from_the_environment(sim: Simulator) -> None:
    code, out, err = await ninepic("ping", env=child_env(sim))
    assert code == 0, err
    assert out.startswith("pong: ok")
    code, out, err = await ninepic("photos", "--all-pages", "--json", env=child_env(sim))
    assert code == 0, err
    assert len(out.splitlines()) == len(sim.world.photos)
    assert all(json.loads(line)["image_id"] for line in out.splitlines())


async def test_download_and_exit_statuses(sim: Simulator, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    code, out, err = await ninepic(
        "download", "--all", "--out", str(dest), "--concurrency", "8", env=child_env(sim)
    )
    assert code == 0, err
    assert "failed 0" in out and (dest / "manifest.jsonl").is_file()
    code, _, err = await ninepic(
        "download", "--all", "--out", str(dest), "--concurrency", "0", env=child_env(sim)
    )
    assert code == 2 and err.startswith("error: --concurrency")
    code, _, err = await ninepic("ping", "--api-key", "a-wrong-key-77", env=child_env(sim))
    assert code == 3 and "403" in err and "a-wrong-key-77" not in err and "Traceback" not in err


async def test_demo(tmp_path: Path) -> None:
    code, out, err = await ninepic("demo", "--out", str(tmp_path / "demo"), "--photos", "8")
    assert code == 0, err
    assert out.startswith("downloaded 8,")


async def test_archive_every_event_then_rerun(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=5, extra_events=2, extra_event_photos=2)
    dest = tmp_path / "archive"
    argv = ("archive", "--all-events", "--out", str(dest), "--concurrency", "4")
    code, out, err = await ninepic(*argv, env=child_env(sim))
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split("\t")[:4] == ["event", "folder", "status", "downloaded"]
    assert [row.split("\t")[2:4] for row in rows] == [["ok", "5"], ["ok", "0"], ["ok", "2"]]
    assert len(os.listdir(dest)) == 3
    code, out, err = await ninepic(*argv, "--json", env=child_env(sim))
    assert code == 0, err
    assert [e["skipped"] for e in json.loads(out)["events"]] == [5, 0, 2]
    code, out, err = await ninepic("archive", "--out", str(dest), env=child_env(sim))
    assert code == 2 and out == "" and err.startswith("error: archive needs exactly one of")


async def test_selfie_and_image_ids_piped_into_download(sim: Simulator, tmp_path: Path) -> None:
    request_id, image = next(iter(sim.world.selfies.items()))
    ids = [p.image_id for p in sim.world.photos[:3]]
    for argv, data, expected in (
        (("--selfie", "-"), image, set(sim.world.selfie_request_ids[request_id])),
        (("--image-ids-from", "-"), ("\n".join(ids) + "\n\n").encode(), set(ids)),
    ):
        dest = tmp_path / argv[0].strip("-")
        proc = await spawn_cli(
            "download",
            *argv,
            "--out",
            str(dest),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(sim),
        )
        _, err = await asyncio.wait_for(proc.communicate(data), 60)
        assert proc.returncode == 0, err
        if argv[0] == "--selfie":
            assert f"request_id {request_id}".encode() in err
        lines = (dest / "manifest.jsonl").read_text().splitlines()
        assert {json.loads(line)["image_id"] for line in lines if line.strip()} == expected


async def test_download_with_a_name_template(sim: Simulator, tmp_path: Path) -> None:
    bibs = list(sim.world.bibs)[:2]
    argv = ("download", "--bib", bibs[0], "--bib", bibs[1], "--name-template", "{bib}/{filename}")
    code, _, err = await ninepic(*argv, "--out", str(tmp_path), env=child_env(sim))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(bibs)
    code, _, err = await ninepic(
        "download", "--all", "--name-template", "../x", "--out", str(tmp_path), env=child_env(sim)
    )
    assert code == 2 and err.startswith("error: --name-template '../x'") and err.count("\n") == 1


async def test_archive_progress_on_a_terminal(sim_factory: SimFactory, tmp_path: Path) -> None:
    """stderr is a pseudo-terminal: the live display has the current event's bar and the archive's line."""
    sim = await sim_factory(photo_count=6, extra_events=2, extra_event_photos=2)
    master, slave = pty.openpty()
    proc = await spawn_cli(
        "archive",
        "--all-events",
        "--out",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=slave,
        env=child_env(sim, TERM="xterm", COLUMNS="120"),
    )
    os.close(slave)

    def read_screen() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    screen, (out, _) = await asyncio.gather(asyncio.to_thread(read_screen), proc.communicate())
    os.close(master)
    assert proc.returncode == 0, screen
    text = screen.decode(errors="replace")
    assert "archive: 3/3 events" in text and f"event {sim.event_id + 2} (3/3)" in text
    assert "3 event(s): downloaded 8" in text
    assert len(out.decode().splitlines()) == 4  # the table is data: stdout, header and a row per event
