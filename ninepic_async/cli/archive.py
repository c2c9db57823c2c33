"""``ninepic archive``: input checks, the two-line progress (whole archive, current event), the table.

It runs the library's :func:`~ninepic_async.download.archive.archive_events` with an
:class:`ArchiveProgress` as ``on_event``, then prints one row per event (downloaded, skipped,
failed, bytes) and exits with the worst event's status: 0 all complete, 1 some photos failed,
or the status of the worst event error (3 API, 4 unavailable, 5 destination).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .._constants import CLI_MAX_CONCURRENCY
from .._exceptions import NinePicError
from ..download import (
    ArchivePlanned,
    DownloadEvent,
    EventArchiveFinished,
    EventArchiveReport,
    EventArchiveStarted,
)
from .cluster import archive_on_cluster, check_cluster_args
from .download import (
    check_name_template,
    checked_out,
    checked_shard,
    download_status,
    transfer_keywords,
)
from .errors import (
    EXIT_NOTHING_FOUND,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SOFTWARE,
    EXIT_UNAVAILABLE,
    CliError,
    describe_error,
)
from .events_json import JsonProgress
from .network import limit_rate_bps
from .output import DownloadProgress, Output, format_bytes, format_rate, visible
from .runtime import Runtime

if TYPE_CHECKING:
    from ..client import NinePicClient
    from ..download import ArchiveEvent, ArchiveReport

__all__ = [
    "ArchiveJsonProgress",
    "ArchiveProgress",
    "check_archive_args",
    "cmd_archive",
    "event_exit_status",
    "print_table",
    "worst_status",
]


def _date(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option} {text!r} is not a date: use YYYY-MM-DD, e.g. 2025-05-01") from None


def _event_ids(texts: list[str]) -> list[int]:
    """The ids of every ``--events`` given (each comma-separated), in order, each once."""
    ids: list[int] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if not part.isascii() or not part.isdigit():
                raise CliError(f"--events {text!r}: {part!r} is not an event id (use --events 456,457)")
            ids.append(int(part))
    return list(dict.fromkeys(ids))


def check_archive_args(rt: Runtime) -> tuple[Path | str, dict[str, Any]]:
    """Validate archive input before anything is sent: (destination, archive_events keywords)."""
    args = rt.args
    if not 1 <= args.concurrency <= CLI_MAX_CONCURRENCY:
        raise CliError(f"--concurrency must be from 1 to {CLI_MAX_CONCURRENCY}, got {args.concurrency}")
    if not args.out.strip():
        raise CliError("--out is empty: give the archive's directory")
    if (args.events is None) == (not args.all_events):
        raise CliError("archive needs exactly one of --events ID[,ID...] or --all-events")
    since, until = _date("--since", args.since), _date("--until", args.until)
    if since is not None and until is not None and since > until:
        raise CliError(f"--since {since} is after --until {until}")
    out = checked_out(args.out)
    check_name_template(args, bib_ok=False)
    limit_rate_bps(rt)  # a bad --limit-rate is refused before anything is sent
    selection: dict[str, Any] = {"since": since, "until": until, "name_template": args.name_template}
    if getattr(args, "shard", None) is not None:
        if getattr(args, "cluster", None) is not None:
            raise CliError("--shard and --cluster do not go together: --cluster runs every shard itself")
        selection["shard"] = checked_shard(args.shard)
    if args.events is not None:
        selection["events"] = _event_ids(args.events)
    else:
        selection["all_events"] = True
    return out, selection


def event_exit_status(event: EventArchiveReport) -> int:
    """The exit status one event alone would give: ``ninepic download``'s for an event that ran
    (0 complete, 1 partial, 6 nothing found), else its error's (3, 4, 5)."""
    if event.status == "ok":
        return EXIT_OK
    if event.download is not None:
        return download_status(event.download)
    if event.exception is None:
        return EXIT_PARTIAL
    described = describe_error(event.exception)
    return EXIT_SOFTWARE if described is None else described[1]


