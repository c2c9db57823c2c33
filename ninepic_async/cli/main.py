"""The ``ninepic`` command line: argument parsing, one async function per command, exit statuses.

``main(argv)`` parses ``argv``, runs the command in a fresh event loop and returns the exit
status (see :mod:`ninepic_async.cli.errors`); it never raises for expected failures and
never prints a traceback for them. Ctrl-C cancels the running command, lets it close its
sessions (``.part`` files stay for resume) and returns 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .._constants import (
    BIBS_PAGE_SIZE,
    CLI_INTERRUPT_GRACE_S,
    CLI_MAX_CONCURRENCY,
    CLI_MAX_LISTED_FAILURES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    DEMO_PHOTO_COUNT,
    DEMO_PHOTO_SIZE,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_EVENT_ID,
    ENV_ORG_ID,
    EVENTS_PAGE_SIZE,
    FACES_PAGE_SIZE,
    IMAGES_PAGE_SIZE,
    TIMELINE_PAGE_SIZE,
    VIDEO_FAILURE_STATUSES,
    VIDEO_POLL_INTERVAL_S,
    VIDEO_POLL_TIMEOUT_S,
)
from .._exceptions import redact, register_secret
from ..models import ImageItem, Pagination, VideoClippingJob
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SOFTWARE,
    EXIT_STATUSES,
    EXIT_USAGE,
    CliError,
    ErrorContext,
    describe_error,
)
from .output import DownloadProgress, Output, format_bytes, format_rate

if TYPE_CHECKING:
    from ..client import NinePicClient

__all__ = ["build_parser", "main"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# ---------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------

_EXIT_HELP = "exit statuses:\n" + "\n".join(f"  {code:<4}{text}" for code, text in EXIT_STATUSES.items())


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _int_arg(text: str) -> int:
    """argparse type: any integer (range checked later, so errors name the option)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_float(text: str) -> float:
    """argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    """argparse type: a number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def parse_time_s(text: str) -> int:
    """Unix seconds from ``text``: an integer, or an ISO 8601 date/time (UTC when no offset)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected Unix seconds or an ISO 8601 time like 2024-05-01T08:00:00Z, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples of the epilogs as written."""


