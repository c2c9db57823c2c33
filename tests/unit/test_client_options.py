"""Bad arguments are refused before anything is sent; configuration and lifecycle of the client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from helpers.api import BASE, EVENT, EVENT_BASE, KEY, ORG, ok, sent, sent_headers

from ninepic_async import ConfigurationError, RequestValidationError
from ninepic_async._constants import API_KEY_HEADER, DEFAULT_BASE_URL, ENV_API_KEY, ENV_BASE_URL
from ninepic_async.client import NinePicClient


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    monkeypatch.delenv(ENV_BASE_URL, raising=False)


def make() -> NinePicClient:
    return NinePicClient(KEY, org_id=ORG, base_url=BASE)


# --- configuration ---------------------------------------------------------------------------
def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_API_KEY, KEY)
    monkeypatch.setenv(ENV_BASE_URL, "http://127.0.0.1:8080/")
    client = NinePicClient(org_id=ORG)
    assert client.base_url == "http://127.0.0.1:8080"
    assert client.org_id == ORG


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NinePicClient(KEY, org_id=ORG).base_url == DEFAULT_BASE_URL


def test_explicit_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_BASE_URL, "http://elsewhere.example")
    assert NinePicClient(KEY, org_id=ORG, base_url=BASE).base_url == BASE


def test_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=ENV_API_KEY):
        NinePicClient(org_id=ORG)
    with pytest.raises(ConfigurationError):
        NinePicClient("   ", org_id=ORG)


def test_key_with_control_characters_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        NinePicClient("abcd\r\nX-Evil: 1", org_id=ORG)
    assert "X-Evil" not in str(info.value)


@pytest.mark.parametrize(
    "base_url", ["ftp://api.example", "api.example", "http://", "https://a.example/?q=1"]
)
def test_bad_base_url(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        NinePicClient(KEY, org_id=ORG, base_url=base_url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"org_id": "903"},
        {"org_id": -1},
        {"org_id": True},
        {"org_id": ORG, "timeout_s": 0},
        {"org_id": ORG, "max_retries": -1},
    ],
)
def test_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        NinePicClient(KEY, **kwargs)


def test_repr_shows_org_and_base_url_but_never_the_key() -> None:
    client = make()
    text = repr(client)
    assert str(ORG) in text and BASE in text
    assert KEY not in text
    assert KEY not in repr(client._transport)
    assert KEY not in repr(vars(client))
    client.max_retries = 2
    assert client.max_retries == 2
    with pytest.raises(ConfigurationError):
        client.max_retries = -3


# --- session lifecycle ---------------------------------------------------------------------
async def test_owned_session_is_created_in_the_loop_and_closed() -> None:
    client = make()
    assert client._transport._session is None  # nothing made outside a running loop
    async with client:
        session = client._transport._session
        assert session is not None and not session.closed
    assert session.closed


async def test_user_session_is_used_as_is_and_left_open(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}))
    async with aiohttp.ClientSession() as session:
        async with NinePicClient(KEY, org_id=ORG, base_url=BASE, session=session) as client:
            await client.ping(EVENT)
        assert not session.closed
        assert API_KEY_HEADER not in session.headers  # the key travels per request only
    (call,) = sent(mocked, "GET", f"{EVENT_BASE}/ping")
    assert (await sent_headers(call))[API_KEY_HEADER.lower()] == KEY


async def test_close_without_use_and_twice() -> None:
    client = make()
    await client.close()
    await client.close()


async def test_closed_client_refuses_requests_until_reentered(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}), repeat=True)
    client = make()
    async with client:
        await client.ping(EVENT)
    with pytest.raises(Exception, match="closed"):
        await client.ping(EVENT)
    async with client:
        await client.ping(EVENT)


async def test_verify_ssl_false_is_passed_per_request(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}))
    async with NinePicClient(KEY, org_id=ORG, base_url=BASE, verify_ssl=False) as client:
        await client.ping(EVENT)
    (call,) = sent(mocked, "GET", f"{EVENT_BASE}/ping")
    assert call.kwargs["ssl"] is False


async def test_tls_verification_is_on_by_default(mocked: Any) -> None:
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}))
    async with make() as client:
        await client.ping(EVENT)
        connector = client._transport.session().connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector._ssl is True
    (call,) = sent(mocked, "GET", f"{EVENT_BASE}/ping")
    assert "ssl" not in call.kwargs


# --- argument validation (nothing is sent) -------------------------------------------------------
# The client is Any in these lambdas: each call passes a wrong type on purpose.
BAD_CALLS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("ping event str", lambda c: c.ping("456"), "event_id"),
    ("ping event negative", lambda c: c.ping(-1), "event_id"),
    ("details event bool", lambda c: c.event_details(True), "event_id"),
    ("events page 0", lambda c: c.list_events(page=0), "page"),
    ("events page_size 101", lambda c: c.list_events(page_size=101), "page_size"),
    ("events page_size 0", lambda c: c.list_events(page_size=0), "page_size"),
    ("photos page float", lambda c: c.all_photos(EVENT, page=1.0), "page"),
    ("photos page_size 101", lambda c: c.all_photos(EVENT, page_size=101), "page_size"),
    ("photos event float", lambda c: c.all_photos(4.5), "event_id"),
    ("bib empty", lambda c: c.bib_search(EVENT, ""), "bib"),
    ("bib blank", lambda c: c.bib_search(EVENT, "   "), "bib"),
    ("bib not str", lambda c: c.bib_search(EVENT, 12), "bib"),
    ("bib page_size", lambda c: c.bib_search(EVENT, "12", page_size=500), "page_size"),
    ("faces rid empty", lambda c: c.face_search_results(EVENT, ""), "request_id"),
    ("faces page 0", lambda c: c.face_search_results(EVENT, "r", page=0), "page"),
    ("faces page_size", lambda c: c.face_search(EVENT, b"x", page_size=1000), "page_size"),
    ("timeline empty window", lambda c: c.timeline_images(EVENT, start_s=10, end_s=10), "end_s"),
    ("timeline start str", lambda c: c.timeline_images(EVENT, start_s="1", end_s=10), "start_s"),
    ("timeline page_size", lambda c: c.timeline_images(EVENT, start_s=1, end_s=2, page_size=0), "page_size"),
    ("timeline days event", lambda c: c.timeline_days(None), "event_id"),
    ("video status rid", lambda c: c.video_clipping_status(EVENT, ""), "request_id"),
    ("video wait interval", lambda c: c.wait_for_video_clips(EVENT, "r", interval_s=0), "interval_s"),
    ("video wait timeout", lambda c: c.wait_for_video_clips(EVENT, "r", timeout_s=-1), "timeout_s"),
    ("originals event", lambda c: c.original_photos("x", "bib", "12"), "event_id"),
]


@pytest.mark.parametrize(("name", "call", "field"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
async def test_bad_arguments_raise_before_sending(
    mocked: Any, name: str, call: Callable[[NinePicClient], Any], field: str
) -> None:
    async with make() as client:
        with pytest.raises(RequestValidationError) as info:
            result = call(client)
            if hasattr(result, "__await__"):
                await result
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
    assert mocked.requests == {}


def test_listing_validation_happens_at_call_time_not_at_await() -> None:
    client = make()
    with pytest.raises(RequestValidationError):
        client.all_photos(EVENT, page=0)  # no await, no loop needed


ORIGINALS_RULES: list[tuple[str, Any, Any, dict[str, Any], str]] = [
    ("unknown method", "name", "x", {}, "method"),
    ("method not str", 1, "x", {}, "method"),
    ("method wrong case", "BIB", "x", {}, "method"),
    ("bib with list", "bib", ["1"], {}, "identifier"),
    ("selfie with list", "selfie", ["r"], {}, "identifier"),
    ("image_id with list", "image_id", ["a"], {}, "identifier"),
    ("bib empty", "bib", "", {}, "identifier"),
    ("selfie blank", "selfie", "  ", {}, "identifier"),
    ("image_id None", "image_id", None, {}, "identifier"),
    ("image_ids with str", "image_ids", "a", {}, "identifier"),
    ("image_ids empty", "image_ids", [], {}, "identifier"),
    ("image_ids empty item", "image_ids", ["a", ""], {}, "identifier[1]"),
    ("image_ids non-str item", "image_ids", ["a", 3], {}, "identifier[1]"),
    ("page 0", "bib", "12", {"page": 0}, "page"),
    ("page bool", "bib", "12", {"page": True}, "page"),
    ("page_size 0", "bib", "12", {"page_size": 0}, "page_size"),
    ("page_size 61", "bib", "12", {"page_size": 61}, "page_size"),
    ("page_size str", "bib", "12", {"page_size": "30"}, "page_size"),
]


@pytest.mark.parametrize(
    ("name", "method", "identifier", "kwargs", "field"), ORIGINALS_RULES, ids=[r[0] for r in ORIGINALS_RULES]
)
async def test_original_photos_rules(
    mocked: Any, name: str, method: Any, identifier: Any, kwargs: dict[str, Any], field: str
) -> None:
    async with make() as client:
        with pytest.raises(RequestValidationError) as info:
            await client.original_photos(EVENT, method, identifier, **kwargs)
        assert info.value.field == field
        assert field in str(info.value)
        if "page" not in kwargs:  # the iterator checks the same rules when it is made
            with pytest.raises(RequestValidationError) as info:
                client.iter_original_photos(EVENT, method, identifier, **kwargs)
            assert info.value.field == field
    assert mocked.requests == {}


async def test_iter_original_photos_page_size_is_checked(mocked: Any) -> None:
    client = make()
    with pytest.raises(RequestValidationError) as info:
        client.iter_original_photos(EVENT, "bib", "12", page_size=61)
    assert info.value.field == "page_size"
    await client.close()


def test_timeout_is_the_short_name_of_timeout_s() -> None:
    from ninepic_async._constants import DEFAULT_TIMEOUT_S

    assert NinePicClient(KEY, org_id=ORG).timeout_s == DEFAULT_TIMEOUT_S
    assert NinePicClient(KEY, org_id=ORG, timeout=7).timeout_s == 7.0
    assert NinePicClient(KEY, org_id=ORG, timeout_s=8.5).timeout_s == 8.5
    assert NinePicClient(KEY, org_id=ORG, timeout=9, timeout_s=9).timeout_s == 9.0
    with pytest.raises(ConfigurationError, match="not both"):
        NinePicClient(KEY, org_id=ORG, timeout=1, timeout_s=2)
    with pytest.raises(ConfigurationError, match=r"^timeout must be a positive number"):
        NinePicClient(KEY, org_id=ORG, timeout=0)


def test_signature_matches_the_documented_one() -> None:
    import inspect

    params = inspect.signature(NinePicClient).parameters
    assert next(iter(params)) == "api_key" and params["api_key"].default is None
    for name in ("org_id", "base_url", "session", "timeout", "max_retries"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
