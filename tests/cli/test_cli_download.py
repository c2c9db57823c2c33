"""`ninepic download` and `ninepic demo` through the real entry point against the simulator."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory, interrupt_after
from rich.console import Console

from ninepic_async._constants import PART_SUFFIX
from ninepic_async.cli import output as output_module
from ninepic_async.cli.main import main
from ninepic_async.cli.output import DownloadProgress, Output
from ninepic_async.download import (
    BytesReceived,
    FileFinished,
    FileResult,
    FileStarted,
    PlannedEvent,
)
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def manifest(dest: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (dest / "manifest.jsonl").read_text().splitlines() if line.strip()]


async def test_download_whole_event_then_rerun_skips(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "photos"
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest), "--verify")
    assert code == 0, err
    assert out.startswith(f"downloaded {len(sim.world.photos)}, skipped 0") and "failed 0" in out
    assert f"{len(sim.world.photos)} files planned" in err
    entries = manifest(dest)
    assert {e["image_id"] for e in entries} == {p.image_id for p in sim.world.photos}
    for entry in entries[:5]:
        data = (dest / str(entry["file"])).read_bytes()
        assert hashlib.md5(data).hexdigest() == sim.world.md5(str(entry["image_id"]))
    assert sim.counters.storage_requests_with_api_key == 0
    code, out, _ = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["downloaded"] == 0 and report["skipped"] == len(sim.world.photos) and report["failed"] == 0


async def test_download_by_bib_and_image_ids(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bib, ids = next(iter(sim.world.bibs.items()))
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--bib", bib, "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert {e["image_id"] for e in manifest(tmp_path / "b")} == set(ids)
    picked = [p.image_id for p in sim.world.photos[:3]]
    argv = [arg for image_id in picked for arg in ("--image-id", image_id)]
    code, _, err = await run_cli(capsys, "download", *conn(sim), *argv, "--out", str(tmp_path / "i"))
    assert code == 0, err
    assert {e["image_id"] for e in manifest(tmp_path / "i")} == set(picked)


async def test_dry_run_writes_nothing_and_fetches_nothing(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "never"
    selfie_id, ids = next(iter(sim.world.selfie_request_ids.items()))
    code, out, err = await run_cli(
        capsys, "download", *conn(sim), "--selfie", selfie_id, "--out", str(dest), "--dry-run", "--json"
    )
    assert code == 0, err
    planned = [json.loads(line) for line in out.splitlines()]
    assert [p["image_id"] for p in planned] == ids
    assert {p["action"] for p in planned} == {"download"}
    assert "nothing was written" in err
    assert not dest.exists()
    assert sim.counters.storage_requests == 0


async def test_missing_photos_exit_1_are_listed_once_and_not_promised_on_a_rerun(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=30, missing_count=3)
    dest = tmp_path / "partial"
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(dest))
    assert code == 1
    assert "failed 3" in out
    for image_id in sim.world.missing_ids:
        assert err.count(f"failed: {image_id}") == 1
    assert "error: 3 photo(s) do not exist" in err and "will not fetch them" in err
    assert "run the same command again" not in err and "Traceback" not in err
    failed = {e["image_id"] for e in manifest(dest) if e["status"] == "failed"}
    assert failed == set(sim.world.missing_ids)


@pytest.mark.parametrize(
    "extra",
    [
        ["--all", "--concurrency", "0"],
        ["--all", "--concurrency", "-3"],
        ["--all", "--concurrency", "many"],
        ["--image-id", " "],
        ["--bib", ""],
        ["--all", "--bib", "12"],
        [],
    ],
    ids=[
        "concurrency-0",
        "concurrency-negative",
        "concurrency-text",
        "blank-id",
        "blank-bib",
        "two-selections",
        "no-selection",
    ],
)
async def test_bad_input_exits_2_before_any_request(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str]
) -> None:
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--out", str(tmp_path / "d"), *extra)
    assert code == 2 and out == ""
    assert "error" in err and "Traceback" not in err
    assert sim.counters.api_requests == 0 and sim.counters.storage_requests == 0
    assert not (tmp_path / "d").exists()


async def test_out_is_a_file_is_a_destination_problem_exit_5(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(target))
    assert code == 5 and "not a directory" in err
    assert sim.counters.api_requests == 0


async def test_wrong_key_download_exits_3(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = conn(sim, key="not-the-key-42")
    code, _, err = await run_cli(capsys, "download", *argv, "--bib", "101", "--out", str(tmp_path / "d"))
    assert code == 3
    assert "access denied (403)" in err and "not-the-key-42" not in err and "Traceback" not in err


def test_demo_downloads_the_synthetic_event(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    assert main(["demo", "--out", str(dest), "--photos", "12", "--concurrency", "4"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("downloaded 12, skipped 0") and "simulator: http://127.0.0.1:" in err
    assert len([p for p in dest.iterdir() if p.suffix == ".jpg"]) == 12
    assert main(["demo", "--out", str(dest), "--photos", "12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 12


def test_progress_reports_plain_lines_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    output = Output()
    with DownloadProgress(output, label="t") as progress:
        progress(PlannedEvent(total_files=2))
        progress(FileStarted(image_id="a", size=10))
        progress(BytesReceived(image_id="a", n=10))
        progress(FileFinished(result=FileResult(image_id="a", status="ok", file="a.jpg", bytes=10)))
        progress(FileFinished(result=FileResult(image_id="b", status="failed", error="gone")))
    err = capsys.readouterr().err
    assert "t: 2 files planned" in err and "failed: b: gone" in err
    assert (progress.files_done, progress.downloaded, progress.failed, progress.bytes_received) == (
        2,
        1,
        1,
        10,
    )


class _StepClock:
    """Stands in for the ``time`` module of cli/output.py: ``monotonic()`` is whatever the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_progress_bar_renders_files_bytes_rate_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bar's fields at known moments (an injected clock, explicit refreshes): no real time window."""
    clock = _StepClock()
    monkeypatch.setattr(output_module, "time", clock)
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    screen = io.StringIO()
    output.err = Console(file=screen, force_terminal=True, width=120, color_system=None)

    def shown() -> str:
        assert progress._progress is not None
        progress._progress.refresh()
        return screen.getvalue()

    with DownloadProgress(output, label="event 456") as progress:
        assert progress.live
        progress(PlannedEvent(total_files=4))
        assert "ETA --:--" in shown() and "-- B/s" in shown()  # nothing received yet: no rate, no ETA
        for name in ("a", "b"):
            clock.now += 1.0
            progress(FileStarted(image_id=name, size=1000))
            progress(BytesReceived(image_id=name, n=1000))
            progress(
                FileFinished(result=FileResult(image_id=name, status="ok", file=f"{name}.jpg", bytes=1000))
            )
        assert progress._estimated_total_bytes() == 4000  # 2 known sizes + their average for 2 more
        # 2,000 bytes in the 2 s since the start; 2,000 more to come at that rate: 2 s left.
        assert progress.rate_bps(clock.now) == 1000.0
        assert "1.0 kB/s" in shown() and "ETA 0:02" in shown() and "2/4 files" in shown()
    text = screen.getvalue()
    assert "event 456" in text
    assert "2.0/2.0 kB" in text and "done" in text  # the bar closes at what was received


