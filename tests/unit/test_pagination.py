"""AsyncPage: one page on await, lazy item/page iteration, and every stop rule."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
from helpers.api import BASE, EVENT, EVENT_BASE, ORG, image_page, ok, sent
from helpers.clients import new_client

from ninepic_async.models import ImagePage, Pagination
from ninepic_async.pagination import AsyncPage


class Server:
    """A fake listing: ``pages[n-1]`` is page n; records every page number fetched."""

    def __init__(self, pages: list[ImagePage]) -> None:
        self.pages = pages
        self.fetched: list[int] = []

    async def fetch(self, number: int) -> ImagePage:
        self.fetched.append(number)
        return self.pages[min(number, len(self.pages)) - 1]

    def listing(self, **kwargs: Any) -> AsyncPage[str, ImagePage]:
        return AsyncPage(self.fetch, lambda p: [i.image_id for i in p.images], **kwargs)


def page(number: int, total_pages: int, ids: list[str], *, has_next: bool | None = None) -> ImagePage:
    body = image_page(number, total_pages, ids)["data"]
    if has_next is not None:
        body["pagination"]["hasNextPage"] = has_next
    return msgspec.convert(body, ImagePage)


def three_pages() -> Server:
    return Server([page(1, 3, ["a", "b"]), page(2, 3, ["c", "d"]), page(3, 3, ["e"])])


async def test_await_fetches_exactly_one_page() -> None:
    server = three_pages()
    result = await server.listing(page=2)
    assert [i.image_id for i in result.images] == ["c", "d"]
    assert server.fetched == [2]


async def test_async_for_yields_every_item_from_the_start_page() -> None:
    server = three_pages()
    assert [item async for item in server.listing()] == ["a", "b", "c", "d", "e"]
    assert server.fetched == [1, 2, 3]
    server.fetched.clear()
    assert [item async for item in server.listing(page=2)] == ["c", "d", "e"]
    assert server.fetched == [2, 3]


async def test_next_page_is_fetched_only_when_needed() -> None:
    server = three_pages()
    items = server.listing().__aiter__()
    assert await items.__anext__() == "a"
    assert server.fetched == [1]
    assert await items.__anext__() == "b"
    assert server.fetched == [1]  # page 1 still has been enough
    assert await items.__anext__() == "c"
    assert server.fetched == [1, 2]
    await items.aclose()  # type: ignore[attr-defined]


async def test_breaking_early_fetches_no_more() -> None:
    server = three_pages()
    async for item in server.listing():
        if item == "b":
            break
    assert server.fetched == [1]


async def test_pages_yields_each_page_lazily() -> None:
    server = three_pages()
    pages = server.listing().pages()
    first = await pages.__anext__()
    assert first.pagination is not None and first.pagination.current_page == 1
    assert server.fetched == [1]
    rest = [p async for p in pages]
    assert [p.pagination.current_page for p in rest if p.pagination] == [2, 3]


async def test_empty_page_stops_a_has_next_page_that_never_ends() -> None:
    server = Server([page(1, 9, ["a"], has_next=True), page(2, 9, [], has_next=True), page(3, 9, ["x"])])
    assert [item async for item in server.listing()] == ["a"]
    assert server.fetched == [1, 2]
    assert len([p async for p in server.listing().pages()]) == 1  # the empty guard page is not yielded


async def test_no_page_result_is_yielded_once_and_not_an_error() -> None:
    empty = msgspec.convert(
        {"images": [], "pagination": {"total": 0, "currentPage": 0, "totalPages": 0, "hasNextPage": False}},
        ImagePage,
    )
    server = Server([empty])
    assert [item async for item in server.listing()] == []
    pages = [p async for p in server.listing().pages()]
    assert len(pages) == 1 and pages[0].pagination == Pagination(page_size=None)
    assert server.fetched == [1, 1]


async def test_missing_pagination_means_a_single_page() -> None:
    server = Server([msgspec.convert({"images": [{"image_id": "z"}]}, ImagePage)])
    assert [item async for item in server.listing()] == ["z"]
    assert server.fetched == [1]


async def test_walk_is_bounded_by_max_pages(caplog: pytest.LogCaptureFixture) -> None:
    forever = Server([page(1, 1, ["same"], has_next=True)])

    async def fetch(number: int) -> ImagePage:
        forever.fetched.append(number)
        return page(number, number + 1, [f"i{number}"], has_next=True)

    listing: AsyncPage[str, ImagePage] = AsyncPage(
        fetch, lambda p: [i.image_id for i in p.images], max_pages=5
    )
    with caplog.at_level(logging.WARNING, logger="ninepic_async"):
        items = [item async for item in listing]
    assert items == ["i1", "i2", "i3", "i4", "i5"]
    assert forever.fetched == [1, 2, 3, 4, 5]
    assert "max_pages" in caplog.text


async def test_server_that_does_not_advance_is_stopped() -> None:
    stuck = Server([page(1, 5, ["a"], has_next=True)])  # every request answers page 1
    assert [item async for item in stuck.listing()] == ["a"]
    assert stuck.fetched == [1, 2]


# --- through the client, counting HTTP requests ------------------------------------------------
async def test_client_listing_requests_pages_lazily(mocked: Any) -> None:
    for n, ids in ((1, ["a", "b"]), (2, ["c", "d"]), (3, ["e"])):
        mocked.get(f"{EVENT_BASE}/images?page={n}&page_size=2", payload=image_page(n, 3, ids))
    async with new_client() as client:
        seen = []
        async for item in client.all_photos(EVENT, page_size=2):
            seen.append(item.image_id)
            requested = sum(len(v) for v in mocked.requests.values())
            assert requested == (len(seen) + 1) // 2  # one request per two items, never ahead
        assert seen == ["a", "b", "c", "d", "e"]
    assert len(mocked.requests) == 3


async def test_client_listing_stops_on_an_empty_page(mocked: Any) -> None:
    always_next = {"total": 99, "currentPage": 1, "totalPages": 99, "hasNextPage": True}
    mocked.get(
        f"{EVENT_BASE}/bibs/12?page=1", payload=ok({"images": [{"image_id": "a"}], "pagination": always_next})
    )
    mocked.get(f"{EVENT_BASE}/bibs/12?page=2", payload=ok({"images": [], "pagination": always_next}))
    async with new_client() as client:
        assert [i.image_id async for i in client.bib_search(EVENT, "12")] == ["a"]
    assert len(sent(mocked, "GET", f"{EVENT_BASE}/bibs/12?page=2")) == 1
    assert len(mocked.requests) == 2


async def test_client_event_listing_pages(mocked: Any) -> None:
    def events(n: int) -> dict[str, Any]:
        return ok(
            {
                "events": [{"event_id": n}],
                "pagination": {"currentPage": n, "totalPages": 2, "hasNextPage": n < 2},
            }
        )

    mocked.get(f"{BASE}/api/v1/ext/{ORG}/events?page=1", payload=events(1))
    mocked.get(f"{BASE}/api/v1/ext/{ORG}/events?page=2", payload=events(2))
    async with new_client() as client:
        assert [e.event_id async for e in client.list_events()] == [1, 2]
