"""The downloader's public functions: a selection (or a URL list) into a directory, resumable.

Each validates its arguments before any request (:class:`RequestValidationError` names the
field), builds ONE :class:`~.options.DownloadOptions` and runs a :class:`~.run.DownloadRun`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .._constants import (
    DEFAULT_CONCURRENCY,
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    DOWNLOAD_LOW_SPEED_TIME_S,
    DOWNLOAD_QUEUE_SIZE,
    PART_SUFFIX,
)
from .._exceptions import DestinationError, RequestValidationError
from ..instrumentation import Instrumentation
from ._types import DownloadClient
from .bucket import is_bucket_url, open_bucket
from .events import EventCallback
from .files import folders_are_real, part_size
from .integrity import DigestName
from .manifest import ManifestState
from .names import NameTemplate
from .options import DownloadOptions
from .report import DownloadReport, FileResult, PlannedFile
from .run import DownloadRun, ItemsFactory, Sink, make_dest
from .shard import Shard
from .sources import Job, Planner, Selection, Skip, UrlJob, aclose, iter_source, iter_url_jobs, make_selection
from .stats import DownloadMonitor
from .urls import UrlRefresher

if TYPE_CHECKING:
    import aiohttp

__all__ = ["download_originals", "download_url_list", "iter_download_originals", "plan_originals"]


def _check_event_id(event_id: object) -> None:
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 0:
        raise RequestValidationError("event_id", f"must be a non-negative integer; got {event_id!r}")


def _selection(
    event_id: object, bib: object, selfie: object, image_ids: object, whole_event: object
) -> Selection:
    """The one place a selection is validated (the CLI calls it too, through these functions)."""
    _check_event_id(event_id)
    return make_selection(bib=bib, selfie=selfie, image_ids=image_ids, whole_event=whole_event)


def _no_bucket(dest: object) -> None:
    if is_bucket_url(dest):
        raise RequestValidationError("dest", "a bucket URL is a destination of download_originals only")


def _template(text: str | None, event_id: int, selection: Selection) -> NameTemplate | None:
    """The run's name template, bound to ``event_id``; ``{bib}`` needs a BIB selection."""
    if text is None:
        return None
    template = NameTemplate.parse(text)
    if "bib" in template.fields and selection.kind != "bib":
        raise RequestValidationError("name_template", f"{text!r}: {{bib}} needs a BIB selection (bib=...)")
    return template.bind(event_id)


def _check_monitor(monitor: object) -> None:
    if monitor is None:
        return
    if not isinstance(monitor, DownloadMonitor):
        raise RequestValidationError("monitor", f"must be a DownloadMonitor; got {type(monitor).__name__}")
    monitor.check_unused()


def _instrumentation(client: object) -> Instrumentation | None:
    """The client's instrumentation (``NinePicClient.instrumentation``); None for other clients."""
    instrumentation: Instrumentation | None = getattr(client, "instrumentation", None)
    return instrumentation


def _selection_items(client: DownloadClient, event_id: int, selection: Selection) -> ItemsFactory:
    return lambda planner, on_total, listing: iter_source(
        client, event_id, selection, planner, on_total, listing
    )


def _planner_for(dest: Path, template: NameTemplate | None, shard: Shard | None) -> Planner:
    """In a thread: a planner over the manifests in ``dest`` (a large one takes a while to read)."""
    return Planner(dest, ManifestState.load_dest(dest), template, shard)


async def _run(
    dest: Path,
    options: DownloadOptions,
    items: ItemsFactory,
    *,
    refresher: UrlRefresher | None,
    storage_session: aiohttp.ClientSession | None,
    created_dest: bool,
    sink: Sink | None = None,
    template: NameTemplate | None = None,
    monitor: DownloadMonitor | None = None,
    instrumentation: Instrumentation | None = None,
) -> DownloadReport:
    async with DownloadRun(
        dest,
        options,
        refresher=refresher,
        storage_session=storage_session,
        sink=sink,
        created_dest=created_dest,
        template=template,
        monitor=monitor,
        instrumentation=instrumentation,
    ) as run:
        return await run.run(items)