def _shared_parent() -> argparse.ArgumentParser:
    """Options every command accepts after its name; defaults SUPPRESSed so nesting never clobbers."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (after the command name)")
    sup = argparse.SUPPRESS
    group.add_argument("--org", type=_int_arg, metavar="ORG_ID", default=sup,
                       help=f"organisation id (default: ${ENV_ORG_ID})")
    group.add_argument("--event", type=_int_arg, metavar="EVENT_ID", default=sup,
                       help=f"event id (default: ${ENV_EVENT_ID})")
    group.add_argument("--base-url", metavar="URL", default=sup,
                       help=f"API base URL (default: ${ENV_BASE_URL}, else https://api.9pic.ai)")
    group.add_argument("--api-key", metavar="KEY", default=sup,
                       help=f"API key (default: ${ENV_API_KEY}; prefer the variable: others can see argv)")
    group.add_argument("--timeout", type=_positive_float, metavar="S", default=sup,
                       help=f"seconds per API request attempt (default: {DEFAULT_TIMEOUT_S:g})")
    group.add_argument("--max-retries", type=_non_negative_int, metavar="N", default=sup,
                       help=f"retries of a 429/5xx/failed API request (default: {DEFAULT_MAX_RETRIES})")
    group.add_argument("--json", action="store_true", default=sup,
                       help="print the decoded data as JSON (JSON Lines with --all-pages)")
    group.add_argument("-v", "--verbose", action="store_true", default=sup,
                       help="log every request line to stderr (the key is never shown)")
    return parent


def _paging_parent(limits: tuple[int, int]) -> argparse.ArgumentParser:
    """--page/--page-size/--all-pages for a listing whose page size is ``limits`` (default, max)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("pages")
    group.add_argument("--page", type=_positive_int, default=1, metavar="N", help="page number (default: 1)")
    group.add_argument("--page-size", type=_int_arg, default=None, metavar="N",
                       help=f"items per page, 1-{limits[1]} (default: {limits[0]})")
    group.add_argument("--all-pages", action="store_true",
                       help="fetch every page from --page on (JSON Lines of items with --json)")
    parent.set_defaults(page_limits=limits)
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The whole ``ninepic`` argument parser (subcommands, shared options, examples)."""
    shared = _shared_parent()
    parser = argparse.ArgumentParser(
        prog="ninepic",
        description="Command line for the 9Pic external API: look up events and photos, search by "
        "BIB or selfie, and download original photos concurrently with resume.",
        epilog="examples:\n"
        "  export NINEPIC_API_KEY=...  NINEPIC_ORG_ID=903  NINEPIC_EVENT_ID=456\n"
        "  ninepic ping\n"
        "  ninepic download --bib 1234 --out ./photos\n"
        "  ninepic demo --out ./demo-photos        # no account needed: built-in simulator\n\n"
        + _EXIT_HELP,
        formatter_class=_Formatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"ninepic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, example: str, parents: Sequence[argparse.ArgumentParser] = ()
            ) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help_text, description=help_text, parents=[shared, *parents],
            epilog="example:\n" + example + ("\n\n" + _EXIT_HELP if name in ("download", "demo") else ""),
            formatter_class=_Formatter,
        )

    add("ping", "check the key, host and event mapping in one round trip",
        "  ninepic ping --org 903 --event 456")
    add("events", "list the organisation's events",
        "  ninepic events --org 903 --page-size 50", [_paging_parent(EVENTS_PAGE_SIZE)])
    add("event", "show an event's details and which searches are enabled",
        "  ninepic event --org 903 --event 456")
    add("photos", "list every photo of an event",
        "  ninepic photos --org 903 --event 456 --all-pages --json | jq -r .image_id",
        [_paging_parent(IMAGES_PAGE_SIZE)])
    p = add("bib", "find photos by BIB number (9Pic BibTrack)",
            "  ninepic bib 1234 --org 903 --event 456", [_paging_parent(BIBS_PAGE_SIZE)])
    p.add_argument("bib", metavar="BIB", help="the participant's BIB number (case-insensitive)")

    p = add("faces", "find photos by selfie (9Pic FaceFind): upload one, or page a previous search",
            "  ninepic faces --selfie me.jpg --org 903 --event 456\n"
            "  ninepic faces --request-id ddc661a7-8861-4793-9437-af42a82d12f8 --page 2",
            [_paging_parent(FACES_PAGE_SIZE)])
    p.add_argument("--selfie", metavar="FILE", help="selfie image to upload (starts a search)")
    p.add_argument("--request-id", metavar="ID",
                   help="an earlier search's request_id (with --selfie: reuse it, cached server-side)")

    p = add("timeline", "browse photos by capture time",
            "  ninepic timeline days --org 903 --event 456\n"
            "  ninepic timeline images --from 2024-05-01T08:00:00Z --to 2024-05-01T09:00:00Z")
    tsub = p.add_subparsers(dest="timeline_command", metavar="{days,images}", required=True)
    tsub.add_parser("days", parents=[shared], help="photo counts per UTC day and hour",
                    description="photo counts per UTC day and hour",
                    epilog="example:\n  ninepic timeline days --org 903 --event 456",
                    formatter_class=_Formatter)
    ti = tsub.add_parser("images", parents=[shared, _paging_parent(TIMELINE_PAGE_SIZE)],
                         help="photos captured in [--from, --to)",
                         description="photos captured in the window [--from, --to)",
                         epilog="example:\n  ninepic timeline images --from 1714550400 --to 1714554000 "
                         "--org 903 --event 456", formatter_class=_Formatter)
    ti.add_argument("--from", dest="start_s", type=parse_time_s, required=True, metavar="S",
                    help="window start: Unix seconds or ISO 8601 (UTC unless an offset is given)")
    ti.add_argument("--to", dest="end_s", type=parse_time_s, required=True, metavar="S",
                    help="window end (exclusive): Unix seconds or ISO 8601")

    video_wait = argparse.ArgumentParser(add_help=False)
    vw = video_wait.add_argument_group("waiting")
    vw.add_argument("--wait", action="store_true", help="poll until the job reaches a terminal status")
    vw.add_argument("--wait-timeout", type=_positive_float, default=VIDEO_POLL_TIMEOUT_S, metavar="S",
                    help=f"give up waiting after S seconds (default: {VIDEO_POLL_TIMEOUT_S:g})")
    vw.add_argument("--interval", type=_positive_float, default=VIDEO_POLL_INTERVAL_S, metavar="S",
                    help=f"seconds between status polls (default: {VIDEO_POLL_INTERVAL_S:g})")
    p = add("video", "start a personalised video clipping job (9Pic Motion), or check one",
            "  ninepic video --request-id ddc661a7-8861-4793-9437-af42a82d12f8 --wait\n"
            "  ninepic video --selfie me.jpg --org 903 --event 456\n"
            "  ninepic video status 5f0c... --wait", [video_wait])
    p.add_argument("--selfie", metavar="FILE", help="selfie image to upload")
    p.add_argument("--request-id", metavar="ID", help="reuse a Face Search request_id instead of uploading")
    vsub = p.add_subparsers(dest="video_command", metavar="{status}")
    vs = vsub.add_parser("status", parents=[shared, video_wait], help="show (or wait for) a job's status",
                         description="show a video clipping job's status and clips",
                         epilog="example:\n  ninepic video status REQUEST_ID --wait --org 903 --event 456",
                         formatter_class=_Formatter)
    vs.add_argument("request_id", metavar="REQUEST_ID", help="the job's request_id")

    p = add("download", "download original photos concurrently, resumably, with a manifest",
            "  ninepic download --org 903 --event 456 --bib 1234 --out ./photos\n"
            "  ninepic download --selfie ddc661a7-8861-4793-9437-af42a82d12f8 --out ./photos --verify\n"
            "  ninepic download --all --out ./event-456 --concurrency 32 --dry-run")
    selection = p.add_argument_group("what to download (exactly one)").add_mutually_exclusive_group(
        required=True)
    selection.add_argument("--bib", metavar="BIB", help="every photo of this BIB number")
    selection.add_argument("--selfie", metavar="REQUEST_ID", help="every photo of a Face Search request_id")
    selection.add_argument("--image-id", metavar="ID", action="append", dest="image_ids",
                           help="this photo (repeat the option for more)")
    selection.add_argument("--all", action="store_true", dest="whole_event", help="every photo of the event")
    _add_download_options(p)
    p.add_argument("--dry-run", action="store_true", help="list what would be fetched; write nothing")

    p = add("demo", "download a synthetic event from the built-in simulator (no account needed)",
            "  ninepic demo --out ./demo-photos\n"
            "  ninepic demo --out ./demo-photos --photos 500 --storage-latency 0.2   # watch the bar")
    p.add_argument("--photos", type=_positive_int, default=DEMO_PHOTO_COUNT, metavar="N",
                   help=f"photos in the synthetic event (default: {DEMO_PHOTO_COUNT})")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic event (default: 1)")
    p.add_argument("--storage-latency", type=_non_negative_float, default=0.0, metavar="S",
                   help="simulated delay per storage request, in seconds (default: 0)")
    _add_download_options(p)

    from ..testing import build_arg_parser as add_simulator_options

    simulate = sub.add_parser(
        "simulate", help="run the 9Pic simulator in the foreground (Ctrl-C stops it)",
        description="Serve a local 9Pic API and object store with a synthetic event until Ctrl-C; "
        "prints its base URL, org id, event id and API key.",
        epilog="example:\n  ninepic simulate --port 8080 --photos 200\n"
        "  # in another shell:\n"
        "  export NINEPIC_BASE_URL=http://127.0.0.1:8080 NINEPIC_API_KEY=sim-key-5f0c9e2d7a41b38e \\\n"
        "         NINEPIC_ORG_ID=903 NINEPIC_EVENT_ID=456\n  ninepic ping",
        formatter_class=_Formatter,
    )
    add_simulator_options(simulate)
    return parser


def _add_download_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("download")
    group.add_argument("--out", required=True, metavar="DIR",
                       help="destination directory (created if needed)")
    group.add_argument("--concurrency", type=_int_arg, default=DEFAULT_CONCURRENCY, metavar="N",
                       help=f"parallel downloads, 1-{CLI_MAX_CONCURRENCY} (default: {DEFAULT_CONCURRENCY})")
    group.add_argument("--verify", action="store_true",
                       help="check each file's MD5 against the store's ETag (when it is a plain MD5)")


# ---------------------------------------------------------------------------------------
# the run time of one command
# ---------------------------------------------------------------------------------------


@dataclass
class Runtime:
    """One command's parsed options, output streams and error context."""

    args: argparse.Namespace
    output: Output
    ctx: ErrorContext = field(default_factory=ErrorContext)

    def opt(self, name: str, default: Any = None) -> Any:
        """A shared option's value (SUPPRESSed options are absent from the namespace)."""
        return getattr(self.args, name, default)

    def _id_from(self, option: str, env: str, what: str) -> int:
        value = self.opt(option)
        if value is not None:
            return int(value)
        raw = os.environ.get(env, "").strip()
        if not raw:
            raise CliError(f"no {what}: pass --{option} {what.upper().replace(' ', '_')} or set {env}")
        try:
            return int(raw)
        except ValueError:
            raise CliError(f"{env}={raw!r} is not a number; set it to the {what}") from None

    def org_id(self) -> int:
        """--org, else $NINEPIC_ORG_ID; CliError (exit 2) when neither is set."""
        org = self._id_from("org", ENV_ORG_ID, "org id")
        self.ctx.org_id = org
        return org

    def event_id(self) -> int:
        """--event, else $NINEPIC_EVENT_ID; CliError (exit 2) when neither is set."""
        event = self._id_from("event", ENV_EVENT_ID, "event id")
        self.ctx.event_id = event
        return event

    def client(self) -> NinePicClient:
        """A NinePicClient from the options and environment (nothing is sent yet)."""
        from ..client import NinePicClient

        key = self.opt("api_key") or os.environ.get(ENV_API_KEY, "")
        key = key.strip()
        if not key:
            raise CliError(f"no API key: pass --api-key KEY or set {ENV_API_KEY} (created in the 9Pic "
                           "dashboard's Developer Zone)")
        register_secret(key)
        org = self.org_id()
        base_url = self.opt("base_url") or os.environ.get(ENV_BASE_URL) or None
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise CliError(f"--base-url {base_url!r} is not an http(s) URL")
        retries = self.opt("max_retries")
        max_retries = DEFAULT_MAX_RETRIES if retries is None else int(retries)
        self.ctx.max_retries = max_retries
        client = NinePicClient(
            key, org_id=org, base_url=base_url, timeout_s=float(self.opt("timeout") or DEFAULT_TIMEOUT_S),
            max_retries=max_retries,
        )
        self.ctx.base_url = client.base_url
        return client


