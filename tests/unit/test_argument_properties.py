"""Property tests of the client-side checks: page, page_size, event_id, bib/request_id, time windows.

For any value, a method either refuses it with RequestValidationError naming the field (and
sends nothing) or sends exactly it. Nothing else escapes: no TypeError, no UnicodeEncodeError,
and no path segment that HTTP stacks would resolve into another endpoint. Complements
tests/test_models.py, which property-tests ``validate_original_photos_request``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import msgspec
from helpers.api import EVENT, ORG
from helpers.clients import new_client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from yarl import URL

from ninepic_async import RequestValidationError
from ninepic_async._constants import (
    BIBS_PAGE_SIZE,
    EVENTS_PAGE_SIZE,
    FACES_PAGE_SIZE,
    IMAGES_PAGE_SIZE,
    ORIGINALS_PAGE_SIZE,
    TIMELINE_FROM_PARAM,
    TIMELINE_PAGE_SIZE,
    TIMELINE_TO_PARAM,
)
from ninepic_async.client import NinePicClient

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.binary(max_size=2),
    st.lists(st.integers(), max_size=2),
    st.just(object()),
)
# Every code point, lone surrogates included; separators and dot segments made likely.
any_text = st.one_of(
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=12),
    st.sampled_from(
        [".", "..", " .. ", "/", "../x", "a/b", "%2e%2e", "?q=1", "#f", "\x00", "\ud800", "\u3000"]
    ),
    st.lists(st.sampled_from([".", "/", "%", "a", " ", "?"]), max_size=6).map("".join),
)


class Sent:
    """Stands in for the transport: records each call instead of sending it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, URL, dict[str, Any], Any]] = []
        self.filenames: list[str] = []

    async def call(self, method: str, url: URL, tp: Any, *, params: Any = None, json: Any = None,
                   form: Any = None, options: Any = None) -> Any:  # fmt: skip
        return await self.request(method, url, params=params, json=json, form=form)

    async def request(self, method: str, url: URL, *, params: Any = None, json: Any = None,
                      form: Any = None, options: Any = None) -> Any:  # fmt: skip
        body = None if json is None else msgspec.json.decode(msgspec.json.encode(json))  # as sent
        if form is not None:  # build the multipart body as aiohttp would (headers encoded here)
            payload = form()()
            self.filenames += [part.headers.get("Content-Disposition", "") for part, *_ in payload._parts]
        self.calls.append((method, url, dict(params or {}), body))
        return None


def recording_client() -> tuple[NinePicClient, Sent]:
    client = new_client()
    sent = Sent()
    client._transport.call = sent.call  # type: ignore[method-assign]
    client._transport.request = sent.request  # type: ignore[method-assign]
    client._transport.decode_any = lambda response: {}  # type: ignore[method-assign]
    return client, sent


async def outcome(run: Callable[[], Any]) -> RequestValidationError | None:
    """Run a client call (sync listing or coroutine); the validation error it raised, if any."""
    try:
        result = run()
        if hasattr(result, "__await__"):
            await result
    except RequestValidationError as exc:
        return exc
    return None


