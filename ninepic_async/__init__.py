"""ninepic_async: an asyncio client for the 9Pic external API with a streaming bulk downloader."""

import typing as _typing

from ._constants import DEFAULT_BASE_URL
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseDecodeError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DestinationError,
    DownloadError,
    FileWriteError,
    IntegrityError,
    InternalServerError,
    NinePicError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    ProxyError,
    RateLimitError,
    RequestValidationError,
    StorageStatusError,
    TLSCertificateError,
    UnprocessableEntityError,
    URLExpiredError,
)
from ._logging import install_redaction as _install_redaction
from ._network import NetworkOptions
from .models import (
    EventDetails,
    EventList,
    EventListItem,
    FaceSearchResult,
    FailedUrl,
    ImageItem,
    ImagePage,
    OriginalPhotos,
    Pagination,
    PingResult,
    PresignedUrl,
    TimelineDay,
    TimelineDays,
    VideoClip,
    VideoClippingJob,
)
from .pagination import AsyncPage

if _typing.TYPE_CHECKING:
    from .client import NinePicClient
    from .download.archive import archive_events, event_folder_name
    from .download.archive_report import ArchiveReport, EventArchiveReport

__version__ = "0.1.0"

_install_redaction()


_ARCHIVE_NAMES = frozenset({"ArchiveReport", "EventArchiveReport", "archive_events", "event_folder_name"})
"""Names of the archive (``ninepic archive``) exported here too, loaded on first use."""


def __getattr__(name: str) -> object:
    """``NinePicClient`` is imported on first use: it loads aiohttp, which `ninepic --version`,
    `--help` and the models alone do not need."""
    if name == "NinePicClient":
        from .client import NinePicClient

        return NinePicClient
    if name in _ARCHIVE_NAMES:
        from . import download

        return getattr(download, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIResponseDecodeError",
    "APIStatusError",
    "APITimeoutError",
    "ArchiveReport",
    "AsyncPage",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DestinationError",
    "DownloadError",
    "EventArchiveReport",
    "EventDetails",
    "EventList",
    "EventListItem",
    "FaceSearchResult",
    "FailedUrl",
    "FileWriteError",
    "ImageItem",
    "ImagePage",
    "IntegrityError",
    "InternalServerError",
    "NetworkOptions",
    "NinePicClient",
    "NinePicError",
    "NotFoundError",
    "OriginalPhotos",
    "Pagination",
    "PermissionDeniedError",
    "PingResult",
    "PollTimeoutError",
    "PresignedUrl",
    "ProxyError",
    "RateLimitError",
    "RequestValidationError",
    "StorageStatusError",
    "TLSCertificateError",
    "TimelineDay",
    "TimelineDays",
    "URLExpiredError",
    "UnprocessableEntityError",
    "VideoClip",
    "VideoClippingJob",
    "__version__",
    "archive_events",
    "event_folder_name",
]
