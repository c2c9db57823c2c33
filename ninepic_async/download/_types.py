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

    def pages(self) -> AsyncIterator[ImagePage]:
        """Each page of photos in turn, fetched only when asked for: the whole-event id listing."""


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
    ) -> OriginalPhotos:
        """One page of presigned original URLs (``page_size`` photos at most): how stale URLs are renewed."""

    def iter_original_photos(
        self, event_id: int, method: str, identifier: str | Sequence[str], *, page_size: int = 60
    ) -> AsyncIterator[OriginalPhotos]:
        """Every page of :meth:`original_photos` (``page_size`` photos each), fetched lazily: the jobs."""

    def all_photos(self, event_id: int, *, page: int = 1, page_size: int | None = None) -> ImagePages:
        """The event's photos from page ``page`` on (``page_size`` photos each): ids for ``whole_event``."""