def is_int_at_least(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def text_ok(value: object) -> bool:
    """A non-blank string that can be sent (UTF-8 encodable: no lone surrogates)."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def segment_ok(value: object) -> bool:
    """``text_ok`` and not a dot segment, which HTTP stacks resolve away."""
    return text_ok(value) and isinstance(value, str) and value.strip() not in (".", "..")


# (name, call with page and page_size, the page size limits)
PAGED: list[tuple[str, Callable[[NinePicClient, Any, Any], Any], tuple[int, int]]] = [
    ("list_events", lambda c, p, s: c.list_events(page=p, page_size=s), EVENTS_PAGE_SIZE),
    ("all_photos", lambda c, p, s: c.all_photos(EVENT, page=p, page_size=s), IMAGES_PAGE_SIZE),
    ("bib_search", lambda c, p, s: c.bib_search(EVENT, "12", page=p, page_size=s), BIBS_PAGE_SIZE),
    ("face_search_results", lambda c, p, s: c.face_search_results(EVENT, "r", page=p, page_size=s),
     FACES_PAGE_SIZE),
    ("timeline_images", lambda c, p, s: c.timeline_images(EVENT, start_s=0, end_s=9, page=p, page_size=s),
     TIMELINE_PAGE_SIZE),
    ("original_photos", lambda c, p, s: c.original_photos(EVENT, "bib", "12", page=p, page_size=s),
     ORIGINALS_PAGE_SIZE),
]  # fmt: skip
paged = st.sampled_from(PAGED)

EVENT_CALLS: list[tuple[str, Callable[[NinePicClient, Any], Any]]] = [
    ("ping", lambda c, e: c.ping(e)),
    ("event_details", lambda c, e: c.event_details(e)),
    ("timeline_days", lambda c, e: c.timeline_days(e)),
    ("all_photos", lambda c, e: c.all_photos(e)),
    ("bib_search", lambda c, e: c.bib_search(e, "12")),
    ("face_search_results", lambda c, e: c.face_search_results(e, "r")),
    ("timeline_images", lambda c, e: c.timeline_images(e, start_s=0, end_s=1)),
    ("video_clipping_status", lambda c, e: c.video_clipping_status(e, "r")),
    ("original_photos", lambda c, e: c.original_photos(e, "image_id", "a")),
]


@SETTINGS
@given(call=st.sampled_from(EVENT_CALLS), event_id=st.one_of(anything, st.integers(min_value=0)))
async def test_event_id_is_a_non_negative_int(call: Any, event_id: object) -> None:
    client, sent = recording_client()
    _, run = call
    error = await outcome(lambda: _awaited(run(client, event_id)))
    if is_int_at_least(event_id, 0):
        assert error is None
        ((_, url, _, _),) = sent.calls
        assert f"/event/{event_id}/" in str(url)
    else:
        assert error is not None and error.field == "event_id"
        assert sent.calls == []


@SETTINGS
@given(call=paged, page=st.one_of(anything, st.integers(min_value=1)))
async def test_page_is_an_int_from_one(call: Any, page: object) -> None:
    client, sent = recording_client()
    _, run, _ = call
    error = await outcome(lambda: _awaited(run(client, page, None)))
    if is_int_at_least(page, 1):
        assert error is None
        ((_, _, params, _),) = sent.calls
        assert params["page"] == page and "page_size" not in params
    else:
        assert error is not None and error.field == "page"
        assert sent.calls == []


@SETTINGS
@given(call=paged, page_size=st.one_of(anything, st.integers(min_value=-1, max_value=130)))
async def test_page_size_is_none_or_within_the_endpoint_limit(call: Any, page_size: object) -> None:
    client, sent = recording_client()
    _, run, (_, maximum) = call
    error = await outcome(lambda: _awaited(run(client, 1, page_size)))
    valid = page_size is None or (is_int_at_least(page_size, 1) and page_size <= maximum)
    if valid:
        assert error is None
        ((_, _, params, _),) = sent.calls
        assert params.get("page_size") == page_size
    else:
        assert error is not None and error.field == "page_size"
        assert sent.calls == []


# (name, call with the text, how many raw path segments the URL has)
SEGMENT_CALLS: list[tuple[str, str, Callable[[NinePicClient, Any], Any]]] = [
    ("bib_search", "bib", lambda c, t: c.bib_search(EVENT, t)),
    ("face_search_results", "request_id", lambda c, t: c.face_search_results(EVENT, t)),
    ("video_clipping_status", "request_id", lambda c, t: c.video_clipping_status(EVENT, t)),
]


@SETTINGS
@given(call=st.sampled_from(SEGMENT_CALLS), text=st.one_of(any_text, anything))
@example(call=SEGMENT_CALLS[0], text="..")
@example(call=SEGMENT_CALLS[1], text=" . ")
@example(call=SEGMENT_CALLS[2], text="..")
@example(call=SEGMENT_CALLS[0], text="../../details")
async def test_path_segments_round_trip_and_never_escape(call: Any, text: object) -> None:
    client, sent = recording_client()
    _, field, run = call
    error = await outcome(lambda: _awaited(run(client, text)))
    if segment_ok(text):
        assert error is None
        ((_, url, _, _),) = sent.calls
        raw = url.raw_path.split("/")
        assert raw[:6] == ["", "api", "v1", "ext", str(ORG), "event"] and len(raw) == 9
        assert not any(part in (".", "..") for part in raw)  # nothing for a server to resolve away
        assert isinstance(text, str) and unquote(raw[-1]) == text.strip()
    else:
        assert error is not None and error.field == field
        assert sent.calls == []


@SETTINGS
@given(start_s=st.one_of(anything, st.integers(min_value=0, max_value=10)),
       end_s=st.one_of(anything, st.integers(min_value=0, max_value=10)))  # fmt: skip
async def test_timeline_window_is_two_ordered_non_negative_ints(start_s: object, end_s: object) -> None:
    client, sent = recording_client()
    error = await outcome(lambda: _awaited(client.timeline_images(EVENT, start_s=start_s, end_s=end_s)))  # type: ignore[arg-type]
    valid = is_int_at_least(start_s, 0) and is_int_at_least(end_s, 0) and end_s > start_s  # type: ignore[operator]
    if valid:
        assert error is None
        ((_, _, params, _),) = sent.calls
        assert (params[TIMELINE_FROM_PARAM], params[TIMELINE_TO_PARAM]) == (start_s, end_s)
    else:
        assert error is not None and error.field in ("start_s", "end_s")
        assert sent.calls == []


@SETTINGS
@given(method=st.sampled_from(["bib", "selfie", "image_id"]), identifier=st.one_of(any_text, anything))
async def test_original_photos_identifier_is_sent_as_given_or_refused(
    method: str, identifier: object
) -> None:
    client, sent = recording_client()
    error = await outcome(lambda: client.original_photos(EVENT, method, identifier))  # type: ignore[arg-type]
    if text_ok(identifier):
        assert error is None
        ((verb, _, _, body),) = sent.calls
        assert verb == "POST"
        assert body == {"method": method, "identifier": identifier}
    else:
        assert error is not None and error.field == "identifier"
        assert sent.calls == []


@SETTINGS
@given(ids=st.lists(st.one_of(any_text, st.text(min_size=1, max_size=8)), min_size=1, max_size=5).map(tuple))
async def test_image_ids_as_any_sequence_of_text(ids: tuple[str, ...]) -> None:
    client, sent = recording_client()
    error = await outcome(lambda: client.original_photos(EVENT, "image_ids", ids))
    if all(text_ok(i) for i in ids):
        assert error is None
        ((_, _, _, body),) = sent.calls
        assert body == {"method": "image_ids", "identifier": list(ids)}
    else:
        assert error is not None and error.field.startswith("identifier")
        assert sent.calls == []


async def _awaited(value: Any) -> Any:
    """Await a coroutine or an AsyncPage (one page); either way the request is made."""
    return await value


async def test_a_selfie_whose_file_name_is_not_utf8(tmp_path: Any) -> None:
    """POSIX file names are bytes; one that is not UTF-8 still uploads (its name sanitised)."""
    path = os.path.join(os.fsencode(tmp_path), b"selfie-\xff\xfe.jpg")
    with open(path, "wb") as handle:
        handle.write(b"\xff\xd8 jpeg bytes")
    client, sent = recording_client()
    await client.face_search(EVENT, os.fsdecode(path))
    with open(os.fsdecode(path), "rb") as handle:  # handle.name: str with surrogate escapes
        await client.start_video_clipping(EVENT, handle)
    assert len(sent.calls) == 2 and all(call[0] == "POST" for call in sent.calls)
    replaced = "selfie-%EF%BF%BD%EF%BF%BD.jpg"  # U+FFFD twice, percent-encoded by aiohttp
    assert len(sent.filenames) == 2 and all(f'filename="{replaced}"' in name for name in sent.filenames)
