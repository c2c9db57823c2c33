"""ninepic_async: an asyncio client for the 9Pic external API with a streaming bulk downloader."""

import importlib as _importlib
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

if _typing.TYPE_CHECKING:
    from ._network import NetworkOptions
    from ._stats import ClientStats
    from .client import NinePicClient
    from .download import (
        BytesReceived,
        CheckedFile,
        CheckReport,
        CheckStatus,
        DownloadEvent,
        DownloadMonitor,
        DownloadOptions,
        DownloadReport,
        DownloadStats,
        EventCallback,
        FileFinished,
        FilePolicy,
        FileResult,
        FileRetrying,
        FileStarted,
        FileStatus,
        ManifestEntry,
        PlannedEvent,
        PlannedFile,
        UrlJob,
        UrlsRefreshed,
        check_destination,
        download_originals,
        download_url_list,
        iter_download_originals,
        plan_originals,
        read_manifest,
    )
    from .download.archive import archive_events, event_folder_name
    from .download.archive_report import ArchiveReport, EventArchiveReport
    from .download.cluster import ApiAccess, archive_on_dask
    from .download.events import ArchivePlanned, EventArchiveFinished, EventArchiveStarted
    from .download.shard import Shard
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
    from .retry_notice import RetryNotice, retry_notice_of

__version__ = "0.1.0"

_install_redaction()

_FROM_DOWNLOAD = frozenset(
    {
        "BytesReceived",
        "CheckReport",
        "CheckStatus",
        "CheckedFile",
        "DownloadEvent",
        "DownloadMonitor",
        "DownloadOptions",
        "DownloadReport",
        "DownloadStats",
        "EventCallback",
        "FileFinished",
        "FilePolicy",
        "FileResult",
        "FileRetrying",
        "FileStarted",
        "FileStatus",
        "ManifestEntry",
        "PlannedEvent",
        "PlannedFile",
        "UrlJob",
        "UrlsRefreshed",
        "check_destination",
        "download_originals",
        "download_url_list",
        "iter_download_originals",
        "plan_originals",
        "read_manifest",
    }
)
"""The downloader's public names, also reachable from ``ninepic_async.download``."""


_ARCHIVE_NAMES = frozenset(
    {
        "ArchivePlanned",
        "ArchiveReport",
        "EventArchiveFinished",
        "EventArchiveReport",
        "EventArchiveStarted",
        "archive_events",
        "event_folder_name",
        "ApiAccess",
        "Shard",
        "archive_on_dask",
    }
)
"""Names of the archive (``ninepic archive``) exported here too, loaded on first use."""


_ON_FIRST_USE = {
    "NetworkOptions": "._network",
    "ClientStats": "._stats",
    "ApiCallObserver": ".instrumentation",
    "ApiRetryReason": ".instrumentation",
    "FileObserver": ".instrumentation",
    "Instrumentation": ".instrumentation",
    **dict.fromkeys(
        (
            "EventDetails",
            "EventList",
            "EventListItem",
            "FaceSearchResult",
            "FailedUrl",
            "ImageItem",
            "ImagePage",
            "OriginalPhotos",
            "Pagination",
            "PingResult",
            "PresignedUrl",
            "TimelineDay",
            "TimelineDays",
            "VideoClip",
            "VideoClippingJob",
        ),
        ".models",
    ),
    "AsyncPage": ".pagination",
    "RetryNotice": ".retry_notice",
    "retry_notice_of": ".retry_notice",
    "NinePicClient": ".client",
    **dict.fromkeys(_FROM_DOWNLOAD | _ARCHIVE_NAMES, ".download"),
}
"""Names imported on first use, by module: the models load msgspec, the client and downloader
aiohttp, ``NetworkOptions`` ssl; ``ninepic --version`` and ``--help`` need none of them."""


def __getattr__(name: str) -> object:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_importlib.import_module(module, __name__), name)


__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIResponseDecodeError",
    "APIStatusError",
    "APITimeoutError",
    "ApiAccess",
    "ApiCallObserver",
    "ApiRetryReason",
    "ArchivePlanned",
    "ArchiveReport",
    "AsyncPage",
    "AuthenticationError",
    "BadRequestError",
    "BytesReceived",
    "CheckReport",
    "CheckStatus",
    "CheckedFile",
    "ClientStats",
    "ConfigurationError",
    "DestinationError",
    "DownloadError",
    "DownloadEvent",
    "DownloadMonitor",
    "DownloadOptions",
    "DownloadReport",
    "DownloadStats",
    "EventArchiveFinished",
    "EventArchiveReport",
    "EventArchiveStarted",
    "EventCallback",
    "EventDetails",
    "EventList",
    "EventListItem",
    "FaceSearchResult",
    "FailedUrl",
    "FileFinished",
    "FileObserver",
    "FilePolicy",
    "FileResult",
    "FileRetrying",
    "FileStarted",
    "FileStatus",
    "FileWriteError",
    "ImageItem",
    "ImagePage",
    "Instrumentation",
    "IntegrityError",
    "InternalServerError",
    "ManifestEntry",
    "NetworkOptions",
    "NinePicClient",
    "NinePicError",
    "NotFoundError",
    "OriginalPhotos",
    "Pagination",
    "PermissionDeniedError",
    "PingResult",
    "PlannedEvent",
    "PlannedFile",
    "PollTimeoutError",
    "PresignedUrl",
    "ProxyError",
    "RateLimitError",
    "RequestValidationError",
    "RetryNotice",
    "Shard",
    "StorageStatusError",
    "TLSCertificateError",
    "TimelineDay",
    "TimelineDays",
    "URLExpiredError",
    "UnprocessableEntityError",
    "UrlJob",
    "UrlsRefreshed",
    "VideoClip",
    "VideoClippingJob",
    "__version__",
    "archive_events",
    "archive_on_dask",
    "check_destination",
    "download_originals",
    "download_url_list",
    "event_folder_name",
    "iter_download_originals",
    "plan_originals",
    "read_manifest",
    "retry_notice_of",
]
