"""Archiving whole events against the simulator: one folder and manifest per event, reruns, dates,
one event's failure leaving the others alone, hostile event names, argument checks."""

from __future__ import annotations

import os
import ssl
import warnings
from datetime import date
from pathlib import Path

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, outcome

from ninepic_async import (
    ArchiveReport,
    DestinationError,
    EventListItem,
    PermissionDeniedError,
    RequestValidationError,
    archive_events,
    event_folder_name,
)
from ninepic_async._constants import MANIFEST_NAME
from ninepic_async.download import (
    ArchivePlanned,
    EventArchiveFinished,
    EventArchiveStarted,
    FileFinished,
)
from ninepic_async.download import run as run_module
from ninepic_async.download.socket_get import SocketGets
from ninepic_async.testing import Simulator


def folders(sim: Simulator) -> dict[int, str]:
    """The folder each event of the simulator gets."""
    return {
        event_id: event_folder_name(
            EventListItem(event_id=event_id, event_slug=meta.slug, event_name=meta.name)
        )
        for event_id, meta in sim.state.events.items()
    }


def assert_event_on_disk(sim: Simulator, folder: Path, event_id: int) -> None:
    """Every photo of the event is in ``folder`` with its exact bytes, as the manifest says."""
    world = sim.state.events[event_id].world
    latest = outcome(folder)
    assert {i for i, e in latest.items() if e["status"] == "ok"} == {p.image_id for p in world.photos}
    for image_id, entry in latest.items():
        assert (folder / entry["file"]).read_bytes() == world.content(image_id)


async def test_every_event_goes_into_its_own_folder_with_its_own_manifest(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=12, extra_events=3, extra_event_photos=3)
    seen: list[object] = []
    async with new_client(sim) as client:
        report = await archive_events(client, tmp_path, all_events=True, concurrency=4, on_event=seen.append)
    assert isinstance(report, ArchiveReport)
    assert report.status == "ok" and report.complete
    expected = folders(sim)
    assert sorted(os.listdir(tmp_path)) == sorted(expected.values())
    assert expected[sim.event_id].startswith(f"{sim.event_id}-simulated-city-marathon-")
    for event_id, folder in expected.items():
        assert_event_on_disk(sim, tmp_path / folder, event_id)
    assert [(e.event_id, e.folder, e.status, e.downloaded) for e in report.events] == [
        (event_id, expected[event_id], "ok", sim.state.events[event_id].world.photo_count)
        for event_id in sim.state.events
    ]
    assert report.downloaded == 12 + 2 * 3 and report.bytes > 0  # the first extra event is empty
    # Archive events frame each event's own per-file events.
    kinds = [type(e).__name__ for e in seen]
    assert isinstance(seen[0], ArchivePlanned) and seen[0].event_ids == tuple(sim.state.events)
    starts = [i for i, e in enumerate(seen) if isinstance(e, EventArchiveStarted)]
    ends = [i for i, e in enumerate(seen) if isinstance(e, EventArchiveFinished)]
    assert len(starts) == len(ends) == 4 and all(s < e for s, e in zip(starts, ends, strict=True))
    first_files = [e for e in seen[starts[0] : ends[0]] if isinstance(e, FileFinished)]
    assert len(first_files) == 12
    assert kinds.count("EventArchiveFinished") == 4


async def test_a_rerun_fetches_only_new_or_unfinished_photos(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=8, extra_events=2, extra_event_photos=3)
    async with new_client(sim) as client:
        await archive_events(client, tmp_path, all_events=True)
        main = tmp_path / folders(sim)[sim.event_id]
        lost = next(iter(outcome(main).values()))["file"]
        (main / lost).unlink()
        served = sim.counters.storage_requests
        again = await archive_events(client, tmp_path, all_events=True)
    assert [(e.downloaded, e.skipped) for e in again.events] == [(1, 7), (0, 0), (0, 3)]
    assert sim.counters.storage_requests == served + 1
    assert_event_on_disk(sim, main, sim.event_id)


async def test_since_and_until_keep_the_events_dated_between_them(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=2, extra_events=3, extra_event_photos=1)
    dates = {event_id: date.fromisoformat(meta.date) for event_id, meta in sim.state.events.items()}
    ordered = sorted(dates.values())
    since, until = ordered[1], ordered[2]
    async with new_client(sim) as client:
        report = await archive_events(client, tmp_path, all_events=True, since=since, until=str(until))
    kept = {e.event_id for e in report.events}
    assert kept == {event_id for event_id, day in dates.items() if since <= day <= until}
    assert sorted(os.listdir(tmp_path)) == sorted(folders(sim)[i] for i in kept)


