"""`ninepic archive` through the real entry point against the simulator: the table, reruns, the worst
exit status, bad input, and the two-line progress."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory
from rich.console import Console

from ninepic_async import EventListItem, event_folder_name
from ninepic_async.cli.archive import ArchiveProgress, print_table, worst_status
from ninepic_async.cli.output import Output
from ninepic_async.download import (
    ArchivePlanned,
    ArchiveReport,
    BytesReceived,
    EventArchiveFinished,
    EventArchiveReport,
    EventArchiveStarted,
    FileFinished,
    FileResult,
    FileStarted,
    PlannedEvent,
)
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def folder_of(sim: Simulator, event_id: int) -> str:
    meta = sim.state.events[event_id]
    return event_folder_name(EventListItem(event_id=event_id, event_slug=meta.slug, event_name=meta.name))


def table(out: str) -> list[dict[str, str]]:
    header, *rows = (line.split("\t") for line in out.splitlines())
    return [dict(zip(header, row, strict=True)) for row in rows]


async def test_archive_all_events_prints_a_row_per_event_and_reruns_skip(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=6, extra_events=2, extra_event_photos=2)
    out_dir = tmp_path / "archive"
    code, out, err = await run_cli(capsys, "archive", *conn(sim), "--all-events", "--out", str(out_dir))
    assert code == 0, err
    rows = table(out)
    assert [(r["event"], r["folder"], r["status"], r["downloaded"]) for r in rows] == [
        (str(event_id), folder_of(sim, event_id), "ok", str(meta.world.photo_count))
        for event_id, meta in sim.state.events.items()
    ]
    assert sorted(os.listdir(out_dir)) == sorted(r["folder"] for r in rows)
    assert "3 event(s): downloaded 8, skipped 0, failed 0" in err
    code, out, err = await run_cli(
        capsys, "archive", *conn(sim), "--events", f"{sim.event_id}", "--out", str(out_dir), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "ok" and [(e["downloaded"], e["skipped"]) for e in report["events"]] == [
        (0, 6)
    ]


async def test_events_given_twice_archives_the_events_of_both(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=2, extra_events=2, extra_event_photos=1)
    first, second = sim.event_id, sim.event_id + 2
    code, out, err = await run_cli(
        capsys, "archive", *conn(sim), "--events", str(first), "--events", f"{second},{first}",
        "--out", str(tmp_path / "a"),
    )  # fmt: skip
    assert code == 0, err
    assert [r["event"] for r in table(out)] == [str(first), str(second)]


async def test_the_exit_status_is_the_worst_event_and_the_others_finish(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=4, missing_count=1, extra_events=2, extra_event_photos=2)
    disabled, fine = sim.event_id + 1, sim.event_id + 2
    sim.state.events[disabled].flags["event_enabled"] = False
    out_dir = tmp_path / "a"
    events = f"{sim.event_id},{disabled},{fine}"
    code, out, err = await run_cli(capsys, "archive", *conn(sim), "--events", events, "--out", str(out_dir))
    assert code == 3, err  # 403 for one event beats the partial (exit 1) event
    assert [(r["event"], r["status"]) for r in table(out)] == [
        (str(sim.event_id), "partial"),
        (str(disabled), "failed"),
        (str(fine), "ok"),
    ]
    assert "error: 2 of 3 event(s) did not complete" in err and "Traceback" not in err
    (out_dir / folder_of(sim, disabled)).write_text("not a folder")
    sim.state.events[disabled].flags["event_enabled"] = True
    code, _, err = await run_cli(capsys, "archive", *conn(sim), "--events", events, "--out", str(out_dir))
    assert code == 5, err  # the destination problem of one event is the worst now


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "exactly one of --events"),
        (["--events", "1", "--all-events"], "exactly one of --events"),
        (["--events", "1,x"], "'x' is not an event id"),
        (["--events", ""], "is not an event id"),
        (["--all-events", "--since", "May 1st"], "--since 'May 1st' is not a date"),
        (["--all-events", "--until", "2025-13-01"], "--until '2025-13-01' is not a date"),
        (["--all-events", "--since", "2025-05-02", "--until", "2025-05-01"], "is after --until"),
        (["--all-events", "--concurrency", "0"], "--concurrency must be"),
        (["--all-events", "--limit-rate", "fast"], "--limit-rate"),
    ],
)
async def test_bad_archive_input_is_one_line_and_exit_2_before_any_request(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    code, out, err = await run_cli(capsys, "archive", *conn(sim), "--out", str(tmp_path / "d"), *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert sim.counters.api_requests == 0
    assert not (tmp_path / "d").exists()


def test_progress_shows_the_archive_and_the_current_event() -> None:
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    screen = io.StringIO()
    output.err = Console(file=screen, force_terminal=True, width=150, color_system=None)

    def shown() -> str:
        assert progress._progress is not None
        progress._progress.refresh()
        return screen.getvalue()

    with ArchiveProgress(output) as progress:
        assert "listing events…" in shown()  # before the events are known
        progress(ArchivePlanned((456, 457)))
        progress(EventArchiveStarted(456, "456-run", "Run", 1, 2))
        assert "listing photos…" in shown().rsplit("event 456", 1)[1]
        progress(PlannedEvent(total_files=2))
        progress(FileStarted(image_id="a", size=1000))
        progress(BytesReceived(image_id="a", n=1000))
        progress(FileFinished(result=FileResult(image_id="a", status="ok", file="a.jpg", bytes=1000)))
        assert "event 456 (1/2)" in shown() and "1/2 files" in shown() and "archive: 0/2 events" in shown()
        done = EventArchiveReport(456, "456-run", status="ok", downloaded=2, bytes=2000)
        progress(EventArchiveFinished(done, 1, 2))
        progress(EventArchiveStarted(457, "457-walk", "Walk", 2, 2))
        assert "event 457 (2/2)" in shown() and "archive: 1/2 events" in shown()
        assert "listing photos" in shown().rsplit("event 457", 1)[1]  # the new event lists anew
        assert progress.files_done == 0 and progress.archive_files == 2


def test_the_archive_line_counts_each_finished_event_once() -> None:
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    output.err = Console(file=io.StringIO(), force_terminal=True, width=150, color_system=None)
    with ArchiveProgress(output) as progress:
        progress(ArchivePlanned((456,)))
        progress(EventArchiveStarted(456, "456-run", "Run", 1, 1))
        progress(PlannedEvent(total_files=2))
        for image_id in ("a", "b"):
            progress(FileStarted(image_id=image_id, size=1000))
            progress(BytesReceived(image_id=image_id, n=1000))
            progress(FileFinished(result=FileResult(image_id=image_id, status="ok", file="x", bytes=1000)))
        done = EventArchiveReport(456, "456-run", status="ok", downloaded=2, bytes=2000)
        progress(EventArchiveFinished(done, 1, 1))
        assert progress._progress is not None
        overall = progress._progress.tasks[-1]
        assert (overall.fields["files_done"], overall.completed) == (2, 2000)
    assert (overall.fields["files_done"], overall.fields["files_total"], overall.total) == (2, 2, 2000)


def test_a_failed_events_bar_says_failed_not_listing() -> None:
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    screen = io.StringIO()
    output.err = Console(file=screen, force_terminal=True, width=150, color_system=None)
    with ArchiveProgress(output) as progress:
        progress(ArchivePlanned((999,)))
        progress(EventArchiveStarted(999, "999", None, 1, 1))
        failed = EventArchiveReport(999, "999", status="failed", error="HTTP 404: not found")
        progress(EventArchiveFinished(failed, 1, 1))
    last_frame = screen.getvalue().rsplit("event 999 (1/1)", 1)[1]
    assert last_frame.startswith(" failed") and "listing photos" not in last_frame


def test_progress_without_a_terminal_notes_each_event(capsys: pytest.CaptureFixture[str]) -> None:
    with ArchiveProgress(Output()) as progress:
        progress(ArchivePlanned((456,)))
        progress(EventArchiveStarted(456, "456-run", "Run", 1, 1))
        failed = EventArchiveReport(456, "456-run", status="failed", error="HTTP 403: disabled")
        progress(EventArchiveFinished(failed, 1, 1))
    err = capsys.readouterr().err
    assert err.startswith("archive: listing events…\n") and "archive: 1 event(s) planned" in err
    assert "event 456 (1/1): into 456-run" in err and "event 456 (1/1): failed: HTTP 403: disabled" in err


@pytest.mark.parametrize("width", [130, 80, 60])
def test_the_terminal_table_right_aligns_numbers_and_never_cuts_them(width: int) -> None:
    output = Output(stdout=io.StringIO(), stderr=io.StringIO())
    screen = io.StringIO()
    output.out = Console(file=screen, force_terminal=True, width=width, color_system=None)
    report = ArchiveReport(out="archive")
    folder = "456-a-rather-long-event-slug-that-must-not-wrap"
    url = "http://127.0.0.1:8080/api/v1/ext/903/event/999/details"
    report.events.append(
        EventArchiveReport(456, folder, status="ok", downloaded=7, skipped=120, bytes=2_500_000)
    )
    report.events.append(
        EventArchiveReport(999, "999", status="failed", error=f"HTTP 404: not found (GET {url})")
    )
    print_table(output, report)
    text = screen.getvalue()
    assert "│          7 │     120 │" in text and "2.5 MB │" in text and "…" not in text
    assert folder in text and f"event 999: HTTP 404: not found (GET {url})\n" in text  # whole: copyable
    assert "error" not in text.split("event 999:")[0]  # no error column to widen every row


async def test_progress_json_frames_each_events_file_events(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, extra_events=2, extra_event_photos=2)
    argv = ["archive", *conn(sim), "--all-events", "--out", str(tmp_path), "--progress", "json"]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 0, err
    events = [json.loads(line) for line in err.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[1] == "archive_planned" and types[-1] == "archive_summary"
    assert types.count("event_started") == types.count("event_finished") == 3
    assert types.count("file_finished") == 3 + 0 + 2
    assert events[-1]["exit_status"] == 0 and events[-1]["downloaded"] == 5
    assert len(out.splitlines()) == 4  # the table still goes to stdout


async def test_quiet_keeps_the_table_and_the_errors_only(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, extra_events=1)
    code, out, err = await run_cli(
        capsys, "archive", *conn(sim), "--all-events", "--out", str(tmp_path), "-q"
    )
    assert code == 0 and len(out.splitlines()) == 3
    assert "planned" not in err and "event(s)" not in err


async def test_photos_that_do_not_exist_are_not_promised_to_a_rerun(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=5, missing_count=1, extra_events=0)
    code, _, err = await run_cli(capsys, "archive", *conn(sim), "--all-events", "--out", str(tmp_path))
    assert code == 1
    assert "do not exist: running again will not fetch them" in err and "run the same command" not in err
    code, out, _ = await run_cli(
        capsys, "archive", *conn(sim), "--all-events", "--out", str(tmp_path), "--json"
    )
    assert code == 1 and [(e["failed"], e["not_found"]) for e in json.loads(out)["events"]] == [(1, 1)]


async def test_an_event_the_api_refused_is_not_promised_to_a_rerun(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["archive", *conn(sim), "--events", f"999999,{sim.event_id}", "--out", str(tmp_path)]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 3, err
    assert [r["status"] for r in table(out)] == ["failed", "ok"]
    assert "fix the error the table shows" in err and "run the same command" not in err
    assert err.count("HTTP 404") == 1 and "WARNING" not in err  # the failure is told once, in one style


async def test_an_event_whose_listing_keeps_failing_leaves_the_others_and_is_promised_a_rerun(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, extra_events=2, extra_event_photos=2)
    sim.faults.api_5xx_rate, sim.faults.api_fault_endpoints = 1.0, {"original_photos"}
    sim.faults.api_fault_budget = 1  # the first event's listing answers 500, and no retry is allowed
    events = f"{sim.event_id},{sim.event_id + 2}"
    argv = ["archive", *conn(sim), "--max-retries", "0", "--events", events, "--out", str(tmp_path)]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 4, err
    assert [(r["status"], r["downloaded"]) for r in table(out)] == [("failed", "0"), ("ok", "2")]
    assert "run the same command again" in err and "fix the error" not in err
    code, out, err = await run_cli(capsys, *argv)
    assert code == 0, err
    assert [(r["status"], r["downloaded"], r["skipped"]) for r in table(out)] == [
        ("ok", "3", "0"),
        ("ok", "0", "2"),
    ]


@pytest.mark.parametrize(
    ("statuses", "worst"), [([0, 6], 6), ([6, 1], 1), ([6, 4, 1], 4), ([3, 5, 0], 5), ([], 0)]
)
def test_nothing_to_download_ranks_below_every_failure_for_the_archives_status(
    statuses: list[int], worst: int
) -> None:
    assert worst_status(statuses) == worst


async def test_archive_dry_run_lists_each_event_and_writes_nothing(
    sim_factory: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=3, extra_events=2, extra_event_photos=2)
    out_dir = tmp_path / "a"
    argv = ["archive", *conn(sim), "--out", str(out_dir)]
    code, _, err = await run_cli(capsys, *argv, "--events", str(sim.event_id))
    assert code == 0, err
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, out, err = await run_cli(capsys, *argv, "--all-events", "--dry-run", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["event_id"], r["folder"], r["download"], r["skip"]) for r in rows] == [
        (sim.event_id, folder_of(sim, sim.event_id), 0, 3),
        (sim.event_id + 1, folder_of(sim, sim.event_id + 1), 0, 0),
        (sim.event_id + 2, folder_of(sim, sim.event_id + 2), 2, 0),
    ]
    assert "nothing was written" in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    code, out, err = await run_cli(capsys, *argv, "--events", "999999", "--dry-run")
    assert code == 3 and "999999" in out and not (out_dir / "999999").exists(), err


async def test_an_archive_that_matches_no_event_says_so(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["archive", *conn(sim), "--all-events", "--since", "2099-01-01", "--out", str(tmp_path), "-q"]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 0 and len(out.splitlines()) == 1, out  # the header only
    assert "no event to archive" in err and "--since/--until" in err
