"""Archive whole events: every photo of each event into ``<out>/<event_id>-<slug>/``, resumably.

:func:`archive_events` lists the organisation's events, keeps those asked for (ids, or all,
within ``since``/``until``) and runs the whole-event download of each into its own folder with
its own manifest, one event after another, so a rerun fetches only what is new or unfinished.
One event's failure (an API error for that event, a problem with its folder) is recorded in
its :class:`EventArchiveReport` and the next event goes on; a wrong API key stops the archive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol

import aiohttp

from .._constants import (
    DEFAULT_CONCURRENCY,
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    DOWNLOAD_LOW_SPEED_TIME_S,
    EVENTS_PAGE_SIZE,
)
from .._exceptions import AuthenticationError, NinePicError, RequestValidationError, redact
from .._network import NetworkOptions
from ..models import EventDetails, EventListItem
from ._types import DownloadClient
from .api import download_originals
from .archive_report import ArchiveReport, EventArchiveReport
from .bucket import is_bucket_url, open_bucket
from .events import ArchiveEventCallback, ArchivePlanned, EventArchiveFinished, EventArchiveStarted
from .integrity import DigestName
from .names import NameTemplate, sanitize_segment
from .options import DownloadOptions
from .report import DownloadReport
from .run import make_dest
from .shard import Shard

__all__ = [
    "ArchiveClient",
    "EventChoice",
    "archive_events",
    "check_event_template",
    "chosen_events",
    "event_folder_name",
    "parse_event_date",
]

logger = logging.getLogger(__name__)

_NOT_SLUG = re.compile(r"[^\w]+")


class ArchiveClient(DownloadClient, Protocol):
    """The API calls :func:`archive_events` makes: the downloader's, plus the events."""

    def list_events(self, *, page: int = 1, page_size: int | None = None) -> AsyncIterable[EventListItem]:
        """The organisation's events, fetched page by page as they are iterated."""

    async def event_details(self, event_id: int) -> EventDetails:
        """One event's metadata: for an asked-for id the listing did not show."""


# --- names and dates ---------------------------------------------------------------------------


def event_folder_name(event: EventListItem | EventDetails) -> str:
    """The folder of ``event`` inside an archive: ``<event_id>-<slug>`` (``<event_id>`` alone
    when the server gives no slug nor name).

    The slug is the server's ``event_slug`` (else ``event_name``) lower-cased, every run of
    characters other than letters and digits turned into one ``-``; the whole name then goes
    through the file-name rules of :mod:`.names`, so server text can never make a path.
    """
    raw = event.event_slug or event.event_name or ""
    slug = _NOT_SLUG.sub("-", raw.casefold()).strip("-_")
    fallback = str(event.event_id)
    return sanitize_segment(f"{fallback}-{slug}" if slug else fallback, fallback)


