"""msgspec Structs for every request and response body of the 9Pic API.

Response structs ignore unknown fields (the server may add some) and accept the
misspellings older deployments sent (``widht``, ``thumbanail_url``, ``orginal_url``).
Field names follow the wire format except where the wire uses camelCase.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from ._constants import ORIGINALS_PAGE_SIZE
from ._exceptions import RequestValidationError

__all__ = [
    "DownloadMethod",
    "EventDetails",
    "EventList",
    "EventListItem",
    "FaceSearchResult",
    "FailedUrl",
    "ImageItem",
    "ImagePage",
    "OriginalPhotos",
    "OriginalPhotosRequest",
    "Pagination",
    "PingResult",
    "PresignedUrl",
    "TimelineDay",
    "TimelineDays",
    "TimelineHour",
    "VideoClip",
    "VideoClippingJob",
    "validate_original_photos_request",
]

DownloadMethod = Literal["bib", "selfie", "image_id", "image_ids"]
DOWNLOAD_METHODS: tuple[str, ...] = ("bib", "selfie", "image_id", "image_ids")


class Pagination(msgspec.Struct, kw_only=True):
    """PaginationInfo: ``total`` items, 1-based ``current_page`` of ``total_pages``, ``page_size``
    items per page. ``current_page == 0`` with ``total_pages == 0`` means "no page"."""

    total: int = 0
    current_page: int = msgspec.field(name="currentPage", default=0)
    total_pages: int = msgspec.field(name="totalPages", default=0)
    has_next_page: bool = msgspec.field(name="hasNextPage", default=False)
    has_previous_page: bool = msgspec.field(name="hasPreviousPage", default=False)
    page_size: int | None = None


class PingResult(msgspec.Struct, kw_only=True):
    """``GET /{org}/event/{event}/ping``."""

    status: str
    org_id: int | None = None
    event_id: int | None = None


class EventListItem(msgspec.Struct, kw_only=True):
    """One event of ``GET /{org}/events``; ``event_date`` is ISO 8601."""

    event_id: int
    event_name: str | None = None
    event_slug: str | None = None
    event_date: str | None = None
    status: str | None = None
    cover_image: str | None = None


class EventList(msgspec.Struct, kw_only=True):
    """A page of ``GET /{org}/events``: the events and the page's PaginationInfo."""

    events: list[EventListItem] = msgspec.field(default_factory=list)
    pagination: Pagination | None = None


class EventDetails(msgspec.Struct, kw_only=True):
    """``GET .../details``; search flags are ``None`` when an older deployment omits them."""

    event_id: int
    event_name: str | None = None
    event_slug: str | None = None
    event_date: str | None = None
    status: str | None = None
    event_enabled: bool | None = None
    bib_search: bool | None = None
    selfie_search: bool | None = None
    name_search: bool | None = None
    video_search: bool | None = None
    video_selfie_search: bool | None = None
    timeline_search: bool | None = None


class ImageItem(msgspec.Struct, kw_only=True):
    """A photo of a gallery listing; sizes in pixels; ``original_url`` is usually null.

    Older deployments misspell three fields (``widht``, ``thumbanail_url``, ``orginal_url``):
    they are decoded into ``width``, ``thumbnail_url`` and ``original_url`` and are not part of
    the public surface (private attributes, always None once decoded, left out of the repr).
    """

    image_id: str
    img_url: str | None = None
    thumbnail_url: str | None = None
    original_url: str | None = None
    width: int | None = None
    height: int | None = None
    _widht: int | None = msgspec.field(name="widht", default=None)
    _thumbanail_url: str | None = msgspec.field(name="thumbanail_url", default=None)
    _orginal_url: str | None = msgspec.field(name="orginal_url", default=None)

    def __post_init__(self) -> None:
        if self.width is None and self._widht is not None:
            self.width = self._widht
        if self.thumbnail_url is None and self._thumbanail_url is not None:
            self.thumbnail_url = self._thumbanail_url
        if self.original_url is None and self._orginal_url is not None:
            self.original_url = self._orginal_url
        self._widht = None
        self._thumbanail_url = None
        self._orginal_url = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _IMAGE_ITEM_FIELDS)
        return f"ImageItem({shown})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in _IMAGE_ITEM_FIELDS]


_IMAGE_ITEM_FIELDS = ("image_id", "img_url", "thumbnail_url", "original_url", "width", "height")
"""ImageItem's public fields, in order (the legacy misspellings are not among them)."""