async def download_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str],
    *,
    bib: str | Sequence[str] | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_event: EventCallback | None = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    low_speed_limit_bps: float = DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    low_speed_time_s: float = DOWNLOAD_LOW_SPEED_TIME_S,
    fsync: bool = False,
    digest: DigestName = "crc32c",
    shard: Shard | None = None,
    name_template: str | None = None,
    limit_rate_bps: float | None = None,
    options: DownloadOptions | None = None,
    storage_session: aiohttp.ClientSession | None = None,
    monitor: DownloadMonitor | None = None,
) -> DownloadReport:
    """Download the original photos of one selection into ``dest`` and return a report.

    Give exactly one of ``bib`` (a BIB, or a list of BIBs: a photo of several is fetched once),
    ``selfie`` (a Face Search request_id), ``image_ids`` or ``whole_event=True``. Reruns on the
    same ``dest`` skip completed files, resume ``.part`` files and retry failures (see
    :mod:`.manifest`). Per-file failures are recorded, not raised; :class:`DestinationError`
    and API errors of the listing itself (auth, 404, ...) stop the run. ``report.complete`` is
    True only when every announced photo is on disk. ``dest`` may be a bucket URL
    (``s3://bucket/prefix``, ``gs://``, ``az://``; extra ``ninepic-async[s3]``): each photo
    then streams into its object, see :mod:`.bucket`.
    The keyword options are those of :class:`DownloadOptions`; pass ``options=`` to give
    them as one object instead. Pass a :class:`DownloadMonitor` as ``monitor`` to read the run's
    :class:`DownloadStats` while it runs (``report.stats`` has them at the end). Bad arguments
    raise :class:`RequestValidationError` first. With ``shard=Shard(K, N)`` only the photos of
    shard K are downloaded, and N such runs (processes or machines) can share ``dest`` at once
    (see :mod:`.shard`).
    """
    options = options or DownloadOptions(
        concurrency=concurrency,
        verify=verify,
        chunk_size=chunk_size,
        low_speed_limit_bps=low_speed_limit_bps,
        low_speed_time_s=low_speed_time_s,
        fsync=fsync,
        digest=digest,
        on_event=on_event,
        shard=shard,
        name_template=name_template,
        limit_rate_bps=limit_rate_bps,
    )
    options = options.with_network_of(client)
    selection = _selection(event_id, bib, selfie, image_ids, whole_event)
    template = _template(options.name_template, event_id, selection)
    _check_monitor(monitor)
    if is_bucket_url(dest):
        assert isinstance(dest, str)
        from .bucket_run import run_into_bucket  # the uploader is loaded only for a bucket

        return await run_into_bucket(
            open_bucket(dest),
            options,
            _selection_items(client, event_id, selection),
            refresher=UrlRefresher(client, event_id),
            storage_session=storage_session,
            template=template,
        )
    dest_path, created = make_dest(dest)
    return await _run(
        dest_path,
        options,
        _selection_items(client, event_id, selection),
        refresher=UrlRefresher(client, event_id),
        storage_session=storage_session,
        created_dest=created,
        template=template,
        monitor=monitor,
        instrumentation=_instrumentation(client),
    )


async def iter_download_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str],
    *,
    bib: str | Sequence[str] | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_event: EventCallback | None = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    low_speed_limit_bps: float = DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    low_speed_time_s: float = DOWNLOAD_LOW_SPEED_TIME_S,
    fsync: bool = False,
    digest: DigestName = "crc32c",
    shard: Shard | None = None,
    name_template: str | None = None,
    limit_rate_bps: float | None = None,
    options: DownloadOptions | None = None,
    storage_session: aiohttp.ClientSession | None = None,
    monitor: DownloadMonitor | None = None,
) -> AsyncGenerator[FileResult, None]:
    """Like :func:`download_originals`, yielding each :class:`FileResult` as it finishes.

    The run goes on in a helper task; leaving the loop early (``break``) cancels it, leaving
    ``.part`` files for a later resume. Wrap in ``contextlib.aclosing`` to stop it at once.
    """
    options = options or DownloadOptions(
        concurrency=concurrency,
        verify=verify,
        chunk_size=chunk_size,
        low_speed_limit_bps=low_speed_limit_bps,
        low_speed_time_s=low_speed_time_s,
        fsync=fsync,
        digest=digest,
        on_event=on_event,
        shard=shard,
        name_template=name_template,
        limit_rate_bps=limit_rate_bps,
    )
    options = options.with_network_of(client)
    selection = _selection(event_id, bib, selfie, image_ids, whole_event)
    _no_bucket(dest)
    template = _template(options.name_template, event_id, selection)
    _check_monitor(monitor)
    dest_path, created = make_dest(dest)
    send, receive = anyio.create_memory_object_stream[FileResult](
        max(options.concurrency, DOWNLOAD_QUEUE_SIZE)
    )

    async def runner() -> None:
        async with send:
            await _run(
                dest_path,
                options,
                _selection_items(client, event_id, selection),
                refresher=UrlRefresher(client, event_id),
                storage_session=storage_session,
                created_dest=created,
                sink=send.send,
                template=template,
                monitor=monitor,
                instrumentation=_instrumentation(client),
            )

    task = asyncio.create_task(runner())
    try:
        async for result in receive:
            yield result
        await task
    finally:
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        receive.close()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio must not log it as unhandled


