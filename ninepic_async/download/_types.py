"""The slice of :class:`~ninepic_async.client.NinePicClient` the downloader uses (a Protocol).

Typing against this keeps download/ free of an import cycle with client.py and lets tests
pass any object with these methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from ..models import ImagePage, OriginalPhotos

__all__ = ["DownloadClient", "ImagePages"]


class ImagePages(Protocol):
    """What ``client.all_photos(...)`` returns: we only walk its pages."""

    def pages(self) -> AsyncIterator[ImagePage]: ...


class DownloadClient(Protocol):
    """The API calls the downloader makes."""

    async def original_photos(
        self,
        event_id: int,
        method: str,
        identifier: str | Sequence[str],
        *,
        page: int = 1,
        page_size: int | None = None,
    ) -> OriginalPhotos: ...

    def iter_original_photos(
        self, event_id: int, method: str, identifier: str | Sequence[str], *, page_size: int = 60
    ) -> AsyncIterator[OriginalPhotos]: ...

    def all_photos(self, event_id: int, *, page: int = 1, page_size: int | None = None) -> ImagePages: ...
