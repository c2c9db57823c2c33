"""Listings that never end: ``async for`` and ``.pages()`` stop at a bound, never hang or buffer.

Every case goes through the client and counts HTTP requests, with ``anyio.fail_after`` as
the hang detector. Servers are aioresponses callbacks that build each page on demand.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from aioresponses import CallbackResult
from helpers.api import BASE, EVENT, EVENT_BASE, ORG, FakeClock, image, mock_api, ok
from helpers.clients import new_client

from ninepic_async import pagination as pagination_module
from ninepic_async.client import NinePicClient

LIMIT_S = 5.0
IMAGES = f"{EVENT_BASE}/images"
ORIGINALS = f"{EVENT_BASE}/original-photos"


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    FakeClock().install(monkeypatch)
    yield from mock_api(monkeypatch)


@pytest.fixture
async def client() -> AsyncIterator[NinePicClient]:
    async with new_client(max_retries=0) as c:
        yield c


def info(current: int, *, has_next: bool = True, total_pages: int = 3) -> dict[str, Any]:
    return {"total": 6, "currentPage": current, "totalPages": total_pages, "hasNextPage": has_next}


class Endless:
    """A listing server: ``make(page_number)`` builds each body; records the pages asked for.

    It yields to the event loop on every request (so ``fail_after`` can fire) and fails the
    test outright past ``MAX_ASKED`` pages, so a walk that does not stop fails fast.
    """

    MAX_ASKED = 200

    def __init__(self, make: Callable[[int], Any]) -> None:
        self.make = make
        self.asked: list[int] = []

    async def respond(self, url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0)
        number = int(kwargs["params"]["page"])
        self.asked.append(number)
        if len(self.asked) > self.MAX_ASKED:
            raise AssertionError(f"the client kept paging: {len(self.asked)} pages asked for")
        return CallbackResult(payload=self.make(number))


def serve(mocked: Any, url: str, server: Endless, *, method: str = "GET") -> None:
    pattern = re.compile(re.escape(url) + r"\?.*")
    if method == "GET":
        mocked.get(pattern, callback=server.respond, repeat=True)
    else:
        mocked.post(pattern, callback=server.respond, repeat=True)


async def _walk(listing: Any) -> list[str]:
    with anyio.fail_after(LIMIT_S):
        return [item.image_id async for item in listing]


async def test_same_page_repeated_with_its_own_number(mocked: Any, client: NinePicClient) -> None:
    """The server ignores ``page`` and always answers page 1, saying so."""
    server = Endless(lambda n: ok({"images": [image("a"), image("b")], "pagination": info(1)}))
    serve(mocked, IMAGES, server)
    assert await _walk(client.all_photos(EVENT)) == ["a", "b"]
    assert server.asked == [1, 2]


async def test_same_items_under_the_asked_page_number(
    mocked: Any, client: NinePicClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The server echoes the requested page number but serves the same items every time."""
    server = Endless(lambda n: ok({"images": [image("a"), image("b")], "pagination": info(n)}))
    serve(mocked, IMAGES, server)
    with caplog.at_level(logging.WARNING, logger="ninepic_async"):
        assert await _walk(client.all_photos(EVENT)) == ["a", "b"]
    assert server.asked == [1, 2]
    assert "repeats the items" in caplog.text


async def test_same_items_without_any_page_numbers(mocked: Any, client: NinePicClient) -> None:
    server = Endless(lambda n: ok({"images": [image("a")], "pagination": {"hasNextPage": True}}))
    serve(mocked, f"{EVENT_BASE}/bibs/12", server)
    assert await _walk(client.bib_search(EVENT, "12")) == ["a"]
    assert server.asked == [1, 2]


async def test_pages_cycling_between_two_sets_of_items(mocked: Any, client: NinePicClient) -> None:
    server = Endless(lambda n: ok({"images": [image(f"p{n % 2}")], "pagination": info(n)}))
    serve(mocked, IMAGES, server)
    assert await _walk(client.all_photos(EVENT)) == ["p1", "p0"]
    assert server.asked == [1, 2, 3]


async def test_has_next_page_forever_with_an_empty_page(mocked: Any, client: NinePicClient) -> None:
    server = Endless(lambda n: ok({"images": [image("a")] if n == 1 else [], "pagination": info(n)}))
    serve(mocked, IMAGES, server)
    assert await _walk(client.all_photos(EVENT)) == ["a"]
    assert server.asked == [1, 2]


