"""The key only ever goes to the API's origin: redirects elsewhere are refused, same-origin ones followed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, EVENT_BASE, KEY, ORG, FakeClock, ok
from helpers.clients import new_client

from ninepic_async import APIStatusError
from ninepic_async._constants import API_KEY_HEADER, MAX_REDIRECTS

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"
PONG = ok({"status": "ok", "org_id": ORG, "event_id": EVENT})


class Site:
    """A local server that records (method, path, X-API-Key, body) of every request it gets."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.seen: list[tuple[str, str, str | None, bytes]] = []
        self.server: TestServer | None = None

    def route(self, method: str, path: str, response: Any) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            self.seen.append(
                (request.method, request.path_qs, request.headers.get(API_KEY_HEADER), await request.read())
            )
            made: web.StreamResponse = response() if callable(response) else response
            return made

        self.app.router.add_route(method, path, handler)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")


def redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


@pytest.fixture
async def sites(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Site, Site]]:
    FakeClock().install(monkeypatch)  # a failure would retry: never sleep for real
    api, other = Site(), Site()
    yield api, other
    for site in (api, other):
        if site.server is not None:
            await site.server.close()


async def _start(site: Site) -> None:
    site.server = TestServer(site.app, host="127.0.0.1")
    await site.server.start_server()


async def test_cross_origin_redirect_is_refused_and_never_gets_the_key(sites: tuple[Site, Site]) -> None:
    api, other = sites
    other.route("GET", "/steal", lambda: web.json_response(PONG))
    await _start(other)
    api.route("GET", f"{PREFIX}/ping", lambda: redirect(302, f"{other.url}/steal"))
    await _start(api)
    async with new_client(api.url) as client:
        with pytest.raises(APIStatusError, match="another origin") as info:
            await client.ping(EVENT)
    assert info.value.status == 302
    assert KEY not in str(info.value)
    assert len(api.seen) == 1 and api.seen[0][2] == KEY
    assert other.seen == []


async def test_same_origin_redirect_is_followed_with_the_key(sites: tuple[Site, Site]) -> None:
    api, _ = sites
    api.route("GET", f"{PREFIX}/ping", lambda: redirect(307, f"{PREFIX}/ping2?x=1"))
    api.route("GET", f"{PREFIX}/ping2", lambda: web.json_response(PONG))
    await _start(api)
    async with new_client(api.url) as client:
        assert (await client.ping(EVENT)).status == "ok"
    assert [(m, p, k) for m, p, k, _ in api.seen] == [
        ("GET", f"{PREFIX}/ping", KEY),
        ("GET", f"{PREFIX}/ping2?x=1", KEY),
    ]


async def test_307_keeps_the_post_body_and_303_turns_into_get(sites: tuple[Site, Site]) -> None:
    api, _ = sites
    api.route("POST", f"{PREFIX}/original-photos", lambda: redirect(307, f"{PREFIX}/op2"))
    api.route("POST", f"{PREFIX}/op2", lambda: redirect(303, f"{PREFIX}/op3"))
    api.route("GET", f"{PREFIX}/op3", lambda: web.json_response(ok({"presigned_urls": []})))
    await _start(api)
    async with new_client(api.url) as client:
        result = await client.original_photos(EVENT, "bib", "12")
    assert result.presigned_urls == []
    assert [(m, b) for m, _, _, b in api.seen] == [
        ("POST", b'{"method":"bib","identifier":"12"}'),
        ("POST", b'{"method":"bib","identifier":"12"}'),
        ("GET", b""),
    ]


async def test_redirect_loops_are_bounded(sites: tuple[Site, Site]) -> None:
    api, _ = sites
    api.route("GET", f"{PREFIX}/ping", lambda: redirect(302, f"{PREFIX}/ping"))
    await _start(api)
    async with new_client(api.url, max_retries=0) as client:
        with pytest.raises(APIStatusError, match="redirects"):
            await client.ping(EVENT)
    assert len(api.seen) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/x",
        "http://api.test.example/x",
        "https://api.test.example:8443/x",
        "//evil.example/x",
    ],
)
async def test_other_hosts_schemes_and_ports_are_other_origins(mocked: Any, location: str) -> None:
    mocked.get(f"{EVENT_BASE}/ping", status=301, headers={"Location": location})
    async with new_client() as client:
        with pytest.raises(APIStatusError, match="another origin"):
            await client.ping(EVENT)
    assert [str(url) for (_, url) in mocked.requests] == [f"{EVENT_BASE}/ping"]
