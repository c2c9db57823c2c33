"""Every default of the package in one place.

Values marked *inferred* are details the vendor's reference does not document; the
client picks them here, the simulator accepts the same, and users can override them
through the named parameter that each docstring points at.
"""

from __future__ import annotations

from typing import Final

# --- where the API lives ------------------------------------------------------------
DEFAULT_BASE_URL: Final = "https://api.9pic.ai"
API_PREFIX: Final = "/api/v1/ext"
API_KEY_HEADER: Final = "X-API-Key"
REQUEST_ID_HEADERS: Final = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-Requestid")
ENV_API_KEY: Final = "NINEPIC_API_KEY"
ENV_BASE_URL: Final = "NINEPIC_BASE_URL"
USER_AGENT: Final = "ninepic-async"

# --- page sizes: (default, maximum) as documented ------------------------------------
EVENTS_PAGE_SIZE: Final = (10, 100)
"""(default, maximum) items per page of each listing, as the reference documents them."""
IMAGES_PAGE_SIZE: Final = (32, 100)
BIBS_PAGE_SIZE: Final = (32, 100)
ORIGINALS_PAGE_SIZE: Final = (30, 60)
# inferred: the reference gives no limits for Face Search and timeline images.
FACES_PAGE_SIZE: Final = (32, 100)
TIMELINE_PAGE_SIZE: Final = (32, 100)

# --- inferred request shapes ----------------------------------------------------------
FACE_UPLOAD_FIELD: Final = "file"
"""Multipart field carrying the selfie (inferred)."""
FACE_REQUEST_ID_FIELD: Final = "request_id"
"""Multipart form field carrying an optional request_id (inferred)."""
TIMELINE_FROM_PARAM: Final = "from"
TIMELINE_TO_PARAM: Final = "to"
"""Query names of the [from, to) window in Unix seconds (inferred)."""
VIDEO_UPLOAD_FIELD: Final = "file"
VIDEO_REQUEST_ID_FIELD: Final = "request_id"
VIDEO_SUCCESS_STATUSES: Final = frozenset({"completed", "complete", "done", "succeeded", "success", "ready"})
VIDEO_FAILURE_STATUSES: Final = frozenset({"failed", "error", "cancelled", "canceled", "expired"})
"""Terminal statuses of a video clipping job (inferred; compared case-insensitively)."""
VIDEO_POLL_INTERVAL_S: Final = 2.0
"""Seconds between two status polls of a video clipping job."""
VIDEO_POLL_TIMEOUT_S: Final = 600.0
"""Seconds to wait for a video clipping job to reach a terminal status."""

# --- API timeouts and retries -------------------------------------------------------
DEFAULT_TIMEOUT_S: Final = 30.0
"""Total time for one API request attempt, in seconds."""
DEFAULT_CONNECT_TIMEOUT_S: Final = 10.0
"""Seconds to establish one API connection (capped by the request timeout)."""
API_CONNECTION_LIMIT: Final = 100
"""Connections the client's own session keeps open to the API at most (aiohttp's default);
calls beyond that queue for a free one, which is not a failure and costs no retry."""
DEFAULT_MAX_RETRIES: Final = 5
"""Retries of an API request after a 5xx, a connection error or a timeout."""
DEFAULT_MAX_RATE_LIMIT_RETRIES: Final = 20
"""Retries of an API request answered 429, counted apart from :data:`DEFAULT_MAX_RETRIES`.

Throttling is expected under load (the reference: "safe to retry with exponential backoff"),
so its budget is larger: at a 50% 429 rate a call gives up with odds 2**-21, where 5 retries
would abort one call in 64 and so most long downloads. Each wait is Retry-After (capped at
RETRY_AFTER_MAX_S) or the jittered backoff (at most RETRY_MAX_DELAY_S)."""
RETRY_INITIAL_DELAY_S: Final = 0.5
"""Backoff ceiling of the first retry, in seconds; it doubles per retry (full jitter below it)."""
RETRY_MAX_DELAY_S: Final = 8.0
"""The largest backoff ceiling, in seconds."""
RETRY_AFTER_MAX_S: Final = 60.0
"""The longest Retry-After we honour; longer values are capped to this."""
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
"""API responses larger than this are refused rather than buffered."""
MAX_PAGES: Final = 100_000
"""Stop walking a listing after this many pages (guards against hasNextPage that never ends)."""

