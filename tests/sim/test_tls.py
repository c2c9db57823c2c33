"""TLS certificates are verified, by the API session and the storage session alike.

A local HTTPS server with a self-signed certificate (made by the ``openssl`` binary; skipped
without it) must be refused by a default client, once and without retries, with an error
naming the host and ``ca_bundle``; it is accepted when that certificate is the ``ca_bundle``
(a path or an SSLContext), or with ``verify_ssl=False``, which warns every time.
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, KEY, ORG, FakeClock
from helpers.cli import run_cli
from helpers.clients import new_client
from helpers.proxy import tunnel_proxy
from helpers.tls import self_signed_cert

from ninepic_async import (
    APIConnectionError,
    ConfigurationError,
    NetworkOptions,
    ProxyError,
    TLSCertificateError,
)
from ninepic_async.client import NinePicClient
from ninepic_async.download import DownloadOptions, UrlJob, download_url_list

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of a throwaway self-signed certificate for 127.0.0.1."""
    return self_signed_cert(tmp_path_factory)


@pytest.fixture(scope="module")
def self_signed(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert_files)
    return context


@pytest.fixture
async def https_api(self_signed: ssl.SSLContext) -> AsyncIterator[tuple[str, list[str | None]]]:
    keys: list[str | None] = []

    async def ping(request: web.Request) -> web.Response:
        keys.append(request.headers.get("X-API-Key"))
        return web.json_response({"responseType": "success", "data": {"status": "ok"}})

    app = web.Application()
    app.router.add_get(f"{PREFIX}/ping", ping)
    server = TestServer(app, host="127.0.0.1", scheme="https")
    await server.start_server(ssl=self_signed)
    yield str(server.make_url("")).rstrip("/"), keys
    await server.close()


def test_verify_ssl_defaults_to_true() -> None:
    assert inspect.signature(NinePicClient).parameters["verify_ssl"].default is True


async def test_default_client_refuses_an_untrusted_certificate(
    https_api: tuple[str, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    url, keys = https_api
    async with new_client(url, max_retries=3) as client:
        with anyio.fail_after(10), pytest.raises(APIConnectionError, match=r"(?i)certificate") as info:
            await client.ping(EVENT)
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)
    assert isinstance(info.value, TLSCertificateError) and info.value.host == "127.0.0.1"
    assert "the TLS certificate of 127.0.0.1 was refused (self-signed certificate)" in str(info.value)
    assert "ca_bundle" in str(info.value)
    assert clock.sleeps == []  # a certificate problem is not retried
    assert keys == []  # and the key never left: the handshake failed first
    assert KEY not in str(info.value)


async def test_the_owned_session_verifies(https_api: tuple[str, list[str | None]]) -> None:
    url, _ = https_api
    async with new_client(url) as client:
        connector = client._transport.session().connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector._ssl is True  # aiohttp's verifying default context, not ssl=False or a lax context


async def test_verify_ssl_false_is_the_explicit_way_in(https_api: tuple[str, list[str | None]]) -> None:
    url, keys = https_api
    async with new_client(url, verify_ssl=False) as client:
        with anyio.fail_after(10):
            assert (await client.ping(EVENT)).status == "ok"
    assert keys == [KEY]


async def test_a_callers_session_that_verifies_is_not_weakened(
    https_api: tuple[str, list[str | None]],
) -> None:
    url, keys = https_api
    async with (
        aiohttp.ClientSession() as session,
        new_client(url, session=session, max_retries=0) as client,
    ):
        with anyio.fail_after(10), pytest.raises(APIConnectionError, match=r"(?i)certificate"):
            await client.ping(EVENT)
    assert keys == []


@pytest.mark.parametrize(
    ("base_url", "warned"),
    [
        ("http://api.example.test", True),
        ("http://10.0.0.5:8080", True),
        ("https://api.example.test", False),
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
    ],
)
def test_plain_http_to_another_host_warns_without_the_key(
    base_url: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="ninepic_async"):
        new_client(base_url)
    messages = [r.getMessage() for r in caplog.records if "unencrypted" in r.getMessage()]
    assert bool(messages) is warned
    assert all(KEY not in m for m in messages)


@pytest.fixture
async def https_store(self_signed: ssl.SSLContext) -> AsyncIterator[str]:
    """An HTTPS object store serving one photo at ``/p.jpg``; yields its origin."""

    async def photo(request: web.Request) -> web.Response:
        return web.Response(body=PHOTO, content_type="image/jpeg", headers={"ETag": '"e1"'})

    app = web.Application()
    app.router.add_get("/p.jpg", photo)
    server = TestServer(app, host="127.0.0.1", scheme="https")
    await server.start_server(ssl=self_signed)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


PHOTO = b"\xff\xd8\xff" + b"x" * 2000


@pytest.mark.parametrize("as_context", [False, True], ids=["path", "sslcontext"])
async def test_a_ca_bundle_makes_a_private_ca_trusted(
    https_api: tuple[str, list[str | None]], cert_files: tuple[Path, Path], as_context: bool
) -> None:
    url, keys = https_api
    bundle: str | ssl.SSLContext = str(cert_files[0])
    if as_context:
        bundle = ssl.create_default_context(cafile=str(cert_files[0]))
    async with new_client(url, ca_bundle=bundle) as client:
        with anyio.fail_after(10):
            assert (await client.ping(EVENT)).status == "ok"
    assert keys == [KEY]


async def test_the_storage_session_uses_the_ca_bundle_too(
    https_store: str, cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    options = DownloadOptions(network=NetworkOptions(ca_bundle=cert_files[0]))
    with anyio.fail_after(20):
        report = await download_url_list(
            [UrlJob(f"{https_store}/p.jpg", "p.jpg", "p")], tmp_path, options=options
        )
    assert report.complete
    assert (tmp_path / "p.jpg").read_bytes() == PHOTO


async def test_a_refused_storage_certificate_fails_the_file_naming_host_and_option(
    https_store: str, tmp_path: Path
) -> None:
    with anyio.fail_after(20):
        report = await download_url_list([UrlJob(f"{https_store}/p.jpg", "p.jpg", "p")], tmp_path)
    (failure,) = report.failures
    assert failure.error is not None
    assert (
        "TLS certificate of the storage host 127.0.0.1 was refused (self-signed certificate)" in failure.error
    )
    assert "--ca-bundle" in failure.error and "\n" not in failure.error
    assert not (tmp_path / "p.jpg").exists()


async def test_verify_ssl_false_covers_storage_and_warns_each_time(
    https_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="ninepic_async"):
        for run in range(2):
            options = DownloadOptions(network=NetworkOptions(verify_ssl=False))
            with anyio.fail_after(20):
                report = await download_url_list(
                    [UrlJob(f"{https_store}/p.jpg", "p.jpg", "p")], tmp_path / str(run), options=options
                )
            assert report.complete
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 2


def test_a_client_without_verification_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="ninepic_async"):
        new_client("https://api.example.test", verify_ssl=False)
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "no such file"), (b"not a certificate", "no usable PEM certificate"), ("dir", "is a directory")],
)
def test_an_unusable_ca_bundle_is_named(tmp_path: Path, content: bytes | str | None, problem: str) -> None:
    path = tmp_path / "corp-ca.pem"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=rf"ca_bundle '.*corp-ca.pem'.*{problem}"):
        new_client("https://api.example.test", ca_bundle=path)


