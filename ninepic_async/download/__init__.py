"""The bulk downloader: original photos of a selection, streamed to disk, resumable.

```python
from ninepic_async.download import download_originals
report = await download_originals(client, event_id, "out/", bib="1234", concurrency=16)
```
See :mod:`.pool` for the pipeline, :mod:`.manifest` for the on-disk record, :mod:`.names`
for file naming and :mod:`.urls` for presigned URL expiry and refresh.
"""

from .events import BytesReceived, DownloadEvent, EventCallback, FileFinished, FileStarted, PlannedEvent
from .manifest import MANIFEST_VERSION, ManifestEntry, read_manifest
from .pool import (
    download_originals,
    download_url_list,
    iter_download_originals,
    make_storage_session,
    plan_originals,
)
from .report import DownloadReport, FileResult, FileStatus, PlannedFile
from .sources import UrlJob

__all__ = [
    "MANIFEST_VERSION",
    "BytesReceived",
    "DownloadEvent",
    "DownloadReport",
    "EventCallback",
    "FileFinished",
    "FileResult",
    "FileStarted",
    "FileStatus",
    "ManifestEntry",
    "PlannedEvent",
    "PlannedFile",
    "UrlJob",
    "download_originals",
    "download_url_list",
    "iter_download_originals",
    "make_storage_session",
    "plan_originals",
    "read_manifest",
]
