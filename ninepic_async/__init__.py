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
from ._stats import ClientStats
from .instrumentation import ApiCallObserver, ApiRetryReason, FileObserver, Instrumentation
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
    from .download.stats import DownloadMonitor, DownloadStats

__version__ = "0.1.0"

_install_redaction()


def __getattr__(name: str) -> object:
    """``NinePicClient`` is imported on first use: it loads aiohttp, which `ninepic --version`,
    `--help` and the models alone do not need (the download stats types: the downloader's package)."""
    if name == "NinePicClient":
        from .client import NinePicClient

        return NinePicClient
    if name in ("DownloadMonitor", "DownloadStats"):  # also in ninepic_async.download
        from .download import stats

        return getattr(stats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIResponseDecodeError",
    "APIStatusError",
    "APITimeoutError",
    "ApiCallObserver",
    "ApiRetryReason",
    "AsyncPage",
    "AuthenticationError",
    "BadRequestError",
    "ClientStats",
    "ConfigurationError",
    "DestinationError",
    "DownloadError",
    "DownloadMonitor",
    "DownloadStats",
    "EventDetails",
    "EventList",
    "EventListItem",
    "FaceSearchResult",
    "FailedUrl",
    "FileObserver",
    "FileWriteError",
    "ImageItem",
    "ImagePage",
    "Instrumentation",
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
]