def parse_event_date(text: str | None) -> date | None:
    """The calendar day of a server ``event_date`` (ISO 8601 date or date-time: its date part,
    as the server wrote it, no time-zone conversion), or None."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _as_date(name: str, value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise RequestValidationError(name, f"must be a date like 2025-05-01; got {value!r}")


def _event_ids(events: object) -> tuple[int, ...]:
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        raise RequestValidationError("events", "must be a list of event ids")
    ids: list[int] = []
    for index, item in enumerate(events):
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise RequestValidationError(f"events[{index}]", f"must be a non-negative integer; got {item!r}")
        if item not in ids:
            ids.append(item)
    if not ids:
        raise RequestValidationError("events", "must not be empty")
    return tuple(ids)


# --- events and reports --------------------------------------------------------------------------


# --- the archive ---------------------------------------------------------------------------------


async def _listed_events(client: ArchiveClient) -> list[EventListItem]:
    seen: set[int] = set()
    listed: list[EventListItem] = []
    async for event in client.list_events(page_size=EVENTS_PAGE_SIZE[1]):
        if event.event_id not in seen:
            seen.add(event.event_id)
            listed.append(event)
    return listed


async def _chosen_events(
    client: ArchiveClient, ids: tuple[int, ...] | None
) -> list[EventListItem | EventDetails | EventArchiveReport]:
    """The events to archive, in order: the listing's, or each asked-for id (from the listing,
    else its details; an id whose details fail becomes a failed report)."""
    listed = await _listed_events(client)
    if ids is None:
        return list(listed)
    by_id = {e.event_id: e for e in listed}
    chosen: list[EventListItem | EventDetails | EventArchiveReport] = []
    for event_id in ids:
        known = by_id.get(event_id)
        if known is not None:
            chosen.append(known)
            continue
        try:
            chosen.append(await client.event_details(event_id))
        except AuthenticationError:
            raise
        except NinePicError as exc:
            chosen.append(_failed(EventArchiveReport(event_id, str(event_id)), exc))
    return chosen


@dataclass(frozen=True, slots=True)
class EventChoice:
    """Which events an archive takes: ``ids`` in that order (None: every listed event), those
    dated ``since``..``until`` (inclusive; either None: open)."""

    ids: tuple[int, ...] | None
    since: date | None
    until: date | None

    @classmethod
    def of(
        cls,
        events: Iterable[int] | None,
        all_events: bool,
        since: date | str | None,
        until: date | str | None,
    ) -> EventChoice:
        """The choice the archive functions' keywords make; :class:`RequestValidationError` for bad ones."""
        if (events is None) == (all_events is not True):
            raise RequestValidationError("events", "give exactly one of events=[ids] or all_events=True")
        ids = None if events is None else _event_ids(events)
        first, last = _as_date("since", since), _as_date("until", until)
        if first is not None and last is not None and first > last:
            raise RequestValidationError("until", f"must not be before since ({first}); got {last}")
        return cls(ids, first, last)

    async def events(self, client: ArchiveClient) -> list[EventListItem | EventDetails | EventArchiveReport]:
        """The chosen events, in order (an asked-for id whose details fail: its failed report)."""
        listed = await _chosen_events(client, self.ids)
        return [
            e for e in listed if isinstance(e, EventArchiveReport) or _in_window(e, self.since, self.until)
        ]


def check_event_template(template: str | None) -> None:
    """:class:`RequestValidationError` for a name template an archive cannot fill (``{bib}``)."""
    if template is not None and "bib" in NameTemplate.parse(template).fields:
        raise RequestValidationError(
            "name_template", "{bib} needs a BIB selection; an archive takes whole events"
        )


def _in_window(event: EventListItem | EventDetails, since: date | None, until: date | None) -> bool:
    if since is None and until is None:
        return True
    day = parse_event_date(event.event_date)
    if day is None:
        logger.info(
            "event %s has no usable date (%r): left out by since/until", event.event_id, event.event_date
        )
        return False
    return (since is None or day >= since) and (until is None or day <= until)


def _failed(report: EventArchiveReport, exc: NinePicError) -> EventArchiveReport:
    report.status = "failed"
    report.error = redact(str(exc))
    report.exception = exc
    return report


def _counted(report: EventArchiveReport, download: DownloadReport) -> EventArchiveReport:
    report.download = download
    report.downloaded, report.skipped = download.downloaded, download.skipped
    report.failed, report.missing, report.bytes = download.failed, download.missing, download.bytes
    report.status = "ok" if download.complete else "partial"
    return report


async def chosen_events(
    client: ArchiveClient,
    *,
    events: Iterable[int] | None = None,
    all_events: bool = False,
    since: date | str | None = None,
    until: date | str | None = None,
) -> list[EventListItem | EventDetails | EventArchiveReport]:
    """The events :func:`archive_events` would archive with these arguments, in its order,
    without writing anything (for a dry run); an asked-for id whose details fail is a failed
    :class:`EventArchiveReport`."""
    return await EventChoice.of(events, all_events, since, until).events(client)


