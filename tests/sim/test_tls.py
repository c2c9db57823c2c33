"""TLS certificates are verified unless the caller says ``verify_ssl=False``, explicitly.

A local HTTPS server with a self-signed certificate (made by the ``openssl`` binary; skipped
without it) must be refused by a default client, once and without retries, and accepted
only with ``verify_ssl=False``.
"""

from __future__ import annotations

import inspect
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers.api import EVENT, KEY, ORG, FakeClock
from helpers.clients import new_client

from ninepic_async import APIConnectionError
from ninepic_async.client import NinePicClient

PREFIX = f"/api/v1/ext/{ORG}/event/{EVENT}"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl binary to make a certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
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
