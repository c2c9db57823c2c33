"""Proxies: HTTP_PROXY/NO_PROXY and the ``proxy`` option route the API and the storage requests
as curl would, per host; a dead proxy is one clear error, never silently skipped."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from helpers.api import FakeClock
from helpers.clients import new_client
from helpers.proxy import dead_port, forward_proxy
from helpers.sim import SimFactory, check_dest
from yarl import URL

from ninepic_async import ConfigurationError, NetworkOptions, ProxyError
from ninepic_async.download import download_originals


def _port(url: str) -> int:
    port = URL(url).port
    assert port is not None
    return port


async def test_the_environment_proxy_carries_the_api_and_the_storage_requests(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=6)
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with new_client(sim) as client:
            with anyio.fail_after(30):
                report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete
    check_dest(sim, tmp_path)
    api, storage = URL(sim.base_url).raw_authority, URL(sim.storage_url).raw_authority
    assert proxy.hosts() == {api, storage}
    stored = [s for s in proxy.seen if URL(s.url).raw_authority == storage]
    assert len(stored) == 6
    assert all("X-API-Key" not in s.headers for s in stored)  # the key still goes to the API only


async def test_no_proxy_sends_the_listed_host_direct(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=4)
    async with forward_proxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", f"example.invalid, 127.0.0.1:{_port(sim.storage_url)}")
        async with new_client(sim) as client:
            with anyio.fail_after(30):
                report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete
    assert proxy.hosts() == {URL(sim.base_url).raw_authority}  # the store's host:port went direct


async def test_an_explicit_proxy_is_used_without_any_variable(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=3)
    async with forward_proxy() as proxy, new_client(sim, proxy=proxy.url) as client:
        with anyio.fail_after(30):
            report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete
    assert URL(sim.storage_url).raw_authority in proxy.hosts()


async def test_trust_env_false_ignores_the_proxy_variables(
    rsim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await rsim(photo_count=3)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port()}")
    async with new_client(sim, trust_env=False) as client:
        with anyio.fail_after(30):
            report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert report.complete


async def test_a_dead_proxy_from_the_environment_is_one_clear_error(
    sim: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeClock().install(monkeypatch)
    port = dead_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://user:pr0xy-s3cret@127.0.0.1:{port}")
    async with new_client(sim, max_retries=2) as client:  # type: ignore[arg-type]
        with anyio.fail_after(30), pytest.raises(ProxyError) as info:
            await client.ping(1)
    message = str(info.value)
    assert f"proxy http://127.0.0.1:{port} failed: cannot connect to it" in message
    assert "pr0xy-s3cret" not in message and "\n" not in message
    assert info.value.proxy == f"http://127.0.0.1:{port}"


async def test_a_proxy_whose_name_does_not_resolve_is_blamed_not_the_api(
    sim: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeClock().install(monkeypatch)
    resolve = aiohttp.resolver.DefaultResolver.resolve

    async def no_such_proxy(self: Any, host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "proxy.example.invalid":
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return await resolve(self, host, *args, **kwargs)

    monkeypatch.setattr(aiohttp.resolver.DefaultResolver, "resolve", no_such_proxy)
    async with new_client(sim, max_retries=1, proxy="http://proxy.example.invalid:3128") as client:  # type: ignore[arg-type]
        with anyio.fail_after(30), pytest.raises(ProxyError) as info:
            await client.ping(1)
    assert str(info.value).startswith(
        "proxy http://proxy.example.invalid:3128 failed: its host name does not"
    )


@pytest.mark.parametrize(
    ("proxy", "problem"),
    [
        ("socks5://127.0.0.1:1080", "http:// or https://"),
        ("http://", "http:// or https://"),
        ("http://host:99999", "not a proxy URL"),
        ("  ", "non-empty"),
    ],
)
def test_an_unusable_proxy_url_is_refused_before_anything_is_sent(proxy: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        NetworkOptions(proxy=proxy)


def test_an_unusable_proxy_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigurationError, match=r"\$HTTPS_PROXY must be an http:// or https:// proxy"):
        new_client("https://api.example.test")


@pytest.mark.parametrize(
    ("url", "via"),
    [
        ("https://api.example.test/x", "https-proxy"),
        ("http://api.example.test/x", "http-proxy"),
        ("https://store.internal.test/x", None),  # NO_PROXY: a domain suffix
        ("https://internal.test/x", None),
        ("http://10.1.2.3/x", "http-proxy"),
    ],
)
def test_the_proxy_is_chosen_per_scheme_and_host(
    url: str, via: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://https-proxy:3128")
    monkeypatch.setenv("http_proxy", "http-proxy:8080")  # curl's default scheme for a bare host:port
    monkeypatch.setenv("NO_PROXY", ".internal.test,localhost")
    network = NetworkOptions().resolve()
    chosen = network.proxy_for(URL(url))
    assert (chosen.host if chosen is not None else None) == via


async def test_proxy_credentials_travel_in_the_proxy_url_and_stay_out_of_errors(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=3)
    async with forward_proxy(credentials=("me", "pr0xy-pw")) as proxy:
        async with new_client(sim, proxy=proxy.url.replace("//", "//me:pr0xy-pw@")) as client:
            with anyio.fail_after(30):
                report = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
        assert report.complete
        assert all(s.headers.get("Proxy-Authorization") for s in proxy.seen)
        async with new_client(sim, proxy=proxy.url.replace("//", "//me:wrong-pw@"), max_retries=0) as client:
            with (
                anyio.fail_after(30),
                pytest.raises(ProxyError, match=r"wants credentials \(HTTP 407\)") as info,
            ):
                await client.ping(sim.event_id)
    assert "wrong-pw" not in str(info.value) and info.value.proxy == proxy.url


def test_no_repr_shows_the_proxy_password() -> None:
    options = NetworkOptions(proxy="http://me:pr0xy-pw@proxy.example:3128")
    assert "pr0xy-pw" not in repr(options)
    assert "proxy.example:3128" in repr(options)
    assert "pr0xy-pw" not in repr(options.resolve())