def _page_size(rt: Runtime) -> int | None:
    size: int | None = rt.args.page_size
    if size is None:
        return None
    limit = rt.args.page_limits[1]
    if not 1 <= size <= limit:
        raise CliError(f"--page-size must be from 1 to {limit}, got {size}")
    return size


def _caption(pagination: Pagination | None, noun: str) -> str | None:
    if pagination is None:
        return None
    if pagination.total_pages == 0:
        return f"no {noun}"
    text = f"page {pagination.current_page} of {pagination.total_pages}, {pagination.total} {noun} in all"
    if pagination.has_next_page:
        text += f"; next: --page {pagination.current_page + 1} (or --all-pages)"
    return text


_IMAGE_COLUMNS = ("image_id", "width", "height", "img_url")


def _image_row(item: ImageItem) -> tuple[object, ...]:
    return (item.image_id, item.width, item.height, item.img_url)


async def _show_pages(
    rt: Runtime,
    pages: AsyncIterator[Any],
    *,
    items_of: Callable[[Any], Sequence[Any]],
    columns: Sequence[str],
    row: Callable[[Any], Sequence[object]],
    noun: str,
    title: str,
) -> int:
    """Print one page (``pages`` yields one) or, with --all-pages, every item of every page."""
    json_mode = bool(rt.opt("json"))
    if not rt.args.all_pages:
        page = await anext_or_none(pages)
        if page is None:
            return EXIT_OK
        if json_mode:
            rt.output.json(page)
        else:
            rt.output.table(columns, [row(i) for i in items_of(page)], title=title,
                            caption=_caption(page.pagination, noun))
        return EXIT_OK
    rows: list[Sequence[object]] = []
    count = 0
    async for page in pages:
        for item in items_of(page):
            count += 1
            if json_mode:
                rt.output.json(item)
            else:
                rows.append(row(item))
    if not json_mode:
        rt.output.table(columns, rows, title=title, caption=f"{count} {noun}")
    return EXIT_OK


