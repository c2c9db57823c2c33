"""A listing that is awaitable (one page) and async-iterable (every item of every page, lazily).

```python
page = await client.all_photos(event_id)            # one ImagePage
async for image in client.all_photos(event_id): ...  # every ImageItem, page by page
async for page in client.all_photos(event_id).pages(): ...
```
The next page is requested only when the consumer asks for more. Walking stops when the
server says there is no next page, on an empty page (so a ``hasNextPage`` that is always
true cannot loop forever), when the server stops advancing, or after ``max_pages`` pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

from ._constants import MAX_PAGES
from ._logging import get_logger
from .models import Pagination

__all__ = ["AsyncPage"]

log = get_logger(__name__)

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")


def _pagination_of(page: Any) -> Pagination | None:
    info = getattr(page, "pagination", None)
    return info if isinstance(info, Pagination) else None


class AsyncPage(Generic[ItemT, PageT]):
    """One page on ``await``; every item on ``async for``; every page via :meth:`pages`.

    ``fetch(n)`` requests page ``n``; ``items(page)`` lists a page's items; ``is_empty(page)``
    (default: no items) decides when an empty page ends the walk.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[PageT]],
        items: Callable[[PageT], Sequence[ItemT]],
        *,
        page: int = 1,
        max_pages: int = MAX_PAGES,
        is_empty: Callable[[PageT], bool] | None = None,
    ) -> None:
        self._fetch = fetch
        self._items = items
        self._page = page
        self._max_pages = max_pages
        self._is_empty = is_empty or (lambda result: not items(result))

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

        The first page is yielded even when empty (it carries the totals); a later empty page,
        or a later page the server answers with an earlier page number, ends the walk unyielded.
        """
        number = self._page
        for fetched in range(self._max_pages):
            result = await self._fetch(number)
            info = _pagination_of(result)
            empty = self._is_empty(result)
            if fetched > 0 and (empty or (info is not None and 0 < info.current_page < number)):
                if not empty:
                    log.warning(
                        "asked for page %d but the server answered page %d; stopping here",
                        number,
                        info.current_page if info is not None else 0,
                    )
                return
            yield result
            if empty or info is None or not info.has_next_page:
                return
            number += 1
        log.warning("stopped after %d pages (max_pages); the listing may be incomplete", self._max_pages)