# --- downloads ----------------------------------------------------------------------
DEFAULT_CONCURRENCY: Final = 16
DOWNLOAD_CHUNK_SIZE: Final = 256 * 1024
"""Bytes collected per write to disk; on the socket path (:mod:`.download.socket_get`) also the
size of each of a connection's two receive buffers. A batch written soon after it arrived is
cheap to copy into the page cache; a 1 MiB batch is read back from memory gone cold: over
HTTPS, 256 KiB cost 20-25% less CPU than 1 MiB on 4 MiB and 256 MiB photos (interleaved runs,
benchmarks/results/https-profile.md). Through aiohttp, on a quiet box, 1 MiB had been 4-15%
faster in wall time; on the socket path and on a busy box, 256 KiB wins."""
DOWNLOAD_SOCK_READ_TIMEOUT_S: Final = 60.0
"""Idle timeout of a storage download: no byte for this long aborts the attempt."""
DOWNLOAD_CONNECT_TIMEOUT_S: Final = 30.0
DOWNLOAD_MAX_RETRIES: Final = 5
URL_REFRESH_MARGIN_S: Final = 60.0
"""Refresh a presigned URL that expires within this many seconds (capped at a quarter of its lifetime)."""
URL_REFRESH_BATCH: Final = 60
"""Image ids per refresh call (the original-photos maximum page size)."""
URL_REFRESH_LINGER_S: Final = 0.05
"""How long a refresh waits for other ids to join its batch."""
MANIFEST_NAME: Final = "manifest.jsonl"
PART_SUFFIX: Final = ".part"
MAX_FILENAME_BYTES: Final = 200

# --- command line -------------------------------------------------------------------
ENV_ORG_ID: Final = "NINEPIC_ORG_ID"
ENV_EVENT_ID: Final = "NINEPIC_EVENT_ID"
CLI_PLAIN_PROGRESS_INTERVAL_S: Final = 5.0
"""Without a terminal, `ninepic download` prints one progress line at most this often."""
CLI_INTERRUPT_GRACE_S: Final = 1.5
"""After Ctrl-C, cleanup (cancel workers, close sessions) gets this long before a hard exit."""
CLI_MAX_CONCURRENCY: Final = 512
"""The largest --concurrency the command line accepts."""
DEMO_PHOTO_COUNT: Final = 120
"""Photos in the synthetic event of `ninepic demo`."""
DEMO_PHOTO_SIZE: Final = (50_000, 400_000)
"""Bytes per synthetic photo of `ninepic demo`: an inclusive (min, max) range."""

# --- API client details (appended by the client part) ---------------------------------
MAX_REDIRECTS: Final = 5
"""Same-origin redirects the API client follows; cross-origin redirects are refused (key safety)."""
SELFIE_FILENAME: Final = "selfie.jpg"
"""Filename sent with a selfie given as bytes or a file object without a name (inferred)."""
SELFIE_CONTENT_TYPE: Final = "image/jpeg"
"""Content type of an uploaded selfie whose type cannot be guessed from its name (inferred)."""
ERROR_EXCERPT_CHARS: Final = 200
"""Characters of an unreadable response body quoted in error messages."""

# --- downloads (added by the downloader) ---------------------------------------------
DOWNLOAD_QUEUE_SIZE: Final = 60
"""Look-ahead of the download pool: resolved URLs waiting for a worker (about one API page)."""
DOWNLOAD_READ_BUFFER_BYTES: Final = 256 * 1024
"""aiohttp read buffer of the storage session (bytes buffered per connection before pausing)."""
DOWNLOAD_PROACTIVE_REFRESHES: Final = 2
"""Refreshes before starting a file whose URL is about to expire, at most, per file."""
CLI_RATE_WINDOW_S: Final = 5.0
"""Seconds of history behind the transfer rate and ETA of the download progress bar."""
DOWNLOAD_MAX_ATTEMPTS: Final = 20
"""Attempts per file at most, counting those that made progress (resumed bodies); failed attempts
without progress are capped by DOWNLOAD_MAX_RETRIES."""
LOCK_NAME: Final = ".ninepic.lock"
"""Lock file a download run holds (fcntl.flock) in its destination, so two runs never share one."""

DOWNLOAD_SLOW_LOOP_WRITE_S: Final = 0.02
"""A write made on the event loop's thread that takes longer than this (a disk throttling dirty
pages, a stalled network file system) sends the run's writes to threads for a while (see
:class:`~.download.lanes.LoopWrites`)."""
DOWNLOAD_LOOP_WRITE_PAUSE_S: Final = (1.0, 60.0)
"""How long writes stay on threads after a slow one: the first pause, doubled after each slow
write that follows one, up to the second."""