class ImagePage(msgspec.Struct, kw_only=True):
    """A page of images: All Photos, BIB Search and timeline images."""

    images: list[ImageItem] = msgspec.field(default_factory=list)
    pagination: Pagination | None = None


class FaceSearchResult(msgspec.Struct, kw_only=True):
    """A page of Face Search results; ``confidence_percentage`` is 0-100 or null."""

    request_id: str | None = None
    confidence_percentage: float | None = None
    images: list[ImageItem] = msgspec.field(default_factory=list)
    pagination: Pagination | None = None


class TimelineHour(msgspec.Struct, kw_only=True):
    """One hour bucket of a timeline day: ``hour`` 0-23 (UTC) and the ``count`` of photos in it."""

    hour: int
    count: int = 0


class TimelineDay(msgspec.Struct, kw_only=True):
    """One UTC day (``YYYY-MM-DD``) of the photo timeline with hourly buckets."""

    date: str
    total: int = 0
    hours: list[TimelineHour] = msgspec.field(default_factory=list)


class TimelineDays(msgspec.Struct, kw_only=True):
    """``GET .../timeline/days``: the days that have photos, ascending."""

    days: list[TimelineDay] = msgspec.field(default_factory=list)


class VideoClip(msgspec.Struct, kw_only=True):
    """A generated clip; shape inferred, so everything is optional. ``duration_s`` is in seconds
    (wire name ``duration``)."""

    url: str | None = None
    thumbnail_url: str | None = None
    duration_s: float | None = msgspec.field(name="duration", default=None)


class VideoClippingJob(msgspec.Struct, kw_only=True):
    """Video clipping start/status payload. The shape is undocumented: ``raw`` keeps ``data``."""

    request_id: str | None = None
    status: str | None = None
    clips: list[VideoClip] = msgspec.field(default_factory=list)
    raw: Any = None


class PresignedUrl(msgspec.Struct, kw_only=True):
    """A presigned storage URL (valid about an hour) and the server's suggested filename."""

    url: str
    filename: str | None = None


class FailedUrl(msgspec.Struct, kw_only=True):
    """An image whose URL could not be generated; ``path`` is the object path if known."""

    image_id: str
    error: str | None = None
    path: str | None = None


class OriginalPhotos(msgspec.Struct, kw_only=True):
    """A page of ``POST .../original-photos``."""

    presigned_urls: list[PresignedUrl] = msgspec.field(default_factory=list)
    failed_urls: list[FailedUrl] = msgspec.field(default_factory=list)
    total_images: int | None = None
    successful_count: int | None = None
    failed_count: int | None = None
    identifier: str | None = None
    pagination: Pagination | None = None


class OriginalPhotosRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The JSON body of ``POST .../original-photos``."""

    method: str
    identifier: Union[str, list[str]]  # noqa: UP007  (msgspec needs the runtime Union on 3.10)


def validate_original_photos_request(
    method: object, identifier: object, page: object = 1, page_size: object = None
) -> OriginalPhotosRequest:
    """Check an original-photos request exactly as the reference states, before sending it.

    Raises :class:`RequestValidationError` naming the offending field.
    """
    if not isinstance(method, str) or method not in DOWNLOAD_METHODS:
        raise RequestValidationError(
            "method", f"must be one of {', '.join(DOWNLOAD_METHODS)}; got {method!r}"
        )
    if method == "image_ids":
        if not isinstance(identifier, (list, tuple)):
            raise RequestValidationError(
                "identifier", "must be a non-empty list of image id strings for method 'image_ids'"
            )
        if not identifier:
            raise RequestValidationError("identifier", "must not be empty for method 'image_ids'")
        for index, item in enumerate(identifier):
            if not isinstance(item, str) or not item.strip():
                raise RequestValidationError(
                    f"identifier[{index}]", f"must be a non-empty string; got {item!r}"
                )
        ident: str | list[str] = list(identifier)
    else:
        if not isinstance(identifier, str):
            raise RequestValidationError(
                "identifier", f"must be a string for method {method!r}; got {type(identifier).__name__}"
            )
        if not identifier.strip():
            raise RequestValidationError("identifier", f"must not be empty for method {method!r}")
        ident = identifier
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise RequestValidationError("page", f"must be an integer >= 1; got {page!r}")
    if page_size is not None:
        maximum = ORIGINALS_PAGE_SIZE[1]
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= maximum:
            raise RequestValidationError(
                "page_size", f"must be an integer from 1 to {maximum}; got {page_size!r}"
            )
    return OriginalPhotosRequest(method=method, identifier=ident)