async def archive_events(
    client: ArchiveClient,
    out: str | os.PathLike[str],
    *,
    events: Iterable[int] | None = None,
    all_events: bool = False,
    since: date | str | None = None,
    until: date | str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_event: ArchiveEventCallback | None = None,
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
) -> ArchiveReport:
    """Download every photo of each chosen event into ``out/<event_id>-<slug>/`` and report per event.

    Give ``events=[ids]`` or ``all_events=True``; ``since``/``until`` (dates, inclusive) keep
    the events whose ``event_date`` falls between them (undated events are then left out).
    Each event gets its own folder (:func:`event_folder_name`) and manifest, exactly as
    ``download_originals(..., whole_event=True)`` would make it, so reruns skip what is done.
    A failing event is recorded (``status="failed"``) and the next one runs; a wrong API key
    (:class:`AuthenticationError`), a failed events listing or an unusable ``out`` raise.
    ``on_event`` gets :class:`ArchivePlanned`, then per event :class:`EventArchiveStarted`,
    its download events and :class:`EventArchiveFinished` (``options.on_event``, when
    ``on_event`` is not given, gets the download events only). The download keywords are those of
    :class:`DownloadOptions` (or pass ``options=``; ``name_template`` names files inside each
    event's folder, without ``{bib}``). Bad arguments raise
    :class:`RequestValidationError` before any request. ``out`` may be a bucket URL
    (``s3://bucket/prefix``, see :mod:`.bucket`); with ``shard``, only that shard of each event
    is archived (see :mod:`.shard`; :func:`~.cluster.archive_on_dask` runs them all on Dask).
    """
    choice = EventChoice.of(events, all_events, since, until)
    if options is None:
        options = DownloadOptions(
            verify=verify,
            chunk_size=chunk_size,
            low_speed_limit_bps=low_speed_limit_bps,
            low_speed_time_s=low_speed_time_s,
            fsync=fsync,
            digest=digest,
            concurrency=concurrency,
            shard=shard,
            name_template=name_template,
            limit_rate_bps=limit_rate_bps,
        )
    options = options.with_network_of(client)
    check_event_template(options.name_template)
    callback = on_event
    if on_event is not None:
        options = replace(options, on_event=on_event)
    (options.network or NetworkOptions()).resolve()  # a bad proxy variable: before any request
    root, created = archive_root(out)
    report = ArchiveReport(out=str(root))
    try:
        chosen = await choice.events(client)
    except Exception:
        if created and isinstance(root, Path):
            with contextlib.suppress(OSError):
                root.rmdir()  # a failed listing leaves no trace of a directory it made
        raise
    if callback is not None:
        callback(ArchivePlanned(tuple(e.event_id for e in chosen)))
    # Without a caller's session each event's run makes its own, with sockets the loop reads itself.
    for number, event in enumerate(chosen, 1):
        if isinstance(event, EventArchiveReport):
            result = event
            if callback is not None:
                callback(EventArchiveStarted(event.event_id, event.folder, None, number, len(chosen)))
        else:
            result = await _archive_one(
                client, root, event, options, storage_session, callback, (number, len(chosen))
            )
        report.events.append(result)
        if callback is not None:
            callback(EventArchiveFinished(result, number, len(chosen)))
    return report


def archive_root(out: str | os.PathLike[str]) -> tuple[Path | str, bool]:
    """The archive's root, a directory (created if missing) or a bucket URL (checked usable),
    and whether this call created it; :class:`DestinationError` when it cannot be used."""
    if is_bucket_url(out):
        assert isinstance(out, str)
        open_bucket(out)
        return out.rstrip("/"), False
    return make_dest(out)


def event_dest(root: Path | str, folder: str) -> Path | str:
    """Where the event folder ``folder`` of the archive at ``root`` is."""
    return f"{root}/{folder}" if isinstance(root, str) else root / folder


async def _archive_one(
    client: ArchiveClient,
    root: Path | str,
    event: EventListItem | EventDetails,
    options: DownloadOptions,
    session: aiohttp.ClientSession | None,
    callback: ArchiveEventCallback | None,
    position: tuple[int, int],
) -> EventArchiveReport:
    folder = event_folder_name(event)
    result = EventArchiveReport(event.event_id, folder, event.event_name, event.event_date)
    if callback is not None:
        callback(EventArchiveStarted(event.event_id, folder, event.event_name, *position))
    try:
        download = await download_originals(
            client,
            event.event_id,
            event_dest(root, folder),
            whole_event=True,
            options=options,
            storage_session=session,
        )
    except AuthenticationError:
        raise
    except NinePicError as exc:
        logger.info("event %s failed: %s", event.event_id, redact(str(exc)))  # in its report: callers show it
        return _failed(result, exc)
    return _counted(result, download)