async def test_a_listing_that_grows_forever_stops_at_max_pages(
    mocked: Any, client: NinePicClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fresh items on every page and totals that grow too: only the page bound can stop it."""
    monkeypatch.setattr("ninepic_async._constants.MAX_PAGES", 25)
    server = Endless(
        lambda n: ok(
            {
                "images": [image(f"{n}-{i}") for i in range(3)],
                "pagination": info(n, total_pages=n + 1),
            }
        )
    )
    serve(mocked, IMAGES, server)
    with caplog.at_level(logging.WARNING, logger="ninepic_async"):
        items = await _walk(client.all_photos(EVENT))
    assert len(items) == 75 and len(set(items)) == 75
    assert server.asked == list(range(1, 26))
    assert "max_pages" in caplog.text


async def test_growing_listing_is_streamed_not_buffered(
    mocked: Any, client: NinePicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaking out after a few items fetches no further page, however many the server offers."""
    server = Endless(lambda n: ok({"images": [image(f"{n}-{i}") for i in range(3)], "pagination": info(n)}))
    serve(mocked, IMAGES, server)
    seen = 0
    with anyio.fail_after(LIMIT_S):
        async for _ in client.all_photos(EVENT):
            seen += 1
            if seen == 7:
                break
    assert server.asked == [1, 2, 3]


async def test_timeline_and_face_listings_share_the_stop_rules(mocked: Any, client: NinePicClient) -> None:
    same = Endless(lambda n: ok({"images": [image("t")], "pagination": info(n)}))
    serve(mocked, f"{EVENT_BASE}/timeline/images", same)
    assert await _walk(client.timeline_images(EVENT, start_s=0, end_s=10)) == ["t"]
    faces = Endless(lambda n: ok({"request_id": "r", "images": [image("f")], "pagination": info(n)}))
    serve(mocked, f"{EVENT_BASE}/faces/r", faces)
    assert await _walk(client.face_search_results(EVENT, "r")) == ["f"]
    assert same.asked == [1, 2] and faces.asked == [1, 2]


async def test_event_listing_that_repeats(mocked: Any, client: NinePicClient) -> None:
    server = Endless(lambda n: ok({"events": [{"event_id": 1}], "pagination": info(n)}))
    serve(mocked, f"{BASE}/api/v1/ext/{ORG}/events", server)
    with anyio.fail_after(LIMIT_S):
        assert [e.event_id async for e in client.list_events()] == [1]
    assert server.asked == [1, 2]


def _originals(n: int, ids: list[str], *, signature: str) -> dict[str, Any]:
    return ok(
        {
            "presigned_urls": [
                {
                    "url": f"http://store.example/imgs/{i}.jpg?X-Amz-Signature={signature}{n}",
                    "filename": f"{i}.jpg",
                }
                for i in ids
            ],
            "failed_urls": [],
            "pagination": info(n),
        }
    )


async def test_original_photos_repeated_with_fresh_signatures(mocked: Any, client: NinePicClient) -> None:
    """Presigned URLs differ on every call; the repeat check compares what they point at."""
    server = Endless(lambda n: _originals(n, ["a", "b"], signature="sig"))
    serve(mocked, ORIGINALS, server, method="POST")
    with anyio.fail_after(LIMIT_S):
        pages = [p async for p in client.iter_original_photos(EVENT, "bib", "12")]
    assert len(pages) == 1 and server.asked == [1, 2]


async def test_original_photos_with_only_failures_forever(mocked: Any, client: NinePicClient) -> None:
    body = ok({"presigned_urls": [], "failed_urls": [{"image_id": "gone"}], "pagination": info(1)})
    server = Endless(lambda n: body)
    serve(mocked, ORIGINALS, server, method="POST")
    with anyio.fail_after(LIMIT_S):
        pages = [p async for p in client.iter_original_photos(EVENT, "bib", "12")]
    assert [f.image_id for p in pages for f in p.failed_urls] == ["gone"]
    assert server.asked == [1, 2]


async def test_distinct_pages_are_all_walked(mocked: Any, client: NinePicClient) -> None:
    """The repeat rule does not cut a healthy listing short (same first item, different pages)."""
    pages = {1: ["a", "b"], 2: ["a2", "b2"], 3: ["c"]}
    server = Endless(
        lambda n: ok({"images": [image(i) for i in pages[n]], "pagination": info(n, has_next=n < 3)})
    )
    serve(mocked, IMAGES, server)
    assert await _walk(client.all_photos(EVENT)) == ["a", "b", "a2", "b2", "c"]
    assert server.asked == [1, 2, 3]


def test_max_pages_default_is_read_when_a_listing_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ninepic_async._constants.MAX_PAGES", 7)

    async def fetch(number: int) -> Any:
        raise AssertionError("never fetched")

    assert "max_pages=7" in repr(pagination_module.AsyncPage(fetch, lambda p: []))