DOWNLOAD_WRITE_THREADS: Final = 8
"""Threads one download run may use for the plain writes of large bodies (fewer with a lower
concurrency). Creating and renaming files (and their manifest lines) run on ONE other thread per
destination: threads creating and renaming files in one directory only contend for its lock in
the kernel (measured: a fifth of the CPU with 8)."""
DOWNLOAD_SHARED_WRITE_THREADS: Final = 16
"""Write threads of the whole process at most, however many runs share them."""
DOWNLOAD_FILE_THREADS: Final = 4
"""Create/rename threads of the whole process at most: concurrent runs beyond this share them."""
DOWNLOAD_LOOP_SLICE_S: Final = 0.002
"""A download's longest stretch of work on the event loop before it lets other tasks run."""
DOWNLOAD_URL_BATCHES_AHEAD: Final = 2
"""original-photos batch requests in flight ahead of the downloads (whole event / id lists)."""
DOWNLOAD_LOW_SPEED_LIMIT_BPS: Final = 1024
"""A storage body slower than this (bytes per second) for DOWNLOAD_LOW_SPEED_TIME_S is abandoned
and resumed (curl's --low-speed-limit); 0 turns the check off."""
DOWNLOAD_LOW_SPEED_TIME_S: Final = 60.0
"""The window over which DOWNLOAD_LOW_SPEED_LIMIT_BPS is measured (curl's --low-speed-time)."""
DOWNLOAD_FDS_PER_WORKER: Final = 2
"""Open files one download worker may hold at once (its socket and its ``.part`` file)."""
DOWNLOAD_RESERVED_FDS: Final = 64
"""Open files kept free of the workers (manifest, lock, API session, the host application)."""
LISTING_OVERRUN_IDS: Final = 10_000
"""A listing that yields this many more distinct ids than it announced is stopped: an endless
listing must not grow memory and the manifest without bound."""
DOWNLOAD_MAX_KEPT_FAILURES: Final = 10_000
"""Failed files a DownloadReport lists one by one; past that they are only counted."""
DOWNLOAD_FULL_DISK_BYTES: Final = 16 * 1024 * 1024
"""Less free space than this, and too little for the next photo, is a full disk: the run stops.
With more, a photo larger than the free space fails alone (before its first byte)."""
DOWNLOAD_SYNC_INTERVAL_S: Final = 5.0
"""How often a run syncs the file system and writes a ``synced`` manifest line: files recorded in
the last this-many seconds before a power cut are re-hashed by the next run before it trusts them."""
BUCKET_SINGLE_PUT_MAX_BYTES: Final = 16 * 1024 * 1024
"""A photo up to this size (its Content-Length) is gathered in memory and sent to a bucket in ONE
PUT; larger ones (and bodies of unknown length) stream as a multipart upload. Measured with
benchmarks/bucket_put.py (local S3 server): a single PUT was faster at every size up to 16 MiB
(0.16 s against 0.33 s at 16 MiB; multipart costs two more requests), so the limit is set by
memory: it stays within what one multipart upload holds anyway (see BUCKET_PART_CONCURRENCY)."""
BUCKET_PART_BYTES: Final = 8 * 1024 * 1024
"""Part size of a multipart upload (S3 wants at least 5 MiB for every part but the last)."""
BUCKET_PART_CONCURRENCY: Final = 2
"""Parts of one multipart upload in flight at once. With the part being filled, one upload holds
at most (BUCKET_PART_CONCURRENCY + 1) x BUCKET_PART_BYTES = 24 MiB."""
BUCKET_MANIFEST_FLUSH_S: Final = 2.0
"""How often a run writes the manifest lines it gathered as a new segment object in the bucket."""
BUCKET_MANIFEST_FLUSH_LINES: Final = 1000
"""...or as soon as this many lines wait (a killed writer loses at most these unflushed lines:
their photos are uploaded again, under the same keys, by the next run)."""
BUCKET_META_DIR: Final = ".ninepic"
"""The folder under a bucket destination's prefix that holds its manifests and name claims."""

DEFAULT_CHECK_CONCURRENCY: Final = 4
"""Files hashed at once by ``check_destination`` (and ``ninepic check``) by default."""