async def anext_or_none(iterator: AsyncIterator[T]) -> T | None:
    """The next item of ``iterator``, or None when it is exhausted (and close it either way)."""
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


async def _one(awaitable: Awaitable[T]) -> AsyncIterator[T]:
    yield await awaitable


def _pages_from(page_obj: Any, all_pages: bool) -> AsyncIterator[Any]:
    """``page_obj.pages()`` for --all-pages, else an iterator over ``await page_obj``."""
    if all_pages:
        pages: AsyncIterator[Any] = page_obj.pages()
        return pages
    return _one(page_obj)


def _read_selfie(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise CliError(f"selfie file {path_text!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise CliError(f"selfie file {path_text!r} is not readable")
    if path.stat().st_size == 0:
        raise CliError(f"selfie file {path_text!r} is empty (the API rejects empty uploads)")
    return path


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------


async def cmd_ping(rt: Runtime) -> int:
    """Ping: validates the key, host and event mapping."""
    event = rt.event_id()
    rt.ctx.subject = f"event {event} (or its configuration) in org {rt.ctx.org_id}"
    async with rt.client() as client:
        rt.ctx.subject = f"event {event} (or its configuration) in org {client.org_id}"
        result = await client.ping(event)
    if rt.opt("json"):
        rt.output.json(result)
    else:
        rt.output.line(
            f"pong: {result.status} (org {result.org_id}, event {result.event_id}) at {client.base_url}"
        )
    return EXIT_OK


async def cmd_events(rt: Runtime) -> int:
    """List Events of the organisation."""
    size = _page_size(rt)
    async with rt.client() as client:
        rt.ctx.subject = f"org {client.org_id}"
        pages = _pages_from(client.list_events(page=rt.args.page, page_size=size), rt.args.all_pages)
        return await _show_pages(
            rt, pages, items_of=lambda p: p.events, noun="events", title=f"events of org {client.org_id}",
            columns=("event_id", "name", "date", "status", "slug"),
            row=lambda e: (e.event_id, e.event_name, e.event_date, e.status, e.event_slug),
        )


async def cmd_event(rt: Runtime) -> int:
    """Event Details, with the search flags."""
    event = rt.event_id()
    async with rt.client() as client:
        rt.ctx.subject = f"event {event} in org {client.org_id}"
        details = await client.event_details(event)
    if rt.opt("json"):
        rt.output.json(details)
        return EXIT_OK
    names = ("event_id", "event_name", "event_slug", "event_date", "status", "event_enabled", "bib_search",
             "selfie_search", "name_search", "video_search", "video_selfie_search", "timeline_search")
    rt.output.fields([(n, getattr(details, n)) for n in names], title=f"event {event}")
    return EXIT_OK


async def cmd_photos(rt: Runtime) -> int:
    """All Photos of the event."""
    event = rt.event_id()
    size = _page_size(rt)
    async with rt.client() as client:
        rt.ctx.subject = f"event {event} in org {client.org_id}"
        pages = _pages_from(client.all_photos(event, page=rt.args.page, page_size=size), rt.args.all_pages)
        return await _show_pages(rt, pages, items_of=lambda p: p.images, columns=_IMAGE_COLUMNS,
                                 row=_image_row, noun="photos", title=f"photos of event {event}")


async def cmd_bib(rt: Runtime) -> int:
    """BIB Search."""
    event = rt.event_id()
    size = _page_size(rt)
    bib = rt.args.bib.strip()
    if not bib:
        raise CliError("BIB must not be empty")
    async with rt.client() as client:
        rt.ctx.subject = f"BIB {bib!r} in event {event}"
        listing = client.bib_search(event, bib, page=rt.args.page, page_size=size)
        pages = _pages_from(listing, rt.args.all_pages)
        return await _show_pages(rt, pages, items_of=lambda p: p.images, columns=_IMAGE_COLUMNS,
                                 row=_image_row, noun="photos", title=f"BIB {bib} in event {event}")


async def cmd_faces(rt: Runtime) -> int:
    """Face Search: upload a selfie (POST) or page an earlier request_id (GET)."""
    event = rt.event_id()
    size = _page_size(rt)
    selfie = _read_selfie(rt.args.selfie) if rt.args.selfie else None
    request_id = (rt.args.request_id or "").strip() or None
    if selfie is None and request_id is None:
        raise CliError("faces needs --selfie FILE (new search) or --request-id ID (earlier search)")
    async with rt.client() as client:
        rt.ctx.subject = f"face search request_id {request_id!r} in event {event}" if request_id else (
            f"event {event} in org {client.org_id}")
        if selfie is not None:
            first = await client.face_search(event, selfie, request_id=request_id, page_size=size)
            request_id = first.request_id
            pct = first.confidence_percentage
            score = "" if pct is None else f", confidence {pct:g}%"
            rt.output.note(f"request_id: {request_id}{score} (reuse it: --request-id, or download --selfie)")
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
            async for result in _pages_from(listing, rt.args.all_pages):
                yield result

        def confidence(p: Any) -> str:
            return "" if p.confidence_percentage is None else f", confidence {p.confidence_percentage:g}%"

        title = f"face search {request_id}"
        if first is not None:
            title += confidence(first)
        return await _show_pages(rt, pages(), items_of=lambda p: p.images, columns=_IMAGE_COLUMNS,
                                 row=_image_row, noun="photos", title=title)


async def cmd_timeline(rt: Runtime) -> int:
    """Photo Timeline: days (counts) or images (a time window)."""
    event = rt.event_id()
    if rt.args.timeline_command == "days":
        async with rt.client() as client:
            rt.ctx.subject = f"event {event} in org {client.org_id}"
            days = await client.timeline_days(event)
        if rt.opt("json"):
            rt.output.json(days)
            return EXIT_OK
        rows = [(d.date, d.total, " ".join(f"{h.hour:02d}h:{h.count}" for h in d.hours if h.count))
                for d in days.days]
        rt.output.table(("date (UTC)", "photos", "per hour"), rows, title=f"timeline of event {event}")
        return EXIT_OK
    start_s, end_s = rt.args.start_s, rt.args.end_s
    if end_s <= start_s:
        raise CliError(f"--to ({end_s}) must be after --from ({start_s}); the window is [from, to)")
    size = _page_size(rt)
    async with rt.client() as client:
        rt.ctx.subject = f"event {event} in org {client.org_id}"
        listing = client.timeline_images(
            event, start_s=start_s, end_s=end_s, page=rt.args.page, page_size=size
        )
        return await _show_pages(rt, _pages_from(listing, rt.args.all_pages), items_of=lambda p: p.images,
                                 columns=_IMAGE_COLUMNS, row=_image_row, noun="photos",
                                 title=f"photos of event {event} in [{start_s}, {end_s})")


def _show_job(rt: Runtime, job: VideoClippingJob) -> int:
    failed = (job.status or "").lower() in VIDEO_FAILURE_STATUSES
    if rt.opt("json"):
        rt.output.json(job)
    else:
        rt.output.fields([("request_id", job.request_id), ("status", job.status), ("clips", len(job.clips))],
                         title="video clipping job")
        if job.clips:
            rt.output.table(("url", "duration_s", "thumbnail_url"),
                            [(c.url, c.duration_s, c.thumbnail_url) for c in job.clips], title="clips")
    if failed:
        rt.output.error(f"video clipping job {job.request_id} ended with status {job.status!r}")
        return EXIT_PARTIAL
    return EXIT_OK


async def _wait_job(rt: Runtime, client: NinePicClient, event: int, request_id: str) -> VideoClippingJob:
    coro = client.wait_for_video_clips(event, request_id, timeout_s=rt.args.wait_timeout,
                                       interval_s=rt.args.interval)
    if rt.output.stderr_is_terminal:
        with rt.output.err.status(f"waiting for video clipping job {request_id} ..."):
            job: VideoClippingJob = await coro
            return job
    rt.output.note(f"waiting for video clipping job {request_id} (up to {rt.args.wait_timeout:g} s)")
    job = await coro
    return job


async def cmd_video(rt: Runtime) -> int:
    """Video Clipping Search: start a job (selfie or request_id), or show/wait for one's status."""
    event = rt.event_id()
    if rt.args.video_command == "status":
        request_id = rt.args.request_id.strip()
        if not request_id:
            raise CliError("REQUEST_ID must not be empty")
        async with rt.client() as client:
            rt.ctx.subject = f"video clipping request {request_id!r} in event {event}"
            if rt.args.wait:
                job = await _wait_job(rt, client, event, request_id)
            else:
                job = await client.video_clipping_status(event, request_id)
        return _show_job(rt, job)
    selfie = _read_selfie(rt.args.selfie) if rt.args.selfie else None
    request_id = (rt.args.request_id or "").strip() or None
    if (selfie is None) == (request_id is None):
        raise CliError("video needs exactly one of --selfie FILE or --request-id ID (or: video status ID)")
    async with rt.client() as client:
        rt.ctx.subject = (f"face search request_id {request_id!r} in event {event}" if request_id
                          else f"event {event} in org {client.org_id}")
        job = await client.start_video_clipping(event, selfie, request_id=request_id)
        if rt.args.wait and job.request_id:
            if not rt.opt("json"):
                rt.output.note(f"started video clipping job {job.request_id}")
            job = await _wait_job(rt, client, event, job.request_id)
    return _show_job(rt, job)


def _check_download_args(rt: Runtime) -> tuple[Path, dict[str, Any], str]:
    """Validate download input before anything is sent: (destination, selection kwargs, description)."""
    args = rt.args
    if not 1 <= args.concurrency <= CLI_MAX_CONCURRENCY:
        raise CliError(f"--concurrency must be from 1 to {CLI_MAX_CONCURRENCY}, got {args.concurrency}")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {args.out!r} exists and is not a directory")
    selection: dict[str, Any] = {}
    what: str
    if getattr(args, "bib", None) is not None:
        bib = args.bib.strip()
        if not bib:
            raise CliError("--bib must not be empty")
        selection["bib"], what = bib, f"BIB {bib!r}"
    elif getattr(args, "selfie", None) is not None:
        request_id = args.selfie.strip()
        if not request_id:
            raise CliError("--selfie needs a Face Search request_id (from `ninepic faces --selfie FILE`)")
        if Path(request_id).is_file():
            raise CliError(f"--selfie takes a Face Search request_id, not a file: run "
                           f"`ninepic faces --selfie {request_id}` first and pass its request_id")
        selection["selfie"], what = request_id, f"face search request_id {request_id!r}"
    elif getattr(args, "image_ids", None):
        ids = [i.strip() for i in args.image_ids]
        if not all(ids):
            raise CliError("--image-id must not be empty")
        selection["image_ids"] = list(dict.fromkeys(ids))
        what = f"{len(selection['image_ids'])} image id(s)"
    else:
        selection["whole_event"], what = True, "the whole event"
    return out, selection, what


async def cmd_download(rt: Runtime) -> int:
    """Download originals: a selection to a directory, with progress, resume and a manifest."""
    out, selection, what = _check_download_args(rt)
    event = rt.event_id()
    async with rt.client() as client:
        rt.ctx.subject = f"{what} in event {event}" if "whole_event" not in selection else (
            f"event {event} in org {client.org_id}")
        if rt.args.dry_run:
            return await _dry_run(rt, client, event, out, selection)
        return await _download(rt, client, event, out, selection, label=f"event {event}")


async def _download(rt: Runtime, client: NinePicClient, event: int, out: Path, selection: dict[str, Any], *,
                    label: str) -> int:
    from ..download import download_originals

    started = time.monotonic()
    with DownloadProgress(rt.output, label=label) as progress:
        report = await download_originals(client, event, out, concurrency=rt.args.concurrency,
                                          verify=rt.args.verify, on_event=progress, **selection)
    elapsed_s = getattr(report, "elapsed_s", None) or (time.monotonic() - started)
    if rt.opt("json"):
        rt.output.json(report)
    else:
        rt.output.line(
            f"downloaded {report.downloaded}, skipped {report.skipped} (already on disk), "
            f"failed {report.failed}; "
            f"{format_bytes(report.bytes)} in {elapsed_s:.1f} s ({format_rate(report.bytes, elapsed_s)}); "
            f"manifest: {report.manifest_path}"
        )
    if report.failed:
        failures = list(report.failures)
        for failure in failures[:CLI_MAX_LISTED_FAILURES]:
            rt.output.note(f"failed: {failure.image_id}: {failure.error or 'unknown error'}")
        if len(failures) > CLI_MAX_LISTED_FAILURES:
            rt.output.note(f"... and {len(failures) - CLI_MAX_LISTED_FAILURES} more")
        rt.output.error(f"{report.failed} photo(s) failed (listed in {report.manifest_path}); run the same "
                        "command again to retry them, finished files are skipped")
        return EXIT_PARTIAL
    return EXIT_OK


async def _dry_run(rt: Runtime, client: NinePicClient, event: int, out: Path, selection: dict[str, Any]
                   ) -> int:
    """List what a download would fetch (and what is already on disk); write nothing."""
    from ..download import plan_originals

    planned = [p async for p in plan_originals(client, event, out, **selection)]
    counts = {a: sum(1 for p in planned if p.action == a) for a in ("download", "skip", "failed")}
    if rt.opt("json"):
        for item in planned:
            rt.output.json(item)
    else:
        words = {"download": "would download", "skip": "already on disk", "failed": "unavailable"}
        rows = [
            (p.image_id, p.filename, words[p.action] + (f" (resume from {p.resume_from_bytes} bytes)"
                                                        if p.resume_from_bytes else ""), p.error)
            for p in planned
        ]
        rt.output.table(("image_id", "filename", "action", "error"), rows, title=f"dry run: {out}")
    rt.output.note(
        f"dry run: {counts['download']} photo(s) would be downloaded to {out}, {counts['skip']} already on "
        f"disk, {counts['failed']} unavailable; nothing was written"
    )
    return EXIT_OK


@contextlib.contextmanager
def _silenced(*names: str) -> Iterator[None]:
    """Drop every record of the named loggers while the block runs."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.setLevel(level)
            lg.propagate = propagate


async def cmd_demo(rt: Runtime) -> int:
    """Start the simulator in-process and download its synthetic event with the real pipeline."""
    with contextlib.ExitStack() as stack:
        return await _demo(rt, stack)


async def _demo(rt: Runtime, stack: contextlib.ExitStack) -> int:
    from ..client import NinePicClient
    from ..testing import Simulator, SimulatorConfig

    out, _, _ = _check_download_args(rt)
    # The in-process simulator is an implementation detail of the demo: on Ctrl-C its server
    # logs every connection the cancelled downloads dropped. Keep those tracebacks off the screen.
    stack.enter_context(_silenced("aiohttp.server", "aiohttp.web", "ninepic_async.testing"))
    config = SimulatorConfig(photo_count=rt.args.photos, photo_size=DEMO_PHOTO_SIZE, seed=rt.args.seed)
    async with Simulator(config) as sim:
        if rt.args.storage_latency:
            sim.faults.storage_latency_s = rt.args.storage_latency
        rt.output.note(f"simulator: {sim.base_url} (org {sim.org_id}, event {sim.event_id}, "
                       f"{rt.args.photos} synthetic photos)")
        rt.ctx.base_url, rt.ctx.org_id, rt.ctx.event_id = sim.base_url, sim.org_id, sim.event_id
        async with NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url) as client:
            return await _download(rt, client, sim.event_id, out, {"whole_event": True},
                                   label=f"demo event {sim.event_id}")


def cmd_simulate(rt: Runtime) -> int:
    """Serve the simulator in the foreground with its standalone runner until Ctrl-C (exit 0)."""
    from ..testing import config_from_args, serve_forever

    try:
        config = config_from_args(rt.args)
    except ValueError as exc:
        raise CliError(f"bad simulator option: {exc}") from None
    rt.output.note(
        f"9Pic simulator: use the values below as --base-url/--org/--event/--api-key (or {ENV_BASE_URL}, "
        f"{ENV_ORG_ID}, {ENV_EVENT_ID}, {ENV_API_KEY}); Ctrl-C stops it"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, out=rt.output.stdout))
    return EXIT_OK


_ASYNC_COMMANDS: dict[str, Callable[[Runtime], Awaitable[int]]] = {
    "ping": cmd_ping,
    "events": cmd_events,
    "event": cmd_event,
    "photos": cmd_photos,
    "bib": cmd_bib,
    "faces": cmd_faces,
    "timeline": cmd_timeline,
    "video": cmd_video,
    "download": cmd_download,
    "demo": cmd_demo,
}


# ---------------------------------------------------------------------------------------
# running: logging, Ctrl-C, errors
# ---------------------------------------------------------------------------------------


class _RedactFilter(logging.Filter):
    """Masks the API key in every log record, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


@contextlib.contextmanager
def _logging_to(output: Output, verbose: bool) -> Iterator[None]:
    """Route the package's log records to stderr for this run: DEBUG with --verbose, else WARNING."""
    logger = logging.getLogger("ninepic_async")
    handler: logging.Handler
    if output.stderr_is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=output.err, show_path=False, show_time=verbose, markup=False)
    else:
        handler = logging.StreamHandler(output.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactFilter())
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    old_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _run_async(factory: Callable[[], Awaitable[int]]) -> tuple[int | None, bool]:
    """Run ``factory()`` in a new event loop; Ctrl-C cancels it. Returns (status, interrupted).

    A first SIGINT cancels the command's task so it can close its sessions; if cleanup takes
    longer than CLI_INTERRUPT_GRACE_S (or a second Ctrl-C arrives) the process exits 130 at once.
    """
    interrupted = threading.Event()
    watchdog: list[threading.Timer] = []

    def hard_exit() -> None:
        os._exit(EXIT_INTERRUPTED)

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed = False

        def on_sigint() -> None:
            if interrupted.is_set():
                hard_exit()
            interrupted.set()
            timer = threading.Timer(CLI_INTERRUPT_GRACE_S, hard_exit)
            timer.daemon = True
            timer.start()
            watchdog.append(timer)
            if task is not None:
                task.cancel()

        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGINT, on_sigint)
                installed = True
        try:
            return await factory()
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(runner()), False
    except (KeyboardInterrupt, asyncio.CancelledError):
        if interrupted.is_set() or not isinstance(sys.exc_info()[1], asyncio.CancelledError):
            return None, True
        raise
    finally:
        for timer in watchdog:
            timer.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ninepic`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    output = Output(json_mode=bool(getattr(args, "json", False)))
    rt = Runtime(args=args, output=output)
    verbose = bool(getattr(args, "verbose", False))
    with _logging_to(output, verbose):
        try:
            if args.command == "simulate":
                return cmd_simulate(rt)
            status, interrupted = _run_async(lambda: _ASYNC_COMMANDS[args.command](rt))
            if interrupted:
                output.note("interrupted: partial files (.part) are kept; run the same command again "
                            "to resume")
                return EXIT_INTERRUPTED
            return EXIT_OK if status is None else status
        except KeyboardInterrupt:
            output.note("interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:  # every expected failure becomes one line and an exit status
            described = describe_error(exc, rt.ctx)
            if described is None:
                output.error(f"internal error: {type(exc).__name__}: {redact(str(exc))} (please report it; "
                             "--verbose shows the traceback)")
                if verbose:
                    log.exception("internal error")
                return EXIT_SOFTWARE
            message, status = described
            output.error(message)
            return status
