"""The API commands: one short async function per endpoint group, ``Runtime`` in, exit status out.

Each function checks its own input (raising :class:`~ninepic_async.cli.errors.CliError`
before anything is sent), notes in ``rt.ctx.subject`` what a 404 would be about, calls the
client, and prints the result. ``download``, ``demo`` and ``simulate`` live in
:mod:`.download` and :mod:`.simulate`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from .._constants import VIDEO_FAILURE_STATUSES, VIDEO_SUCCESS_STATUSES
from .._exceptions import PollTimeoutError
from ..models import VideoClippingJob
from .errors import EXIT_LOCAL_ERROR, EXIT_OK, EXIT_PARTIAL, CliError
from .listings import page_size, pages_from, show_pages, show_photos
from .output import DownloadProgress, format_bytes, visible
from .runtime import Runtime

if TYPE_CHECKING:
    from ..client import NinePicClient

__all__ = [
    "cmd_bib",
    "cmd_event",
    "cmd_events",
    "cmd_faces",
    "cmd_photos",
    "cmd_ping",
    "cmd_timeline",
    "cmd_video",
]


async def cmd_ping(rt: Runtime) -> int:
    """Ping: validates the key, host and event mapping."""
    event = rt.event_id()
    rt.ctx.subject = f"event {event} (or its configuration) in org {rt.ctx.org_id}"
    async with rt.client() as client:
        rt.ctx.subject = f"event {event} (or its configuration) in org {client.org_id}"
        result = await client.ping(event)
    rt.show(
        result,
        lambda: rt.output.line(
            f"pong: {result.status} (org {result.org_id}, event {result.event_id}) at {client.base_url}"
        ),
    )
    return EXIT_OK


async def cmd_events(rt: Runtime) -> int:
    """List Events of the organisation."""
    size = page_size(rt)
    async with rt.client() as client:
        rt.ctx.subject = f"org {client.org_id}"
        pages = pages_from(client.list_events(page=rt.args.page, page_size=size), rt.args.all_pages)
        return await show_pages(
            rt,
            pages,
            items_of=lambda p: p.events,
            noun="events",
            title=f"events of org {client.org_id}",
            columns=("event_id", "name", "date", "status", "slug"),
            row=lambda e: (e.event_id, e.event_name, e.event_date, e.status, e.event_slug),
        )


_EVENT_FIELDS = (
    "event_id",
    "event_name",
    "event_slug",
    "event_date",
    "status",
    "event_enabled",
    "bib_search",
    "selfie_search",
    "name_search",
    "video_search",
    "video_selfie_search",
    "timeline_search",
)


async def cmd_event(rt: Runtime) -> int:
    """Event Details, with the search flags."""
    event = rt.event_id()
    async with rt.client() as client:
        rt.about_event(event, client)
        details = await client.event_details(event)
    rt.show(
        details,
        lambda: rt.output.fields([(n, getattr(details, n)) for n in _EVENT_FIELDS], title=f"event {event}"),
    )
    return EXIT_OK


async def cmd_photos(rt: Runtime) -> int:
    """All Photos of the event."""
    event = rt.event_id()
    size = page_size(rt)
    async with rt.client() as client:
        rt.about_event(event, client)
        pages = pages_from(client.all_photos(event, page=rt.args.page, page_size=size), rt.args.all_pages)
        return await show_photos(rt, pages, title=f"photos of event {event}")


async def cmd_bib(rt: Runtime) -> int:
    """BIB Search."""
    event = rt.event_id()
    size = page_size(rt)
    bib = rt.args.bib.strip()
    if not bib:
        raise CliError("BIB must not be empty")
    async with rt.client() as client:
        rt.ctx.subject = f"BIB {bib!r} in event {event}"
        listing = client.bib_search(event, bib, page=rt.args.page, page_size=size)
        pages = pages_from(listing, rt.args.all_pages)
        return await show_photos(rt, pages, title=f"BIB {bib} in event {event}")


def _read_selfie(path_text: str) -> Path:
    """The selfie file to upload, checked (exists, readable, not empty) before anything is sent."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise CliError(f"selfie file {path_text!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise CliError(f"selfie file {path_text!r} is not readable")
    if path.stat().st_size == 0:
        raise CliError(f"selfie file {path_text!r} is empty (the API rejects empty uploads)")
    return path


def _about_search(rt: Runtime, event: int, client: NinePicClient, request_id: str | None) -> None:
    """Make a 404 name the reused Face Search ``request_id``, or the event when a selfie starts afresh."""
    if request_id:
        rt.ctx.subject = f"face search request_id {request_id!r} in event {event}"
    else:
        rt.about_event(event, client)


def _selfie_and_request_id(rt: Runtime) -> tuple[Path | None, str | None]:
    """--selfie (checked) and --request-id (stripped; empty means absent) of faces and video."""
    selfie = _read_selfie(rt.args.selfie) if rt.args.selfie else None
    return selfie, (rt.args.request_id or "").strip() or None


async def cmd_faces(rt: Runtime) -> int:
    """Face Search: upload a selfie (POST) or page an earlier request_id (GET)."""
    event = rt.event_id()
    size = page_size(rt)
    selfie, request_id = _selfie_and_request_id(rt)
    if selfie is None and request_id is None:
        raise CliError("faces needs --selfie FILE (new search) or --request-id ID (earlier search)")
    async with rt.client() as client:
        _about_search(rt, event, client, request_id)
        if selfie is not None:
            first = await client.face_search(event, selfie, request_id=request_id, page_size=size)
            request_id = first.request_id
            rt.output.note(
                f"request_id: {request_id}{_confidence(first)} "
                "(reuse it: --request-id, or download --selfie)",
                essential=True,
            )
        else:
            first = None
        assert request_id is not None or first is not None

        async def pages() -> AsyncIterator[Any]:
            page = rt.args.page
            if first is not None and page == 1:
                yield first
                if not rt.args.all_pages or first.pagination is None or not first.pagination.has_next_page:
                    return
                page = 2
            if request_id is None:
                return
            listing = client.face_search_results(event, request_id, page=page, page_size=size)
            async for result in pages_from(listing, rt.args.all_pages):
                yield result

        title = f"face search {request_id}" + ("" if first is None else _confidence(first))
        return await show_photos(rt, pages(), title=title)


def _confidence(result: Any) -> str:
    """``", confidence 97.5%"`` of a Face Search result, or "" when the API gave none."""
    pct = result.confidence_percentage
    return "" if pct is None else f", confidence {pct:g}%"


async def cmd_timeline(rt: Runtime) -> int:
    """Photo Timeline: ``days`` (photo counts) or ``images`` (a time window)."""
    if rt.args.timeline_command == "days":
        return await _timeline_days(rt)
    return await _timeline_images(rt)


async def _timeline_days(rt: Runtime) -> int:
    """Photo counts per UTC day, with the non-empty hours."""
    event = rt.event_id()
    async with rt.client() as client:
        rt.about_event(event, client)
        days = await client.timeline_days(event)
    rows = [
        (d.date, d.total, " ".join(f"{h.hour:02d}h:{h.count}" for h in d.hours if h.count)) for d in days.days
    ]
    rt.show(
        days,
        lambda: rt.output.table(
            ("date (UTC)", "photos", "per hour"), rows, title=f"timeline of event {event}"
        ),
    )
    return EXIT_OK


async def _timeline_images(rt: Runtime) -> int:
    """Photos captured in [--from, --to) (Unix seconds)."""
    event = rt.event_id()
    start_s, end_s = rt.args.start_s, rt.args.end_s
    if end_s <= start_s:
        raise CliError(f"--to ({end_s}) must be after --from ({start_s}); the window is [from, to)")
    size = page_size(rt)
    async with rt.client() as client:
        rt.about_event(event, client)
        listing = client.timeline_images(
            event, start_s=start_s, end_s=end_s, page=rt.args.page, page_size=size
        )
        return await show_photos(
            rt,
            pages_from(listing, rt.args.all_pages),
            title=f"photos of event {event} in [{start_s}, {end_s})",
        )


async def cmd_video(rt: Runtime) -> int:
    """Video Clipping Search: start a job (selfie or request_id), or show/wait for one's status."""
    if rt.args.video_command == "status":
        return await _video_status(rt)
    return await _video_start(rt)


async def _video_status(rt: Runtime) -> int:
    """``video status REQUEST_ID [--wait] [--out DIR]``: one job's status and clips (and download them)."""
    event = rt.event_id()
    request_id = rt.args.request_id.strip()
    if not request_id:
        raise CliError("REQUEST_ID must not be empty")
    clips_out = _clips_destination(rt)
    async with rt.client() as client:
        rt.ctx.subject = f"video clipping request {request_id!r} in event {event}"
        if rt.args.wait:
            job = await _wait_job(rt, client, event, request_id)
        else:
            job = await client.video_clipping_status(event, request_id)
    status = _show_job(rt, job)
    if clips_out is not None and status == EXIT_OK:
        return await _download_clips(rt, job, clips_out)
    return status


async def _video_start(rt: Runtime) -> int:
    """``video --selfie FILE | --request-id ID [--wait] [--out DIR]``: start a job (and wait for it)."""
    event = rt.event_id()
    selfie, request_id = _selfie_and_request_id(rt)
    if (selfie is None) == (request_id is None):
        raise CliError("video needs exactly one of --selfie FILE or --request-id ID (or: video status ID)")
    clips_out = _clips_destination(rt)
    if clips_out is not None and not rt.args.wait:
        raise CliError("--out downloads the clips of a finished job: add --wait")
    async with rt.client() as client:
        _about_search(rt, event, client, request_id)
        job = await client.start_video_clipping(event, selfie, request_id=request_id)
        if rt.args.wait and job.request_id:
            if not rt.opt("json"):
                rt.output.note(f"started video clipping job {job.request_id}")
            job = await _wait_job(rt, client, event, job.request_id)
    status = _show_job(rt, job)
    if clips_out is not None and status == EXIT_OK:
        return await _download_clips(rt, job, clips_out)
    return status


def _clips_destination(rt: Runtime) -> Path | None:
    """--out of the video commands, checked before anything is sent (None: clips are not downloaded)."""
    if rt.args.out is None:
        return None
    out = Path(rt.args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {rt.args.out!r} exists and is not a directory", EXIT_LOCAL_ERROR)
    return out


async def _wait_job(rt: Runtime, client: NinePicClient, event: int, request_id: str) -> VideoClippingJob:
    """Poll a video job until it ends (--wait-timeout S, every --interval S): a spinner with the job's
    status and the time waited on a terminal, a line per status change otherwise."""
    timeout_s = rt.args.wait_timeout
    last: list[str | None] = []

    def describe(job: VideoClippingJob | None) -> str:
        status = "starting" if job is None else (job.status or "unknown status")
        return f"video clipping job {request_id}: {status} (gives up after {timeout_s:g} s)"

    def on_poll(job: VideoClippingJob) -> None:
        if progress is not None:
            progress.update(task, description=escape(visible(describe(job))))
        elif not last or last[-1] != job.status:
            rt.output.note(f"video clipping job {request_id}: {job.status or 'unknown status'}")
        last.append(job.status)

    progress: Progress | None = None
    task = TaskID(0)
    if rt.output.stderr_is_terminal:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=rt.output.err,
            transient=True,
        )
        task = progress.add_task(escape(visible(describe(None))), total=None)
    else:
        rt.output.note(f"waiting for video clipping job {request_id} (up to {timeout_s:g} s)")
    try:
        with progress if progress is not None else contextlib.nullcontext():
            job: VideoClippingJob = await client.wait_for_video_clips(
                event, request_id, timeout_s=timeout_s, interval_s=rt.args.interval, on_poll=on_poll
            )
    except PollTimeoutError as exc:
        raise CliError(
            f"{exc}; check again later with `ninepic video status {request_id}` (add --wait to wait again)",
            EXIT_PARTIAL,
        ) from None
    return job


def _show_job(rt: Runtime, job: VideoClippingJob) -> int:
    """Print a video job and its clips; exit 1 when it ended in a failure status."""

    def human() -> None:
        rt.output.fields(
            [("request_id", job.request_id), ("status", job.status), ("clips", len(job.clips))],
            title="video clipping job",
        )
        if job.clips:
            rt.output.table(
                ("url", "duration_s", "thumbnail_url"),
                [(c.url, c.duration_s, c.thumbnail_url) for c in job.clips],
                title="clips",
            )

    rt.show(job, human)
    if (job.status or "").lower() in VIDEO_FAILURE_STATUSES:
        rt.output.error(f"video clipping job {job.request_id} ended with status {job.status!r}")
        return EXIT_PARTIAL
    return EXIT_OK


async def _download_clips(rt: Runtime, job: VideoClippingJob, out: Path) -> int:
    """Download a finished job's clips into ``out`` with the photo downloader's core (``.part``
    files, resume, size/ETag checks, a manifest); exit status as for ``download``."""
    from ..download import UrlJob, download_url_list
    from .download import download_status

    status = (job.status or "").lower()
    if status not in VIDEO_SUCCESS_STATUSES:
        raise CliError(
            f"video clipping job {job.request_id} is {job.status or 'in an unknown state'}, not finished: "
            "add --wait to wait for its clips",
            EXIT_PARTIAL,
        )
    request_id = job.request_id or "video"
    jobs = [
        UrlJob(
            url=clip.url,
            filename=f"{request_id}-{os.path.basename(clip.url.split('?', 1)[0]) or f'clip-{n}.mp4'}",
            image_id=f"{request_id}/clip-{n}",
        )
        for n, clip in enumerate(job.clips, 1)
        if clip.url
    ]
    with DownloadProgress(rt.output, label=f"clips of {request_id}", items="clips") as progress:
        report = await download_url_list(jobs, out, on_event=progress)
    rt.output.note(
        f"clips: downloaded {report.downloaded}, skipped {report.skipped} (already on disk), "
        f"failed {report.failed}; {format_bytes(report.bytes)}; manifest: {report.manifest_path}",
        essential=True,
    )
    if report.failed:
        rt.output.error(
            f"{report.failed} clip(s) failed (listed in {report.manifest_path}); run the same command "
            "again to retry them"
        )
    return download_status(report)