async def test_a_fatal_api_error_leaves_no_trace_of_a_destination_it_created(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    created = tmp_path / "new" / "dir"
    code, _, err = await run_cli(capsys, "download", *conn(sim, event=999), "--all", "--out", str(created))
    assert code == 3 and "not found (404)" in err
    assert not (tmp_path / "new" / "dir").exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("user data")
    argv = conn(sim, key="wrong-key-7")
    code, _, _ = await run_cli(capsys, "download", *argv, "--all", "--out", str(existing))
    assert code == 3
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt", "manifest.jsonl"]  # a user's dir stays


def test_resumed_bytes_fill_the_bar_but_not_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed .part's bytes count toward the file (the bar) but were not transferred now (the rate)."""
    clock = _StepClock()
    monkeypatch.setattr(output_module, "time", clock)
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    with DownloadProgress(output, label="t") as progress:
        progress(PlannedEvent(total_files=1))
        clock.now += 2.0
        progress(FileStarted(image_id="a", size=3000, offset_bytes=2000))
        progress(BytesReceived(image_id="a", n=1000))
        assert (progress.bytes_received, progress.bytes_resumed, progress.bytes_transferred) == (
            3000,
            2000,
            1000,
        )
        assert progress.rate_bps(clock.now) == 500.0  # 1,000 bytes in 2 s


async def test_a_resumed_download_says_what_the_part_files_already_held(
    rsim: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await rsim(photo_count=10, photo_size=(150_000, 200_000), seed=43, storage_chunk_size=16_384)
    await interrupt_after(sim, tmp_path, files=2)
    parts = [f for f in tmp_path.iterdir() if f.name.endswith(PART_SUFFIX)]
    assert parts
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", str(tmp_path))
    assert code == 0, err
    assert "already in resumed .part files" in out
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(PART_SUFFIX)]