class ArchiveProgress(DownloadProgress):
    """The download bar of the current event plus a line for the whole archive (events done of
    planned, files and bytes so far); without a terminal, a note as each event starts and ends."""

    def __init__(self, output: Output, *, live: bool | None = None) -> None:
        super().__init__(output, label="archive", live=live, items="events")
        self.events_total: int | None = None
        self.events_done = 0
        self.archive_files = 0
        self.archive_failed = 0
        self.archive_bytes = 0
        self._archive_started_at = time.monotonic()
        self._overall: Any = None
        self._in_event = False  # the current event's own counts are not in archive_* yet

    def __enter__(self) -> ArchiveProgress:
        super().__enter__()
        self._archive_started_at = time.monotonic()
        if self._progress is not None:
            self._overall = self._progress.add_task(
                self._overall_label(), total=None, files_done=0, files_total=None
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None and self._progress is not None and self._overall is not None:
            done = self._progress.tasks[-1].completed
            self._progress.update(self._overall, total=done, files_total=self.archive_files)
        super().__exit__(*exc_info)

    def __call__(self, event: DownloadEvent | ArchiveEvent) -> None:
        """``on_event`` of :func:`archive_events`: archive events here, file events to the bar."""
        if isinstance(event, ArchivePlanned):
            self.events_total = len(event.event_ids)
            if not self.live:
                self.output.note(f"archive: {self.events_total} event(s) planned")
            self._refresh_overall()
        elif isinstance(event, EventArchiveStarted):
            self._start_event(event)
        elif isinstance(event, EventArchiveFinished):
            self._finish_event(event.report)
        else:
            super().__call__(event)
            self._refresh_overall()

    def _overall_label(self) -> str:
        total = "?" if self.events_total is None else str(self.events_total)
        return f"archive: {self.events_done}/{total} events"

    def _start_event(self, event: EventArchiveStarted) -> None:
        self.label = visible(f"event {event.event_id} ({event.number}/{event.total})")
        self._start_counting()
        self._in_event = True
        self.items = "photos"
        if self._progress is not None and self._task is not None:
            self._progress.reset(
                self._task,
                description=escape(self.label),
                total=None,
                files_done=0,
                files_total=None,
                listing=True,
                items=self.items,
            )
        else:
            self.output.note(f"{self.label}: into {event.folder}")

    def _finish_event(self, report: EventArchiveReport) -> None:
        self._in_event = False
        self.events_done += 1
        self.archive_files += report.downloaded + report.skipped + report.failed
        self.archive_failed += report.failed
        self.archive_bytes += report.bytes
        if not self.live:
            self.output.note(f"{self.label}: {_outcome(report)}")
        elif report.status == "failed" and self._progress is not None:
            self._progress.console.print(Text(visible(f"event {report.event_id} failed: {report.error}")))
            if self._task is not None:  # its bar stops saying "listing photos…"
                self._listing = False
                self._progress.update(self._task, description=escape(f"{self.label} failed"), listing=False)
        self._refresh_overall()

    def _refresh_overall(self) -> None:
        if self._progress is None or self._overall is None:
            return
        current = self._in_event
        done_bytes = self.archive_bytes + (self.bytes_transferred if current else 0)  # as report.bytes
        elapsed_s = time.monotonic() - self._archive_started_at
        self._progress.update(
            self._overall,
            description=self._overall_label(),
            completed=done_bytes,
            files_done=self.archive_files + (self.files_done if current else 0),
            failed=self.archive_failed + (self.failed if current else 0),
            rate_bps=done_bytes / elapsed_s if elapsed_s > 0 else None,
        )


class ArchiveJsonProgress(JsonProgress):
    """``--progress json`` of ``archive``: the download's JSON Lines events (see
    :mod:`.events_json`) framed by ``{"type": "archive_planned", "events": [ids]}``,
    ``{"type": "event_started", "event_id", "folder", "number", "total"}`` and
    ``{"type": "event_finished", "event_id", "folder", "status", "downloaded", "skipped",
    "failed", "missing", "not_found", "bytes", "error"}``; the last line is ``archive_summary``."""

    def __call__(self, event: DownloadEvent | ArchiveEvent) -> None:
        """``on_event`` of :func:`archive_events`: one JSON line per event but byte counts."""
        if isinstance(event, ArchivePlanned):
            self.output.event({"type": "archive_planned", "events": list(event.event_ids)})
        elif isinstance(event, EventArchiveStarted):
            self.output.event(
                {
                    "type": "event_started",
                    "event_id": event.event_id,
                    "folder": event.folder,
                    "number": event.number,
                    "total": event.total,
                }
            )
        elif isinstance(event, EventArchiveFinished):
            self.output.event({"type": "event_finished", **_event_json(event.report)})
        else:
            super().__call__(event)


def _retryable(event: EventArchiveReport) -> bool:
    """Whether a rerun as it is could finish ``event``: the API was unavailable, or photos failed
    that may exist (an event the API refused, or whose folder cannot be written, needs a fix first)."""
    if event.status == "ok":
        return False
    download = event.download
    if download is None:
        return event_exit_status(event) in (EXIT_UNAVAILABLE, EXIT_PARTIAL)
    return download.missing > 0 or download.failed > download.not_found


def _needs_fix(event: EventArchiveReport) -> bool:
    """An event that did not run for a reason a rerun alone will not change (3 refused, 5 destination)."""
    return event.status != "ok" and event.download is None and not _retryable(event)


def worst_status(statuses: list[int]) -> int:
    """The archive's exit status: its worst event's, where 6 (nothing to download, a rerun will not
    help) ranks below 1 and the errors, so it never hides an event that could be retried or fixed."""
    return max(statuses, default=EXIT_OK, key=lambda s: 0.5 if s == EXIT_NOTHING_FOUND else float(s))


def _advice(report: ArchiveReport) -> str:
    """What the closing error line tells the user to do next."""
    parts = []
    if any(_retryable(e) for e in report.events):
        parts.append("run the same command again to retry them, finished photos are skipped")
    if any(_needs_fix(e) for e in report.events):
        parts.append(
            "fix the error the table shows for an event that did not run (its id, access or folder) first"
        )
    return "; ".join(parts) or "their failed photos do not exist: running again will not fetch them"


def _outcome(report: EventArchiveReport) -> str:
    if report.status == "failed":
        return f"failed: {report.error}"
    return (
        f"{report.status}: downloaded {report.downloaded}, skipped {report.skipped}, "
        f"failed {report.failed}, {format_bytes(report.bytes)}"
    )


_COLUMNS = ("event", "folder", "status", "downloaded", "skipped", "failed", "bytes", "error")
_NUMERIC = frozenset({"event", "downloaded", "skipped", "failed", "bytes"})


def _rows(report: ArchiveReport) -> list[tuple[str, ...]]:
    return [
        (
            str(e.event_id),
            e.folder,
            e.status,
            str(e.downloaded),
            str(e.skipped),
            str(e.failed + e.missing),
            str(e.bytes),
            e.error or "-",
        )
        for e in report.events
    ]


def print_table(output: Output, report: ArchiveReport) -> None:
    """One row per event: a rich table (numbers right-aligned, sizes for people) on a terminal,
    tab-separated lines with exact byte counts when piped. On a terminal each failed event's
    error follows the table on a line of its own, so its URL stays whole (copyable) and the
    table narrow; no cell is cut: a terminal narrower than the table wraps its lines."""
    rows = [tuple(visible(cell) for cell in row) for row in _rows(report)]
    if not output.stdout_is_terminal:
        output.line("\t".join(_COLUMNS))
        for row in rows:
            output.line("\t".join(row))
        return
    size_at = _COLUMNS.index("bytes")
    columns = _COLUMNS[: _COLUMNS.index("error")]
    shown = [
        [*row[:size_at], format_bytes(event.bytes), *row[size_at + 1 : len(columns)]]
        for row, event in zip(rows, report.events, strict=True)
    ]
    table = Table(title=f"archive: {report.out}", header_style="bold")
    needed = 1  # the left border; each column adds its width, 2 of padding and a border
    for index, column in enumerate(columns):
        width = max([len(column), *(cell_len(row[index]) for row in shown)])
        justify: JustifyMethod = "right" if column in _NUMERIC else "left"
        table.add_column(column, justify=justify, no_wrap=True, min_width=width)
        needed += width + 3
    for cells in shown:
        table.add_row(*(Text(cell) for cell in cells))
    terminal_width = output.out.width
    output.out.width = max(needed, terminal_width)  # print(width=) cannot go past the console's
    try:
        output.out.print(table, crop=False)
    finally:
        output.out.width = terminal_width
    for event in report.events:
        if event.error:
            output.out.print(Text(visible(f"event {event.event_id}: {event.error}")), soft_wrap=True)


def _as_json(report: ArchiveReport) -> dict[str, Any]:
    return {
        "out": report.out,
        "status": report.status,
        "downloaded": report.downloaded,
        "skipped": report.skipped,
        "failed": report.failed,
        "bytes": report.bytes,
        "events": [_event_json(e) for e in report.events],
    }


def _event_json(e: EventArchiveReport) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "folder": e.folder,
        "name": e.name,
        "event_date": e.event_date,
        "status": e.status,
        "downloaded": e.downloaded,
        "skipped": e.skipped,
        "failed": e.failed,
        "missing": e.missing,
        "not_found": e.download.not_found if e.download is not None else 0,
        "bytes": e.bytes,
        "error": e.error,
        "manifest": e.download.manifest_path if e.download is not None else None,
    }