async def download_url_list(
    jobs: Iterable[UrlJob],
    dest: str | os.PathLike[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    on_event: EventCallback | None = None,
    verify: bool = False,
    low_speed_limit_bps: float = DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    low_speed_time_s: float = DOWNLOAD_LOW_SPEED_TIME_S,
    fsync: bool = False,
    digest: DigestName = "crc32c",
    shard: Shard | None = None,
    limit_rate_bps: float | None = None,
    options: DownloadOptions | None = None,
    storage_session: aiohttp.ClientSession | None = None,
    monitor: DownloadMonitor | None = None,
) -> DownloadReport:
    """Download pre-resolved URLs (no API calls, no URL refresh) into ``dest``; used by benchmarks.

    Files, ``.part`` handling, retries, resume and the manifest work as in
    :func:`download_originals`; an expired URL is recorded as failed.
    """
    options = options or DownloadOptions(
        concurrency=concurrency,
        verify=verify,
        chunk_size=chunk_size,
        low_speed_limit_bps=low_speed_limit_bps,
        low_speed_time_s=low_speed_time_s,
        fsync=fsync,
        digest=digest,
        on_event=on_event,
        shard=shard,
        limit_rate_bps=limit_rate_bps,
    )
    _check_monitor(monitor)
    dest_path, _created = make_dest(dest)
    return await _run(
        dest_path,
        options,
        lambda planner, on_total, listing: iter_url_jobs(jobs, planner),
        refresher=None,
        storage_session=storage_session,
        created_dest=False,
        monitor=monitor,
    )


async def plan_originals(
    client: DownloadClient,
    event_id: int,
    dest: str | os.PathLike[str] | None = None,
    *,
    bib: str | Sequence[str] | None = None,
    selfie: str | None = None,
    image_ids: Iterable[str] | None = None,
    whole_event: bool = False,
    shard: Shard | None = None,
    name_template: str | None = None,
) -> AsyncGenerator[PlannedFile, None]:
    """Dry run: what :func:`download_originals` would do for each photo, writing nothing.

    With ``dest``, its manifests (read only) mark completed photos ``skip`` and fix names;
    ``name_template`` names the others as :func:`download_originals` would; with ``shard``,
    only that shard's photos are planned.
    The API is still asked for URLs (that is how BIB and selfie selections are listed).
    """
    selection = _selection(event_id, bib, selfie, image_ids, whole_event)
    _no_bucket(dest)
    dest_path = Path(dest) if dest is not None else None
    if dest_path is not None and dest_path.exists() and not dest_path.is_dir():
        raise DestinationError(f"destination {str(dest_path)!r} exists and is not a directory")
    if shard is not None and not isinstance(shard, Shard):
        raise RequestValidationError("shard", f"must be a Shard; got {type(shard).__name__}")
    template = _template(name_template, event_id, selection)
    if dest_path is not None:
        planner = await anyio.to_thread.run_sync(_planner_for, dest_path, template, shard)
    else:
        planner = Planner(None, ManifestState(), template, shard)
    source = iter_source(client, event_id, selection, planner)
    try:
        async for item in source:
            if isinstance(item, Job):
                resume = 0
                if dest_path is not None and folders_are_real(dest_path, item.filename):
                    resume = part_size(dest_path / (item.filename + PART_SUFFIX))
                yield PlannedFile(item.image_id, item.filename, "download", resume_from_bytes=resume)
            elif isinstance(item, Skip):
                yield PlannedFile(item.image_id, item.filename, "skip")
            else:
                yield PlannedFile(item.image_id, item.filename, "failed", error=item.error, path=item.path)
    finally:
        await aclose(source)
