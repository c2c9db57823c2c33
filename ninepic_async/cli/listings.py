"""Showing a paged listing: one page with a "next: --page N" caption, or every page (--all-pages).

The listing commands (``events``, ``photos``, ``bib``, ``faces``, ``timeline images``) build an
async iterator of pages and hand it to :func:`show_pages` (or :func:`show_photos` for image
listings), which prints a table, tab-separated lines or JSON (Lines) through the
:class:`~ninepic_async.cli.output.Output`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ..models import ImageItem, Pagination
from .errors import EXIT_OK, CliError
from .runtime import Runtime

__all__ = ["anext_or_none", "page_size", "pages_from", "show_pages", "show_photos"]

T = TypeVar("T")

_IMAGE_COLUMNS = ("image_id", "width", "height", "img_url")


def page_size(rt: Runtime) -> int | None:
    """--page-size checked against the listing's maximum (CliError, exit 2); None: server default."""
    size: int | None = rt.args.page_size
    if size is None:
        return None
    limit = rt.args.page_limits[1]
    if not 1 <= size <= limit:
        raise CliError(f"--page-size must be from 1 to {limit}, got {size}")
    return size


def _caption(pagination: Pagination | None, noun: str) -> str | None:
    """``page 2 of 5, 130 photos in all; next: --page 3 (or --all-pages)``."""
    if pagination is None:
        return None
    if pagination.total_pages == 0:
        return f"no {noun}"
    if pagination.current_page > pagination.total_pages:
        return (
            f"page {pagination.current_page} is past the last page ({pagination.total_pages}); "
            f"{pagination.total} {noun} in all"
        )
    text = f"page {pagination.current_page} of {pagination.total_pages}, {pagination.total} {noun} in all"
    if pagination.has_next_page:
        text += f"; next: --page {pagination.current_page + 1} (or --all-pages)"
    return text


async def show_pages(
    rt: Runtime,
    pages: AsyncIterator[Any],
    *,
    items_of: Callable[[Any], Sequence[Any]],
    columns: Sequence[str],
    row: Callable[[Any], Sequence[object]],
    noun: str,
    title: str,
) -> int:
    """Print one page (``pages`` yields one) or, with --all-pages, every item of every page."""
    json_mode = bool(rt.opt("json"))
    if not rt.args.all_pages:
        page = await anext_or_none(pages)
        if page is None:
            return EXIT_OK
        if json_mode:
            rt.output.json(page)
        else:
            rt.output.table(
                columns,
                [row(i) for i in items_of(page)],
                title=title,
                caption=_caption(page.pagination, noun),
            )
        return EXIT_OK
    rows: list[Sequence[object]] = []
    count = 0
    async for page in pages:
        for item in items_of(page):
            count += 1
            if json_mode:
                rt.output.json(item)
            else:
                rows.append(row(item))
    if not json_mode:
        rt.output.table(columns, rows, title=title, caption=f"{count} {noun}")
    return EXIT_OK


def _image_row(item: ImageItem) -> tuple[object, ...]:
    return (item.image_id, item.width, item.height, item.img_url)


async def show_photos(rt: Runtime, pages: AsyncIterator[Any], *, title: str) -> int:
    """:func:`show_pages` for pages whose ``.images`` are ImageItems (photos, BIB, faces, timeline)."""
    return await show_pages(
        rt,
        pages,
        items_of=lambda p: p.images,
        columns=_IMAGE_COLUMNS,
        row=_image_row,
        noun="photos",
        title=title,
    )


async def anext_or_none(iterator: AsyncIterator[T]) -> T | None:
    """The next item of ``iterator``, or None when it is exhausted (and close it either way)."""
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


async def _one(awaitable: Awaitable[T]) -> AsyncIterator[T]:
    yield await awaitable


def pages_from(page_obj: Any, all_pages: bool) -> AsyncIterator[Any]:
    """``page_obj.pages()`` (an AsyncPage) for --all-pages, else an iterator over ``await page_obj``."""
    if all_pages:
        pages: AsyncIterator[Any] = page_obj.pages()
        return pages
    return _one(page_obj)