async def _dry_run(rt: Runtime, client: NinePicClient, out: Path, selection: dict[str, Any]) -> int:
    """Per chosen event: what a run would download, what is on disk, what is unavailable; writes nothing."""
    from ..download import plan_originals
    from ..download.archive import chosen_events, event_folder_name

    template = selection.pop("name_template")
    rows: list[dict[str, Any]] = []
    statuses: list[int] = []
    for event in await chosen_events(client, **selection):
        row: dict[str, Any] = {
            "event_id": event.event_id,
            "folder": event.folder if isinstance(event, EventArchiveReport) else event_folder_name(event),
            "download": 0,
            "skip": 0,
            "failed": 0,
            "error": None,
        }
        if isinstance(event, EventArchiveReport):
            row["error"] = event.error
            statuses.append(event_exit_status(event))
        else:
            try:
                async for item in plan_originals(
                    client, event.event_id, out / row["folder"], whole_event=True, name_template=template
                ):
                    row[item.action] += 1
            except NinePicError as exc:
                described = describe_error(exc)
                row["error"] = described[0] if described is not None else str(exc)
                statuses.append(EXIT_SOFTWARE if described is None else described[1])
        rows.append(row)
    if rt.opt("json"):
        for row in rows:
            rt.output.json(row)
    else:
        columns = ("event", "folder", "would download", "on disk", "unavailable", "error")
        keys = ("event_id", "folder", "download", "skip", "failed", "error")
        rt.output.table(columns, [[row[k] for k in keys] for row in rows], title=f"dry run: {out}")
    rt.output.note(
        f"dry run: {len(rows)} event(s), {sum(r['download'] for r in rows)} photo(s) would be downloaded to "
        f"{out}, {sum(r['skip'] for r in rows)} already on disk, {sum(r['failed'] for r in rows)} "
        "unavailable; nothing was written",
        essential=True,
    )
    return worst_status(statuses)


