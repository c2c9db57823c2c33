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

from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .._constants import CLI_MAX_CONCURRENCY
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
from .errors import EXIT_OK, EXIT_PARTIAL, EXIT_SOFTWARE, CliError, describe_error
from .events_json import JsonProgress
from .network import limit_rate_bps
from .output import DownloadProgress, Output, format_bytes, format_rate, visible
from .runtime import Runtime

if TYPE_CHECKING:
    from ..download import ArchiveEvent, ArchiveReport

__all__ = [
    "ArchiveJsonProgress",
    "ArchiveProgress",
    "check_archive_args",
    "cmd_archive",
    "event_exit_status",
    "print_table",
]


def _date(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option} {text!r} is not a date: use YYYY-MM-DD, e.g. 2025-05-01") from None


def _event_ids(text: str) -> list[int]:
    ids: list[int] = []
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
        super().__init__(output, label="archive", live=live)
        self.events_total: int | None = None
        self.events_done = 0
        self.archive_files = 0
        self.archive_failed = 0
        self.archive_bytes = 0
        self._archive_started_at = time.monotonic()
        self._overall: Any = None

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
        self.files_total, self.files_done = None, 0
        self.downloaded = self.skipped = self.failed = self.bytes_received = 0
        self._sizes.clear()
        self._samples.clear()
        self._listing = True
        self._started_at = self._last_line_at = time.monotonic()
        if self._progress is not None and self._task is not None:
            self._progress.reset(
                self._task,
                description=escape(self.label),
                total=None,
                files_done=0,
                files_total=None,
                listing=True,
            )
        else:
            self.output.note(f"{self.label}: into {event.folder}")

    def _finish_event(self, report: EventArchiveReport) -> None:
        self.events_done += 1
        self.archive_files += report.downloaded + report.skipped + report.failed
        self.archive_failed += report.failed
        self.archive_bytes += report.bytes
        if not self.live:
            self.output.note(f"{self.label}: {_outcome(report)}")
        elif report.status == "failed" and self._progress is not None:
            self._progress.console.print(Text(visible(f"event {report.event_id} failed: {report.error}")))
        self._refresh_overall()

    def _refresh_overall(self) -> None:
        if self._progress is None or self._overall is None:
            return
        done_bytes = self.archive_bytes + self.bytes_received
        elapsed_s = time.monotonic() - self._archive_started_at
        self._progress.update(
            self._overall,
            description=self._overall_label(),
            completed=done_bytes,
            files_done=self.archive_files + self.files_done,
            failed=self.archive_failed + self.failed,
            rate_bps=done_bytes / elapsed_s if elapsed_s > 0 else None,
        )


class ArchiveJsonProgress(JsonProgress):
    """``--progress json`` of ``archive``: the download's JSON Lines events (see
    :mod:`.events_json`) framed by ``{"type": "archive_planned", "events": [ids]}``,
    ``{"type": "event_started", "event_id", "folder", "number", "total"}`` and
    ``{"type": "event_finished", "event_id", "folder", "status", "downloaded", "skipped",
    "failed", "missing", "bytes", "error"}``; the last line is ``archive_summary``."""

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
    """Whether a rerun could finish ``event``: it did not run, or photos failed that may exist."""
    if event.status == "ok":
        return False
    download = event.download
    return download is None or download.missing > 0 or download.failed > download.not_found


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
    """One row per event: a rich table (numbers right-aligned and never cut, sizes for people)
    on a terminal, tab-separated lines with exact byte counts when piped."""
    rows = [tuple(visible(cell) for cell in row) for row in _rows(report)]
    if not output.stdout_is_terminal:
        output.line("\t".join(_COLUMNS))
        for row in rows:
            output.line("\t".join(row))
        return
    table = Table(title=f"archive: {report.out}", header_style="bold")
    for column in _COLUMNS:
        if column in _NUMERIC or column == "status":  # never cut: a narrow terminal folds the text columns
            justify: JustifyMethod = "right" if column in _NUMERIC else "left"
            table.add_column(column, justify=justify, no_wrap=True, min_width=len(column))
        else:
            table.add_column(column, overflow="fold")
    size_at = _COLUMNS.index("bytes")
    for row, event in zip(rows, report.events, strict=True):
        cells = [*row[:size_at], format_bytes(event.bytes), *row[size_at + 1 :]]
        table.add_row(*(Text(cell) for cell in cells))
    output.out.print(table)


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
        "bytes": e.bytes,
        "error": e.error,
        "manifest": e.download.manifest_path if e.download is not None else None,
    }


async def cmd_archive(rt: Runtime) -> int:
    """Every photo of each chosen event into ``--out/<event_id>-<slug>/``, one manifest each."""
    from ..download import archive_events

    out, selection = check_archive_args(rt)
    cluster = check_cluster_args(rt) if getattr(rt.args, "cluster", None) is not None else None
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
    statuses = [event_exit_status(e) for e in report.events]
    worst = max(statuses, default=EXIT_OK)
    if worst != EXIT_OK:
        bad = sum(1 for s in statuses if s != EXIT_OK)
        advice = (
            "run the same command again to retry them, finished photos are skipped"
            if any(_retryable(e) for e in report.events)
            else "their failed photos do not exist: running again will not fetch them"
        )
        rt.output.error(f"{bad} of {len(statuses)} event(s) did not complete (see the table); {advice}")
    if isinstance(progress, ArchiveJsonProgress):
        rt.output.event({"type": "archive_summary", **_as_json(report), "exit_status": worst})
    return worst
