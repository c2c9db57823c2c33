"""`ninepic` failures: one `error:` line, the documented exit status, never a traceback or the key."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from helpers.cli import conn, run_cli

from ninepic_async._exceptions import (
    APIConnectionError,
    AuthenticationError,
    InternalServerError,
    PermissionDeniedError,
    UnprocessableEntityError,
)
from ninepic_async.cli.errors import ErrorContext, describe_error
from ninepic_async.testing import Simulator

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

pytestmark = pytest.mark.usefixtures("clean_env")


def assert_one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


async def test_missing_key_exits_2_and_sends_nothing(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(
        capsys, "ping", "--org", "903", "--event", "456", "--base-url", sim.base_url
    )
    assert code == 2 and out == ""
    assert_one_error_line(err, "--api-key", "NINEPIC_API_KEY")
    assert sim.counters.api_requests == 0


async def test_missing_org_or_event_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINEPIC_API_KEY", "some-key-123")
    code, _, err = await run_cli(capsys, "ping", "--event", "1")
    assert code == 2
    assert_one_error_line(err, "--org", "NINEPIC_ORG_ID")
    code, _, err = await run_cli(capsys, "event", "--org", "1")
    assert code == 2
    assert_one_error_line(err, "--event", "NINEPIC_EVENT_ID")
    monkeypatch.setenv("NINEPIC_ORG_ID", "nine")
    code, _, err = await run_cli(capsys, "ping", "--event", "1")
    assert code == 2 and "NINEPIC_ORG_ID" in err


async def test_wrong_key_is_403_exit_3_without_echoing_it(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "wrong-key-0123456789"
    code, out, err = await run_cli(capsys, "photos", *conn(sim, key=wrong), "--verbose")
    assert code == 3 and out == ""
    assert "access denied (403)" in err and "API key is valid" in err
    assert wrong not in err and "Traceback" not in err


async def test_unknown_event_is_404_naming_it(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run_cli(capsys, "event", *conn(sim, event=424242))
    assert code == 3
    assert_one_error_line(err, "not found (404)", "event 424242")


async def test_unknown_bib_is_404_naming_the_bib(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run_cli(capsys, "bib", "NO-SUCH-BIB", *conn(sim))
    assert code == 3
    assert_one_error_line(err, "not found (404)", "BIB 'NO-SUCH-BIB'")


async def test_disabled_feature_is_403(sim_factory, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    sim = await sim_factory(disabled_features=frozenset({"bib_search"}))
    code, _, err = await run_cli(capsys, "bib", "101", *conn(sim))
    assert code == 3
    assert_one_error_line(err, "access denied (403)", "feature is enabled")


async def test_429_after_retries_says_slow_down(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.faults.api_429_rate = 1.0
    sim.faults.api_retry_after_s = 0.0
    code, _, err = await run_cli(
        capsys, "ping", *conn(sim), "--max-retries", "0", "--max-rate-limit-retries", "2"
    )
    assert code == 4
    assert "rate limited by the API (429) after 2 retries" in err and "slow down" in err
    assert "Traceback" not in err
    assert sim.counters.responses_429 == 3


async def test_5xx_after_retries_exits_4(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.faults.api_5xx_rate = 1.0
    code, _, err = await run_cli(capsys, "event", *conn(sim), "--max-retries", "0")
    assert code == 4
    assert "HTTP 500" in err and "try again later" in err


async def test_connection_refused_points_at_base_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run_cli(
        capsys,
        "ping",
        "--org",
        "1",
        "--event",
        "2",
        "--api-key",
        "abcd-1234",
        "--base-url",
        "http://127.0.0.1:9",
        "--max-retries",
        "0",
    )
    assert code == 4
    assert_one_error_line(err, "cannot reach http://127.0.0.1:9", "--base-url")


async def test_bad_base_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run_cli(
        capsys, "ping", "--org", "1", "--event", "2", "--api-key", "abcd-1234", "--base-url", "ftp:/nowhere"
    )
    assert code == 2
    assert_one_error_line(err, "--base-url")


@pytest.fixture
async def stub_api() -> AsyncIterator[tuple[str, dict[str, object]]]:
    """A tiny API that answers every request with the status and message in ``reply``."""
    reply: dict[str, object] = {"status": 422, "message": "query.page_size: Input should be less than 100"}

    async def handler(request: web.Request) -> web.Response:
        body = {"responseType": "error", "message": reply["message"], "data": None}
        return web.json_response(body, status=int(str(reply["status"])))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", reply
    await runner.cleanup()


async def test_422_shows_the_servers_field_message(
    stub_api: tuple[str, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, _ = stub_api
    code, _, err = await run_cli(
        capsys, "photos", "--org", "1", "--event", "2", "--api-key", "abcd-1234", "--base-url", base_url
    )
    assert code == 3
    assert_one_error_line(err, "(422)", "query.page_size: Input should be less than 100")


async def test_401_says_how_to_set_the_key(
    stub_api: tuple[str, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, reply = stub_api
    reply.update(status=401, message="Missing API key")
    code, _, err = await run_cli(
        capsys, "events", "--org", "1", "--api-key", "abcd-1234", "--base-url", base_url
    )
    assert code == 3
    assert_one_error_line(err, "(401)", "--api-key", "NINEPIC_API_KEY")


async def test_verbose_logs_requests_but_never_the_key(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(capsys, "ping", *conn(sim), "--verbose")
    assert code == 0
    assert "/ping" in err  # the request line
    assert sim.api_key not in err and sim.api_key not in out


def test_describe_error_covers_the_tree() -> None:
    ctx = ErrorContext(org_id=903, event_id=456, base_url="http://x", max_retries=3)
    cases = [
        (AuthenticationError(401, "missing"), 3, "--api-key"),
        (PermissionDeniedError(403, "nope"), 3, "event 456 of org 903"),
        (UnprocessableEntityError(422, "body.method: bad"), 3, "body.method: bad"),
        (InternalServerError(503, "busy"), 4, "HTTP 503"),
        (APIConnectionError("refused"), 4, "--base-url"),
    ]
    for exc, status, needle in cases:
        described = describe_error(exc, ctx)
        assert described is not None
        assert described[1] == status and needle in described[0]
    grouped = BaseExceptionGroup("pool", [ValueError("x"), PermissionDeniedError(403, "denied")])
    assert describe_error(grouped, ctx) is not None
    assert describe_error(KeyError("bug")) is None
    assert json.dumps(ctx.__dict__)  # the context is plain data


@pytest.mark.parametrize(
    ("argv", "parts_kept"),
    [
        (["ping"], False),
        (["download", "--all", "--out", "d", "--dry-run"], False),
        (["video", "status", "r-1"], False),
        (["download", "--all", "--out", "d"], True),
        (["video", "status", "r-1", "--out", "d"], True),
    ],
)
def test_ctrl_c_mentions_part_files_only_for_a_command_that_writes_them(
    argv: list[str], parts_kept: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(rt: object) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)
        return 0

    main_module = importlib.import_module("ninepic_async.cli.main")
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(main_module, "command", lambda name: interrupted)
    try:
        code = main_module.main([*argv, "--org", "903", "--event", "456", "--api-key", "k-1"])
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)
    err = capsys.readouterr().err
    assert code == 130
    assert err.startswith("interrupted") and (".part" in err) == parts_kept, err
