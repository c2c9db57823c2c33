"""`ninepic` query commands through the real entry point (`main([...])` in-process) against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli

from ninepic_async.cli.main import build_parser, main
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_ping_plain_and_json(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run_cli(capsys, "ping", *conn(sim))
    assert code == 0, err
    assert out.startswith("pong: ok") and f"event {sim.event_id}" in out
    code, out, _ = await run_cli(capsys, "ping", *conn(sim), "--json")
    assert code == 0
    assert json.loads(out) == {"status": "ok", "org_id": sim.org_id, "event_id": sim.event_id}


async def test_connection_options_fall_back_to_environment(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINEPIC_API_KEY", sim.api_key)
    monkeypatch.setenv("NINEPIC_BASE_URL", sim.base_url)
    monkeypatch.setenv("NINEPIC_ORG_ID", str(sim.org_id))
    monkeypatch.setenv("NINEPIC_EVENT_ID", str(sim.event_id))
    code, out, err = await run_cli(capsys, "ping")
    assert code == 0, err
    assert "pong" in out
    # an option beats the environment
    code, _, err = await run_cli(capsys, "ping", "--event", "999999")
    assert code == 3 and "not found (404)" in err


async def test_events_table_json_and_all_pages(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(capsys, "events", *conn(sim))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t") == ["event_id", "name", "date", "status", "slug"]
    assert {int(line.split("\t")[0]) for line in lines[1:]} == set(sim.event_ids)
    code, out, _ = await run_cli(capsys, "events", *conn(sim), "--json", "--page-size", "2")
    page = json.loads(out)
    assert len(page["events"]) == 2 and page["pagination"]["hasNextPage"] is True
    code, out, _ = await run_cli(capsys, "events", *conn(sim), "--json", "--page-size", "2", "--all-pages")
    assert code == 0
    assert sorted(int(str(e["event_id"])) for e in jsonl(out)) == sorted(sim.event_ids)


async def test_event_details(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(capsys, "event", *conn(sim), "--json")
    assert code == 0
    details = json.loads(out)
    assert details["event_id"] == sim.event_id and details["bib_search"] is True
    code, out, _ = await run_cli(capsys, "event", *conn(sim))
    assert "bib_search\tyes" in out.splitlines()


async def test_photos_one_page_and_every_page(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run_cli(capsys, "photos", *conn(sim), "--page-size", "5", "--page", "2", "--json")
    assert code == 0, err
    page = json.loads(out)
    assert [i["image_id"] for i in page["images"]] == [p.image_id for p in sim.world.photos[5:10]]
    assert page["pagination"]["currentPage"] == 2
    assert "widht" not in page["images"][0]  # legacy aliases are not echoed
    code, out, _ = await run_cli(capsys, "photos", *conn(sim), "--all-pages", "--json", "--page-size", "50")
    assert [i["image_id"] for i in jsonl(out)] == [p.image_id for p in sim.world.photos]
    code, out, err = await run_cli(capsys, "photos", *conn(sim), "--page-size", "3")
    assert len(out.splitlines()) == 4 and "next: --page 2" in err


async def test_bib_search(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    bib, ids = next(iter(sim.world.bibs.items()))
    code, out, _ = await run_cli(capsys, "bib", bib.lower(), *conn(sim), "--all-pages", "--json")
    assert code == 0
    assert [i["image_id"] for i in jsonl(out)] == ids


async def test_faces_upload_then_page_by_request_id(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(b"a selfie" * 100)
    code, out, err = await run_cli(capsys, "faces", "--selfie", str(selfie), *conn(sim), "--json")
    assert code == 0, err
    first = json.loads(out)
    request_id = first["request_id"]
    assert request_id and f"request_id: {request_id}" in err
    code, out, _ = await run_cli(
        capsys, "faces", "--request-id", request_id, *conn(sim), "--all-pages", "--json", "--page-size", "3"
    )
    assert code == 0
    all_ids = [i["image_id"] for i in jsonl(out)]
    assert all_ids[: len(first["images"])] == [i["image_id"] for i in first["images"]]
    assert len(all_ids) == first["pagination"]["total"]
    code, _, err = await run_cli(capsys, "faces", *conn(sim))
    assert code == 2 and "--selfie FILE" in err


async def test_timeline_days_and_images(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(capsys, "timeline", "days", *conn(sim), "--json")
    assert code == 0
    days = json.loads(out)["days"]
    timed = [p for p in sim.world.photos if p.captured_at_s is not None]
    assert sum(d["total"] for d in days) == len(timed)
    start = min(p.captured_at_s for p in timed if p.captured_at_s is not None)
    code, out, err = await run_cli(
        capsys,
        "timeline",
        "images",
        "--from",
        str(start),
        "--to",
        str(start + 3600),
        *conn(sim),
        "--all-pages",
        "--json",
    )
    assert code == 0, err
    expected = {
        p.image_id for p in timed if p.captured_at_s is not None and start <= p.captured_at_s < start + 3600
    }
    assert {i["image_id"] for i in jsonl(out)} == expected
    code, _, err = await run_cli(capsys, "timeline", "images", "--from", "10", "--to", "5", *conn(sim))
    assert code == 2 and "--to" in err
    assert sim.counters.api_requests_by_endpoint["timeline_images"] == 1


async def test_video_start_wait_and_status(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_id = next(iter(sim.world.selfie_request_ids))
    code, out, err = await run_cli(
        capsys, "video", "--request-id", request_id, "--wait", "--interval", "0.01", *conn(sim), "--json"
    )
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "completed" and job["clips"]
    code, out, _ = await run_cli(capsys, "video", "status", job["request_id"], *conn(sim))
    assert code == 0 and "status\tcompleted" in out.splitlines()
    code, _, err = await run_cli(capsys, "video", *conn(sim))
    assert code == 2 and "exactly one of --selfie" in err


async def test_video_job_failure_exits_1(sim_factory, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    sim = await sim_factory(video_outcome="failed")
    request_id = next(iter(sim.world.selfie_request_ids))
    code, _, err = await run_cli(
        capsys, "video", "--request-id", request_id, "--wait", "--interval", "0.01", *conn(sim)
    )
    assert code == 1 and "ended with status 'failed'" in err


def _subcommand_parsers() -> list[list[str]]:
    parser = build_parser()
    names: list[list[str]] = []
    assert parser._subparsers is not None
    for action in parser._subparsers._group_actions:
        assert isinstance(action.choices, dict)
        for name, sub in action.choices.items():
            names.append([name])
            for sub_action in sub._subparsers._group_actions if sub._subparsers else []:
                assert sub_action.choices is not None
                names.extend([name, child] for child in sub_action.choices)
    return names


@pytest.mark.parametrize("command", _subcommand_parsers(), ids=" ".join)
def test_every_command_has_help_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out and "ninepic" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert main(["photos", "--page-size", "1000", "--org", "1", "--event", "2", "--api-key", "k" * 8]) == 2
    assert "--page-size must be from 1 to 100" in capsys.readouterr().err
    assert main(["ping", "--org", "abc"]) == 2
    assert main([]) == 2
