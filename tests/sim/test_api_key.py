"""The API key goes to the API's origin only, and shows up in no log line, exception or repr.

Two real servers on 127.0.0.1 (different ports = different origins): the "API" and an
"elsewhere" that records whatever reaches it. A whole hostile session at DEBUG (every logger)
covers retries, error statuses, decode errors and redirects.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, KEY, ORG, FakeClock
from helpers.clients import new_client

from ninepic_async import APIError, APIStatusError, NinePicError
from ninepic_async._constants import API_KEY_HEADER
from ninepic_async.client import NinePicClient
from ninepic_async.testing import Simulator

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"
PONG = {
    "responseType": "success",
    "message": "pong",
    "data": {"status": "ok", "org_id": ORG, "event_id": EVENT},
}


class Site:
    """A local server recording (method, path, X-API-Key, every header) of each request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.app = web.Application()
        self.seen: list[tuple[str, str, str | None, dict[str, str]]] = []
        self.server: TestServer | None = None
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.routes: dict[tuple[str, str], Any] = {}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            (request.method, request.path_qs, request.headers.get(API_KEY_HEADER), dict(request.headers))
        )
        await request.read()
        handler = self.routes.get((request.method, request.path)) or self.routes.get(("*", request.path))
        if handler is None:
            return web.json_response(PONG)
        answer: web.StreamResponse = handler()
        return answer

    def route(self, method: str, path: str, handler: Any) -> None:
        self.routes[(method, path)] = handler

    async def start(self) -> str:
        self.server = TestServer(self.app, host=self.host)
        await self.server.start_server()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.port is not None
        return self.server.port


def redirect(status: int, location: str) -> Any:
    return lambda: web.Response(status=status, headers={"Location": location})


@pytest.fixture
async def sites(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Site, Site]]:
    FakeClock().install(monkeypatch)
    api, elsewhere = Site(), Site()
    await elsewhere.start()
    yield api, elsewhere
    for site in (api, elsewhere):
        if site.server is not None:
            await site.server.close()


# --- redirects ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_port_never_carries_the_key(
    sites: tuple[Site, Site], status: int
) -> None:
    api, elsewhere = sites
    api.route("GET", f"{PREFIX}/ping", redirect(status, f"{elsewhere.url}/collect"))
    await api.start()
    async with new_client(api.url) as client:
        with anyio.fail_after(5), pytest.raises(APIStatusError, match="another origin") as info:
            await client.ping(EVENT)
    assert info.value.status == status
    assert [k for _, _, k, _ in api.seen] == [KEY]  # the API itself did get it, once
    assert elsewhere.seen == []  # nothing at all went to the other origin
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def test_a_post_redirected_elsewhere_sends_neither_key_nor_body(sites: tuple[Site, Site]) -> None:
    api, elsewhere = sites
    api.route("POST", f"{PREFIX}/original-photos", redirect(307, f"{elsewhere.url}/collect"))
    await api.start()
    async with new_client(api.url) as client:
        with pytest.raises(APIStatusError, match="another origin"):
            await client.original_photos(EVENT, "bib", "12")
    assert elsewhere.seen == []


async def test_same_origin_hop_then_a_hop_elsewhere(sites: tuple[Site, Site]) -> None:
    api, elsewhere = sites
    api.route("GET", f"{PREFIX}/ping", redirect(302, f"{PREFIX}/hop"))
    api.route("GET", f"{PREFIX}/hop", redirect(302, f"{elsewhere.url}/collect"))
    await api.start()
    async with new_client(api.url) as client:
        with pytest.raises(APIStatusError, match="another origin"):
            await client.ping(EVENT)
    assert [(p, k) for _, p, k, _ in api.seen] == [(f"{PREFIX}/ping", KEY), (f"{PREFIX}/hop", KEY)]
    assert elsewhere.seen == []


async def test_same_port_under_another_host_name_is_another_origin(sites: tuple[Site, Site]) -> None:
    """``localhost`` and ``127.0.0.1`` may be the same machine, but not the origin we were given."""
    api, _ = sites
    await api.start()
    api.route("GET", f"{PREFIX}/ping", redirect(302, f"http://localhost:{api.port}{PREFIX}/ping2"))
    async with new_client(api.url) as client:
        with pytest.raises(APIStatusError, match="another origin"):
            await client.ping(EVENT)
    assert [p for _, p, _, _ in api.seen] == [f"{PREFIX}/ping"]


async def test_a_redirect_to_the_storage_host_of_the_simulator(
    sim: Simulator, sites: tuple[Site, Site]
) -> None:
    """Storage is another origin too: a redirect there is refused and storage sees no key."""
    api, _ = sites
    api.route("GET", f"{PREFIX}/ping", redirect(302, f"{sim.storage_url}/raw-memories/imgs/x.jpg"))
    await api.start()
    async with new_client(api.url) as client:
        with pytest.raises(APIStatusError, match="another origin"):
            await client.ping(EVENT)
    assert sim.counters.storage_requests == 0 and sim.counters.storage_requests_with_api_key == 0


