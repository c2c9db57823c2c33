"""The bulk downloader: original photos of a selection, streamed to disk, resumable.

```python
from ninepic_async.download import download_originals
report = await download_originals(client, event_id, "out/", bib="1234", concurrency=16)
```
Where to look: :mod:`.run` (one run and its pipeline), :mod:`.fetch` (one file: attempt,
receive, complete), :mod:`.integrity` (what "complete" means), :mod:`.policy` (a file's retry
budgets), :mod:`.options`, :mod:`.manifest` (the on-disk record), :mod:`.names` (file naming),
:mod:`.urls` (presigned URL expiry and refresh), :mod:`.sources` (selections into jobs).
"""

from .api import download_originals, download_url_list, iter_download_originals, plan_originals
from .check import CheckedFile, CheckReport, CheckStatus, check_destination
from .events import BytesReceived, DownloadEvent, EventCallback, FileFinished, FileStarted, PlannedEvent
from .manifest import MANIFEST_VERSION, ManifestEntry, read_manifest
from .options import DownloadOptions
from .policy import FilePolicy
from .report import DownloadReport, FileResult, FileStatus, PlannedFile
from .run import make_storage_session
from .sources import UrlJob

__all__ = [
    "MANIFEST_VERSION",
    "BytesReceived",
    "CheckReport",
    "CheckStatus",
    "CheckedFile",
    "DownloadEvent",
    "DownloadOptions",
    "DownloadReport",
    "EventCallback",
    "FileFinished",
    "FilePolicy",
    "FileResult",
    "FileStarted",
    "FileStatus",
    "ManifestEntry",
    "PlannedEvent",
    "PlannedFile",
    "UrlJob",
    "check_destination",
    "download_originals",
    "download_url_list",
    "iter_download_originals",
    "make_storage_session",
    "plan_originals",
    "read_manifest",
]
