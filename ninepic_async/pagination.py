"""A listing that is awaitable (one page) and async-iterable (every item of every page, lazily).

```python
page = await client.all_photos(event_id)            # one ImagePage
async for image in client.all_photos(event_id): ...  # every ImageItem, page by page
async for page in client.all_photos(event_id).pages(): ...
```
The next page is requested only when the consumer asks for more. Walking stops when the
server says there is no next page, on an empty page (so a ``hasNextPage`` that is always
true cannot loop forever), when the server stops advancing (it answers an earlier page
number, or a page whose items repeat a page already seen), or after ``max_pages`` pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

import msgspec

from . import _constants
from ._logging import get_logger
from .models import Pagination

__all__ = ["AsyncPage"]

log = get_logger(__name__)

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")


_FINGERPRINT_ENCODER = msgspec.json.Encoder(enc_hook=repr)  # odd items still fingerprint, never raise


def _pagination_of(page: Any) -> Pagination | None:
    info = getattr(page, "pagination", None)
    return info if isinstance(info, Pagination) else None


def _fingerprint(identity: Sequence[Any]) -> bytes:
    """A short digest of a page's item identities (pages are compared, never kept)."""
    return hashlib.blake2b(_FINGERPRINT_ENCODER.encode(list(identity)), digest_size=16).digest()


class AsyncPage(Generic[ItemT, PageT]):
    """One page on ``await``; every item on ``async for``; every page via :meth:`pages`.

    ``fetch(n)`` requests page ``n``; ``items(page)`` lists a page's items; ``is_empty(page)``
    (default: no items) decides when an empty page ends the walk; ``identity(page)`` (default:
    the items themselves; JSON-encodable) tells two pages apart, so a server that keeps
    answering the same items ends the walk. ``max_pages`` defaults to MAX_PAGES.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[PageT]],
        items: Callable[[PageT], Sequence[ItemT]],
        *,
        page: int = 1,
        max_pages: int | None = None,
        is_empty: Callable[[PageT], bool] | None = None,
        identity: Callable[[PageT], Sequence[Any]] | None = None,
    ) -> None:
        self._fetch = fetch
        self._items = items
        self._page = page
        self._max_pages = _constants.MAX_PAGES if max_pages is None else max_pages
        self._is_empty = is_empty or (lambda result: not items(result))
        self._identity: Callable[[PageT], Sequence[Any]] = identity or items

    @property
    def page(self) -> int:
        """The first page this listing starts at (1-based)."""
        return self._page

    def __repr__(self) -> str:
        return f"AsyncPage(page={self._page}, max_pages={self._max_pages})"

    def __await__(self) -> Generator[Any, None, PageT]:
        return self._fetch(self._page).__await__()

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._iter_items()

    async def _iter_items(self) -> AsyncIterator[ItemT]:
        async for result in self.pages():
            for item in self._items(result):
                yield item

    async def pages(self) -> AsyncIterator[PageT]:
        """Every page from the starting one on, each fetched only when the consumer asks for it.

        The first page is yielded even when empty (it carries the totals). A later page that is
        empty, that the server numbers below the one asked for, or whose items exactly repeat
        an earlier page's, ends the walk unyielded.
        """
        number = self._page
        seen: set[bytes] = set()
        for fetched in range(self._max_pages):
            result = await self._fetch(number)
            info = _pagination_of(result)
            empty = self._is_empty(result)
            if fetched > 0 and empty:
                return
            if fetched > 0 and info is not None and 0 < info.current_page < number:
                log.warning(
                    "asked for page %d but the server answered page %d; stopping here",
                    number,
                    info.current_page,
                )
                return
            if not empty:
                fingerprint = _fingerprint(self._identity(result))
                if fingerprint in seen:
                    log.warning(
                        "page %d repeats the items of an earlier page; the server is not advancing, "
                        "stopping here",
                        number,
                    )
                    return
                seen.add(fingerprint)
            yield result
            if empty or info is None or not info.has_next_page:
                return
            number += 1
        log.warning("stopped after %d pages (max_pages); the listing may be incomplete", self._max_pages)
