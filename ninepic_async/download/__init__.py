"""The bulk downloader: original photos of a selection, streamed to disk, resumable.

```python
from ninepic_async.download import download_originals
report = await download_originals(client, event_id, "out/", bib="1234", concurrency=16)
report = await archive_events(client, "archive/", all_events=True)   # every event, own folder each
```
Where to look: :mod:`.run` (one run and its pipeline), :mod:`.fetch` (one file: attempt,
receive, complete), :mod:`.storage_get` (what a storage GET's failures mean),
:mod:`.socket_get` / :mod:`.aiohttp_get` (the two ways a GET goes out),
:mod:`.archive` (whole events, each into ``<event_id>-<slug>/``),
:mod:`.integrity` (what "complete" means), :mod:`.policy` (a file's retry
budgets), :mod:`.options`, :mod:`.manifest` (the on-disk record), :mod:`.names` (file naming),
:mod:`.urls` (presigned URL expiry and refresh), :mod:`.sources` (selections into jobs),
:mod:`.shard` (``--shard K/N``), :mod:`.bucket` / :mod:`.bucket_run` / :mod:`.upload` (a bucket
as the destination), :mod:`.cluster` (the archive on Dask).
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .aiohttp_get import make_storage_session
    from .api import download_originals, download_url_list, iter_download_originals, plan_originals
    from .archive import archive_events, event_folder_name
    from .archive_report import ArchiveReport, ArchiveStatus, EventArchiveReport
    from .check import CheckedFile, CheckReport, CheckStatus, check_destination
    from .cluster import ApiAccess, archive_on_dask
    from .events import (
        ArchiveEvent,
        ArchiveEventCallback,
        ArchivePlanned,
        BytesReceived,
        DownloadEvent,
        EventArchiveFinished,
        EventArchiveStarted,
        EventCallback,
        FileFinished,
        FileRetrying,
        FileStarted,
        PlannedEvent,
        UrlsRefreshed,
    )
    from .manifest import MANIFEST_VERSION, ManifestEntry, read_manifest
    from .options import DownloadOptions
    from .policy import FilePolicy
    from .report import DownloadReport, FileResult, FileStatus, PlannedFile
    from .shard import Shard
    from .sources import UrlJob
    from .stats import DownloadMonitor, DownloadStats, FileRetryReason

_ON_FIRST_USE = {
    "ArchiveReport": ".archive_report",
    "ArchiveStatus": ".archive_report",
    "EventArchiveReport": ".archive_report",
    "ArchiveEvent": ".events",
    "ArchiveEventCallback": ".events",
    "ArchivePlanned": ".events",
    "BytesReceived": ".events",
    "DownloadEvent": ".events",
    "EventArchiveFinished": ".events",
    "EventArchiveStarted": ".events",
    "EventCallback": ".events",
    "FileFinished": ".events",
    "FileRetrying": ".events",
    "FileStarted": ".events",
    "PlannedEvent": ".events",
    "UrlsRefreshed": ".events",
    "MANIFEST_VERSION": ".manifest",
    "ManifestEntry": ".manifest",
    "read_manifest": ".manifest",
    "DownloadOptions": ".options",
    "FilePolicy": ".policy",
    "DownloadReport": ".report",
    "FileResult": ".report",
    "FileStatus": ".report",
    "PlannedFile": ".report",
    "Shard": ".shard",
    "DownloadMonitor": ".stats",
    "DownloadStats": ".stats",
    "FileRetryReason": ".stats",
    "archive_events": ".archive",
    "archive_on_dask": ".cluster",
    "ApiAccess": ".cluster",
    "event_folder_name": ".archive",
    "download_originals": ".api",
    "download_url_list": ".api",
    "iter_download_originals": ".api",
    "plan_originals": ".api",
    "CheckedFile": ".check",
    "CheckReport": ".check",
    "CheckStatus": ".check",
    "check_destination": ".check",
    "make_storage_session": ".aiohttp_get",
    "UrlJob": ".sources",
}
"""Every public name, by its module: imported when first used, so the CLI's start-up (and code
that only needs one module, such as the file-name rules) loads no more than it uses."""


def __getattr__(name: str) -> object:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_importlib.import_module(module, __name__), name)


__all__ = [
    "MANIFEST_VERSION",
    "ApiAccess",
    "ArchiveEvent",
    "ArchiveEventCallback",
    "ArchivePlanned",
    "ArchiveReport",
    "ArchiveStatus",
    "BytesReceived",
    "CheckReport",
    "CheckStatus",
    "CheckedFile",
    "DownloadEvent",
    "DownloadMonitor",
    "DownloadOptions",
    "DownloadReport",
    "DownloadStats",
    "EventArchiveFinished",
    "EventArchiveReport",
    "EventArchiveStarted",
    "EventCallback",
    "FileFinished",
    "FilePolicy",
    "FileResult",
    "FileRetryReason",
    "FileRetrying",
    "FileStarted",
    "FileStatus",
    "ManifestEntry",
    "PlannedEvent",
    "PlannedFile",
    "Shard",
    "UrlJob",
    "UrlsRefreshed",
    "archive_events",
    "archive_on_dask",
    "check_destination",
    "download_originals",
    "download_url_list",
    "event_folder_name",
    "iter_download_originals",
    "make_storage_session",
    "plan_originals",
    "read_manifest",
]