async def cmd_archive(rt: Runtime) -> int:
    """Every photo of each chosen event into ``--out/<event_id>-<slug>/``, one manifest each."""
    from ..download import archive_events

    out, selection = check_archive_args(rt)
    cluster = check_cluster_args(rt) if getattr(rt.args, "cluster", None) is not None else None
    if rt.args.dry_run:
        if not isinstance(out, Path):
            raise CliError("--dry-run needs a directory --out, not a bucket")
        async with rt.client() as client:
            rt.ctx.subject = f"the events of org {client.org_id}"
            return await _dry_run(rt, client, out, selection)
    transfer = transfer_keywords(rt)
    started = time.monotonic()
    async with rt.client() as client:
        rt.ctx.subject = f"the events of org {client.org_id}"
        progress: ArchiveProgress | ArchiveJsonProgress
        if rt.opt("progress") == "json":
            progress = ArchiveJsonProgress(rt.output, label=f"archive {out}", command="archive")
            rt.retry_listener = progress.api_retry
        else:
            progress = ArchiveProgress(rt.output)
        try:
            with progress:
                if cluster is not None:
                    report = await archive_on_cluster(
                        rt, cluster, out, selection, transfer["concurrency"], progress
                    )
                else:
                    report = await archive_events(
                        client,
                        out,
                        on_event=progress,
                        **transfer,
                        **selection,
                    )
        finally:
            rt.retry_listener = None
    elapsed_s = time.monotonic() - started
    if rt.opt("json"):
        rt.output.json(_as_json(report))
    else:
        print_table(rt.output, report)
    rt.output.note(
        f"{len(report.events)} event(s): downloaded {report.downloaded}, skipped {report.skipped}, "
        f"failed {report.failed}; {format_bytes(report.bytes)} in {elapsed_s:.1f} s "
        f"({format_rate(report.bytes, elapsed_s)})"
    )
    if not report.events:
        why = (
            "none is dated within --since/--until"
            if rt.args.since or rt.args.until
            else "the organisation has none"
        )
        rt.output.note(f"no event to archive: {why}", essential=True)
    statuses = [event_exit_status(e) for e in report.events]
    worst = worst_status(statuses)
    if worst != EXIT_OK:
        bad = sum(1 for s in statuses if s != EXIT_OK)
        rt.output.error(
            f"{bad} of {len(statuses)} event(s) did not complete (see the table); {_advice(report)}"
        )
    if isinstance(progress, ArchiveJsonProgress):
        rt.output.event({"type": "archive_summary", **_as_json(report), "exit_status": worst})
    return worst