# --- no key in logs, exceptions or reprs across a hostile session -------------------------------------
async def test_a_hostile_session_at_debug_never_shows_the_key(
    sites: tuple[Site, Site], caplog: pytest.LogCaptureFixture
) -> None:
    api, elsewhere = sites
    caplog.set_level(logging.DEBUG)  # every logger: ours, aiohttp's, asyncio's
    state = {"n": 0}

    def flaky() -> web.Response:
        state["n"] += 1
        if state["n"] == 1:
            return web.json_response(
                {"responseType": "error", "message": f"slow down {KEY}"},
                status=429,
                headers={"Retry-After": "1"},
            )
        if state["n"] == 2:
            return web.Response(status=502, text=f"<html>proxy error for X-API-Key: {KEY}</html>")
        return web.json_response(PONG)

    api.route("GET", f"{PREFIX}/ping", flaky)
    api.route(
        "GET",
        f"{PREFIX}/details",
        lambda: web.json_response(
            {"responseType": "error", "message": f"API key {KEY} is inactive", "data": {"key": KEY}},
            status=403,
        ),
    )
    api.route(
        "GET",
        f"{PREFIX}/timeline/days",
        lambda: web.Response(text=f"<html>not json, your key is {KEY}</html>", content_type="text/html"),
    )
    api.route("GET", f"{PREFIX}/images", redirect(302, f"{PREFIX}/images2"))
    api.route(
        "GET",
        f"{PREFIX}/images2",
        lambda: web.json_response({"responseType": "success", "data": {"images": [{"image_id": "a"}]}}),
    )
    api.route("GET", f"{PREFIX}/bibs/12", redirect(307, f"{elsewhere.url}/steal?k={KEY}"))
    await api.start()

    errors: list[BaseException] = []
    async with new_client(api.url, max_retries=3) as client:
        assert (await client.ping(EVENT)).status == "ok"  # after a 429 and a 502
        assert [i.image_id async for i in client.all_photos(EVENT)] == ["a"]  # via a same-origin redirect

        async def bib_page() -> Any:
            return await client.bib_search(EVENT, "12")

        for call in (lambda: client.event_details(EVENT), lambda: client.timeline_days(EVENT), bib_page):
            with pytest.raises(NinePicError) as info:
                await call()
            errors.append(info.value)
        logging.getLogger("ninepic_async.client").exception("while testing: %r", errors[0])
        texts = [repr(client), repr(client._transport), repr(client.all_photos(EVENT)), repr(vars(client))]

    assert len(api.seen) >= 8 and all(k == KEY for _, _, k, _ in api.seen)
    assert elsewhere.seen == []
    for error in errors:
        assert isinstance(error, APIError)
        texts += [str(error), repr(error), "".join(traceback.format_exception(error)), repr(vars(error))]
        cause = error.__cause__
        while cause is not None:
            texts += [str(cause), repr(cause)]
            cause = cause.__cause__
    for text in texts:
        assert KEY not in text, text
    assert caplog.records, "expected DEBUG records from the session"
    for record in caplog.records:
        assert KEY not in record.getMessage(), record
        assert KEY not in str(record.args)
        assert KEY not in (record.exc_text or "")
    assert KEY not in caplog.text
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert any("redirect" in r.getMessage() for r in caplog.records)


def test_the_key_is_in_no_repr_of_the_client_objects() -> None:
    client = NinePicClient(KEY, org_id=ORG, base_url="https://api.example")
    listing = client.bib_search(EVENT, "12")
    for text in (repr(client), str(client), repr(client._transport), repr(listing), repr(vars(client))):
        assert KEY not in text


def test_a_bad_key_is_never_echoed_in_the_configuration_error() -> None:
    bad = "secret-part\nX-Injected: 1"
    with pytest.raises(NinePicError) as info:
        NinePicClient(bad, org_id=ORG)
    assert "secret-part" not in str(info.value) and "X-Injected" not in str(info.value)


# --- trace hooks of a caller's session ---------------------------------------------------------
async def test_trace_hooks_of_a_callers_session_never_see_the_key(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every aiohttp trace hook records what it is given (headers, the response's request_info,
    exceptions); the key is in none of it, yet every request reached the API with it."""
    seen: list[str] = []

    def recorder(hook: str) -> Any:
        async def record(session: Any, ctx: Any, params: Any) -> None:
            seen.append(f"{hook} {params!r}")
            for name in ("headers", "response", "exception"):
                value = getattr(params, name, None)
                if name == "headers" and value is not None:
                    seen.append(repr(dict(value)))
                if name == "response" and value is not None:
                    seen.append(repr(dict(value.request_info.headers)))
                if name == "exception" and value is not None:
                    seen.append(repr(value))

        return record

    trace = aiohttp.TraceConfig()
    for hook in (
        "on_request_start",
        "on_request_headers_sent",
        "on_request_chunk_sent",
        "on_request_end",
        "on_request_exception",
        "on_request_redirect",
        "on_response_chunk_received",
    ):
        getattr(trace, hook).append(recorder(hook))
    FakeClock().install(monkeypatch)
    sim.faults.api_5xx_rate = 1.0
    sim.faults.api_fault_budget = 1
    session = aiohttp.ClientSession(trace_configs=[trace])
    async with session, new_client(sim, session=session) as client:
        await client.ping(sim.event_id)
        await client.original_photos(sim.event_id, "image_ids", [sim.world.photos[0].image_id])
        with pytest.raises(APIStatusError):
            await client.face_search_results(sim.event_id, "no-such-search")
    assert any(text.startswith("on_request_headers_sent") for text in seen)
    assert any("[REDACTED]" in text for text in seen)  # the headers sent, masked
    assert not [text for text in seen if sim.api_key in text]
    assert sim.counters.api_requests_without_key == 0 and sim.counters.api_requests >= 4
