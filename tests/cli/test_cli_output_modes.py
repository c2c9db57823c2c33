"""`-q`, `--log-file`, `--progress json`, and what stderr says while the API is unreachable or throttling."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from helpers.api import FakeClock
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory

from ninepic_async.cli.bars import _FilesColumn
from ninepic_async.cli.output import DownloadProgress, Output
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def instant_api_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """API retry waits (and the client-wide 429 pause) pass at once on a fake clock; the list
    records the delays asked for."""
    return FakeClock().install(monkeypatch).sleeps


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def events(err: str) -> list[dict[str, Any]]:
    """Every stderr line as a JSON object (fails on any line that is not one with a ``type``)."""
    parsed = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(e, dict) and isinstance(e.get("type"), str) for e in parsed), err
    return parsed


async def test_quiet_success_prints_only_the_summary_line(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "-q"
    )
    assert code == 0
    assert err == ""
    assert len(out.splitlines()) == 1 and out.startswith(f"downloaded {len(sim.world.photos)},")


async def test_quiet_still_shows_the_error_line(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=10, missing_count=2)
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "--quiet"
    )
    assert code == 1
    assert err.splitlines() == [err.splitlines()[0]] and err.startswith("error: 2 photo(s) do not exist")


async def test_quiet_and_verbose_together_are_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run_cli(capsys, "ping", "-q", "-v")
    assert code == 2 and err.startswith("error: -q/--quiet and -v/--verbose") and len(err.splitlines()) == 1


async def test_log_file_gets_the_debug_log_without_the_key(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "ninepic.log"
    code, _, err = await run_cli(capsys, "photos", *conn(sim), "--log-file", str(log))
    assert code == 0 and "DEBUG" not in err
    text = log.read_text()
    assert "DEBUG ninepic_async._transport: -> GET" in text
    assert sim.api_key not in text


async def test_an_unopenable_log_file_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = await run_cli(capsys, "ping", "--log-file", str(tmp_path / "no" / "such" / "dir.log"))
    assert code == 2 and err.startswith("error: --log-file") and len(err.splitlines()) == 1


async def test_progress_json_is_one_object_per_line_and_the_summary_matches_the_report(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=25, missing_count=2)
    argv = ["download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "--progress", "json", "--json"]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 1
    report = json.loads(out)
    stream = events(err)
    assert stream[0] == {
        "type": "start",
        "schema": 1,
        "command": "download",
        "label": f"event {sim.event_id}",
    }
    assert {"type": "planned", "files": 25} in stream
    finished = [e for e in stream if e["type"] == "file_finished"]
    assert len(finished) == 25 and len({e["image_id"] for e in finished}) == 25
    assert sum(e["status"] == "failed" for e in finished) == 2
    started = {e["image_id"] for e in stream if e["type"] == "file_started"}
    assert started == {e["image_id"] for e in finished if e["status"] == "ok"}
    summary = stream[-1]
    assert summary["type"] == "summary" and summary["exit_status"] == 1
    for key in ("downloaded", "skipped", "failed", "not_found", "missing", "bytes"):
        assert summary[key] == report[key], key
    assert summary["manifest"] == report["manifest_path"]
    assert next(e for e in stream if e["type"] == "error")["message"].startswith("2 photo(s) do not exist")


async def test_an_unreachable_api_is_announced_at_each_retry(
    capsys: pytest.CaptureFixture[str], instant_api_retries: list[float]
) -> None:
    argv = ["ping", "--org", "1", "--event", "2", "--api-key", "k-123456", "--max-retries", "2"]
    code, _, err = await run_cli(capsys, *argv, "--base-url", closed_port_url())
    assert code == 4
    lines = err.splitlines()
    assert lines[0] == f"API unreachable, retry 1/2 in {instant_api_retries[0]:.1f} s"
    assert lines[1] == f"API unreachable, retry 2/2 in {instant_api_retries[1]:.1f} s"
    assert lines[2].startswith("error: cannot reach") and len(lines) == 3


async def test_quiet_hides_the_retry_lines(
    capsys: pytest.CaptureFixture[str], instant_api_retries: list[float]
) -> None:
    argv = ["ping", "--org", "1", "--event", "2", "--api-key", "k-123456", "--max-retries", "2", "-q"]
    code, _, err = await run_cli(capsys, *argv, "--base-url", closed_port_url())
    assert code == 4 and len(err.splitlines()) == 1 and err.startswith("error: cannot reach")


async def test_throttling_is_announced_with_the_wait(
    sim: Simulator, capsys: pytest.CaptureFixture[str], instant_api_retries: list[float]
) -> None:
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 8
    code, _, err = await run_cli(capsys, "ping", *conn(sim), "--max-rate-limit-retries", "2")
    assert code == 4
    lines = err.splitlines()
    assert lines[:2] == [
        "API throttling (429), waiting 8.0 s (retry 1/2)",
        "API throttling (429), waiting 8.0 s (retry 2/2)",
    ]
    assert lines[2].startswith("error: rate limited")


async def test_progress_json_reports_api_retries_and_the_final_error_as_events(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, instant_api_retries: list[float]
) -> None:
    sim.faults.api_5xx_rate = 1.0
    argv = ["download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "--progress", "json"]
    code, out, err = await run_cli(capsys, *argv, "--max-retries", "1")
    assert code == 4 and out == ""
    stream = events(err)
    retries = [e for e in stream if e["type"] == "retry"]
    assert retries and retries[0]["scope"] == "api" and retries[0]["reason"] == "server_error"
    assert retries[0]["retry"] == 1 and retries[0]["max_retries"] == 1 and retries[0]["status"] >= 500
    assert stream[-1]["type"] == "error" and stream[-1]["exit_status"] == 4


async def test_nothing_that_exists_exits_6_not_partial(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [
        "download",
        *conn(sim),
        "--image-id",
        "no-such-1",
        "--image-id",
        "no-such-2",
        "--out",
        str(tmp_path),
    ]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 6
    assert "failed 2" in out
    assert "error: 2 photo(s) do not exist" in err and "run the same command again" not in err


async def test_planning_says_listing_photos_before_the_first_count(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(tmp_path / "d"))
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == f"event {sim.event_id}: listing photos…"
    assert lines[1] == f"event {sim.event_id}: {len(sim.world.photos)} files planned"
    assert not any("0/?" in line for line in lines)


async def test_quiet_keeps_what_the_user_needs_next(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(b"a selfie" * 100)
    code, _, err = await run_cli(capsys, "faces", "--selfie", str(selfie), *conn(sim), "-q")
    assert code == 0 and err.startswith("request_id: ") and len(err.splitlines()) == 1
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "--dry-run", "-q"
    )
    assert code == 0 and err.startswith("dry run: ") and len(err.splitlines()) == 1


async def test_progress_json_reports_file_retries(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path, no_backoff_sleep: None
) -> None:
    sim = await sim_factory(photo_count=20)
    sim.faults.storage_5xx_rate = 0.3
    argv = ["download", *conn(sim), "--all", "--out", str(tmp_path / "d"), "--progress", "json"]
    code, _, err = await run_cli(capsys, *argv)
    assert code == 0, err
    stream = events(err)
    retries = [e for e in stream if e["type"] == "retry"]
    assert retries and all(e["scope"] == "file" and e["image_id"] and "503" in e["error"] for e in retries), (
        retries
    )
    assert stream[-1]["type"] == "summary" and stream[-1]["downloaded"] == 20


def test_the_live_bar_says_listing_photos_until_the_plan_is_known() -> None:
    progress = DownloadProgress(Output(stderr=io.StringIO()), label="event 1", live=True)
    with progress:
        assert progress._progress is not None
        task = progress._progress.tasks[0]
        assert str(_FilesColumn().render(task)) == "listing photos…"
        progress.planned(3)
        assert str(_FilesColumn().render(progress._progress.tasks[0])) == "0/3 files"