async def test_one_events_failure_does_not_stop_the_others(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=4, extra_events=3, extra_event_photos=2)
    disabled, blocked, fine = sim.event_id + 1, sim.event_id + 2, sim.event_id + 3
    sim.state.events[disabled].flags["event_enabled"] = False  # its API calls answer 403
    (tmp_path / folders(sim)[blocked]).write_text("a file where the event's folder should be")
    async with new_client(sim) as client:
        report = await archive_events(
            client, tmp_path, events=[disabled, 999_999, blocked, sim.event_id, fine]
        )
    statuses = {e.event_id: e.status for e in report.events}
    assert statuses == {
        disabled: "failed",
        999_999: "failed",
        blocked: "failed",
        sim.event_id: "ok",
        fine: "ok",
    }
    by_id = {e.event_id: e for e in report.events}
    assert isinstance(by_id[blocked].exception, DestinationError)
    assert "999999" in (by_id[999_999].error or "")
    assert "disabled" in (by_id[disabled].error or "")
    assert report.status == "failed" and not report.complete
    assert_event_on_disk(sim, tmp_path / folders(sim)[fine], fine)
    assert_event_on_disk(sim, tmp_path / folders(sim)[sim.event_id], sim.event_id)


async def test_a_partial_event_makes_the_archive_partial(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=6, missing_count=1, extra_events=1, extra_event_photos=2)
    async with new_client(sim) as client:
        report = await archive_events(client, tmp_path, all_events=True)
    assert [(e.status, e.failed) for e in report.events] == [("partial", 1), ("ok", 0)]
    assert report.status == "partial" and report.failed == 1


async def test_hostile_event_names_never_leave_the_archive(sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = await sim_factory(photo_count=2, extra_events=6, extra_event_photos=1, hostile_filenames=True)
    out = tmp_path / "out"
    async with new_client(sim) as client:
        report = await archive_events(client, out, all_events=True)
    assert report.status == "ok"
    assert os.listdir(tmp_path) == ["out"]
    made = sorted(os.listdir(out))
    assert len(made) == 7 and all(name.split("-")[0].isdigit() for name in made)
    for name in made:
        assert (out / name).is_dir() and (out / name / MANIFEST_NAME).is_file()


@pytest.mark.parametrize(
    ("slug", "name", "expected"),
    [
        ("summer-run-2025", "ignored", "7-summer-run-2025"),
        (None, "Summer Run: Zürich 2025!", "7-summer-run-zürich-2025"),
        ("../../etc/passwd", None, "7-etc-passwd"),
        ("/", "..", "7"),
        (None, None, "7"),
        ("a\u202eb\x00c", None, "7-a-b-c"),
        ("CON", None, "7-con"),
    ],
)
def test_event_folder_names_are_safe_single_components(
    slug: str | None, name: str | None, expected: str
) -> None:
    assert event_folder_name(EventListItem(event_id=7, event_slug=slug, event_name=name)) == expected


def test_event_folder_names_fit_the_file_name_limit() -> None:
    folder = event_folder_name(EventListItem(event_id=7, event_slug="x" * 500))
    assert folder.startswith("7-x") and len(folder.encode()) <= 200


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "events"),
        ({"events": [1], "all_events": True}, "events"),
        ({"events": []}, "events"),
        ({"events": ["1"]}, "events[0]"),
        ({"all_events": True, "since": "yesterday"}, "since"),
        ({"all_events": True, "since": "2025-05-02", "until": "2025-05-01"}, "until"),
        ({"all_events": True, "concurrency": 0}, "concurrency"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    sim: Simulator, tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    async with new_client(sim) as client:
        with pytest.raises(RequestValidationError) as caught:
            await archive_events(client, tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert sim.counters.api_requests == 0
    assert not (tmp_path / "out").exists()


async def test_a_refused_events_listing_stops_the_archive(sim: Simulator, tmp_path: Path) -> None:
    async with new_client(sim, api_key="wrong-key") as client:
        with pytest.raises(PermissionDeniedError):
            await archive_events(client, tmp_path / "new", events=[sim.event_id, sim.event_id + 1])
    assert os.listdir(tmp_path) == []


async def test_the_archives_storage_gets_go_the_clients_network_way(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await sim_factory(photo_count=2, extra_events=0)
    made: list[object] = []

    def spy(*, ssl_setting: bool | ssl.SSLContext, connect_timeout_s: float | None) -> SocketGets:
        made.append(ssl_setting)
        return SocketGets(ssl_setting=ssl_setting, connect_timeout_s=connect_timeout_s)

    monkeypatch.setattr(run_module, "SocketGets", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # verify_ssl=False warns, on purpose
        async with new_client(sim, verify_ssl=False) as client:
            report = await archive_events(client, tmp_path, all_events=True)
    assert report.complete
    # one pool of storage connections per event's run, each with the client's TLS setting
    assert len(made) == len(report.events) >= 1
    assert made == [False] * len(made)