async def test_the_cli_names_the_host_and_ca_bundle_then_trusts_it(
    https_api: tuple[str, list[str | None]], cert_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = https_api
    argv = ["ping", "--org", str(ORG), "--event", str(EVENT), "--base-url", url, "--api-key", KEY]
    code, _, err = await run_cli(capsys, *argv)
    assert code == 4
    (line,) = err.strip().splitlines()
    assert line.startswith("error: the TLS certificate of 127.0.0.1 was refused (self-signed certificate)")
    assert "--ca-bundle FILE" in line
    code, _, err = await run_cli(capsys, *argv, "--ca-bundle", str(cert_files[0]))
    assert code == 0, err


async def test_https_through_a_connect_proxy_verifies_the_host_with_the_ca_bundle(
    https_api: tuple[str, list[str | None]],
    https_store: str,
    cert_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    url, keys = https_api
    async with tunnel_proxy() as proxy:
        async with new_client(url, proxy=proxy.url, ca_bundle=cert_files[0]) as client:
            with anyio.fail_after(10):
                assert (await client.ping(EVENT)).status == "ok"
        network = NetworkOptions(proxy=proxy.url, ca_bundle=cert_files[0])
        with anyio.fail_after(20):
            report = await download_url_list(
                [UrlJob(f"{https_store}/p.jpg", "p.jpg", "p")],
                tmp_path,
                options=DownloadOptions(network=network),
            )
    assert report.complete
    assert keys == [KEY]
    assert [s.method for s in proxy.seen] == ["CONNECT", "CONNECT"]
    assert {s.url for s in proxy.seen} == {url.replace("https", "http"), https_store.replace("https", "http")}


async def test_a_connect_proxy_wanting_credentials_is_a_proxy_error(
    https_api: tuple[str, list[str | None]], cert_files: tuple[Path, Path]
) -> None:
    url, keys = https_api
    async with (
        tunnel_proxy(credentials=("me", "pw")) as proxy,
        new_client(url, proxy=proxy.url, ca_bundle=cert_files[0], max_retries=3) as client,
    ):
        with anyio.fail_after(10), pytest.raises(ProxyError, match=r"wants credentials \(HTTP 407\)"):
            await client.ping(EVENT)
    assert keys == []
    assert len(proxy.seen) == 1  # not retried: the same credentials would be refused again


async def test_a_connect_proxy_refusing_storage_fails_the_file_once(
    https_store: str, cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    async with tunnel_proxy(credentials=("me", "pw")) as proxy:
        network = NetworkOptions(proxy=proxy.url, ca_bundle=cert_files[0])
        with anyio.fail_after(20):
            report = await download_url_list(
                [UrlJob(f"{https_store}/p.jpg", "p.jpg", "p")],
                tmp_path,
                options=DownloadOptions(network=network),
            )
    (failure,) = report.failures
    assert failure.error is not None
    assert "the proxy refused to connect to the storage host 127.0.0.1 (HTTP 407" in failure.error
    assert len(proxy.seen) == 1
