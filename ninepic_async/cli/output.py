"""What `ninepic` prints: rich tables on a terminal, plain tab-separated lines when piped,
JSON with ``--json``, and download and check progress (rich on a terminal, quiet lines otherwise).

Data goes to stdout; notes, progress and errors go to stderr, so ``ninepic photos | cut -f1``
and ``ninepic photos --json | jq`` see data only.
"""

from __future__ import annotations

import os
import sys
import time
import unicodedata
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from .._constants import CLI_PLAIN_PROGRESS_INTERVAL_S, CLI_RATE_WINDOW_S
from .._exceptions import redact
from ..download import BytesReceived, DownloadEvent, FileFinished, FileStarted, PlannedEvent

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from ..download.check import CheckedFile

__all__ = [
    "CheckProgress",
    "DownloadProgress",
    "Output",
    "format_bytes",
    "format_rate",
]


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` as a short decimal size: ``"12.3 MB"``."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def format_rate(n_bytes: float, elapsed_s: float) -> str:
    """Average transfer rate of ``n_bytes`` over ``elapsed_s`` seconds: ``"4.1 MB/s"``."""
    return f"{format_bytes(n_bytes / elapsed_s)}/s" if elapsed_s > 0 else "-"


_LEGACY_ALIASES = frozenset({"widht", "thumbanail_url", "orginal_url"})
"""ImageItem fields that only carry old deployments' misspellings; always null once decoded."""


def _without_legacy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_legacy(v) for k, v in data.items() if not (k in _LEGACY_ALIASES and v is None)}
    if isinstance(data, list):
        return [_without_legacy(v) for v in data]
    return data


def visible(text: str) -> str:
    """``text`` with control and format characters (ESC, CR, bidi overrides, ...) shown as escapes.

    Server-supplied strings (filenames, error texts, ids) reach the terminal through this, so a
    hostile value cannot move the cursor, recolour or rewrite what the user sees.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) not in ("Cc", "Cf") else ascii(ch)[1:-1]
        for ch in text
    )


def _numeric(values: Sequence[object]) -> bool:
    """A column of numbers (None allowed): right-aligned."""
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)


def _identifier(text: str) -> bool:
    """A long value without spaces (UUID, URL, path): never broken inside a table cell."""
    return len(text) > 12 and not any(ch.isspace() for ch in text)


def _may_be_terminal(stream: TextIO) -> bool:
    """Whether rich could call ``stream`` a terminal (its ``Console.is_terminal`` rules:
    ``TTY_COMPATIBLE``, ``FORCE_COLOR``, then ``isatty``). False means plain lines for sure,
    without loading rich; True is settled by rich's own ``Console``."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return visible(str(value))


class Output:
    """The two streams of one command run, and how data is shown on them.

    ``stdout``/``stderr`` default to the current ``sys.stdout``/``sys.stderr`` (read when the
    object is made, so pytest's capture works). ``json_mode`` switches data to JSON.
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        stderr_json: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.stdout: TextIO = stdout if stdout is not None else sys.stdout
        self.stderr: TextIO = stderr if stderr is not None else sys.stderr
        self.json_mode = json_mode
        self.quiet = quiet
        """-q: notes (progress, retries, hints) are dropped; warnings and errors still show."""
        self.stderr_json = stderr_json
        """--progress json: stderr carries JSON Lines only (notes, warnings and errors become
        ``{"type": "note"|"warning"|"error", "message": ...}``)."""
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        """The rich console on stdout, made (and rich loaded) on first use: only for a terminal."""
        if self._out is None:
            from rich.console import Console

            self._out = Console(file=self.stdout, highlight=False)
        return self._out

    @out.setter
    def out(self, console: Console) -> None:
        self._out = console

    @property
    def err(self) -> Console:
        """The rich console on stderr, made (and rich loaded) on first use: only for a terminal."""
        if self._err is None:
            from rich.console import Console

            self._err = Console(file=self.stderr, highlight=False)
        return self._err

    @err.setter
    def err(self, console: Console) -> None:
        self._err = console

    @property
    def stdout_is_terminal(self) -> bool:
        """True when data goes to a terminal (rich tables) rather than a pipe or file (plain lines)."""
        if self._out is None and not _may_be_terminal(self.stdout):
            return False
        return self.out.is_terminal

    @property
    def err_is_terminal(self) -> bool:
        """True when stderr is a terminal (by rich's rules), whatever -q or ``--progress json`` say."""
        if self._err is None and not _may_be_terminal(self.stderr):
            return False
        return self.err.is_terminal

    @property
    def stderr_is_terminal(self) -> bool:
        """True when progress can be drawn as a live bar or spinner (never with -q or JSON events)."""
        return not self.quiet and not self.stderr_json and self.err_is_terminal

    def event(self, obj: dict[str, Any]) -> None:
        """One JSON Lines event on stderr (``--progress json``); see :mod:`.events_json`."""
        self.stderr.write(redact(msgspec.json.encode(obj).decode()) + "\n")
        self.stderr.flush()

    # --- data (stdout) ---------------------------------------------------------------
    def json(self, obj: Any) -> None:
        """One JSON document (or one JSON Lines line) of ``obj`` (structs, dataclasses, dicts).

        The always-null legacy misspellings of ImageItem (``widht``, ...) are left out.
        """
        self.stdout.write(msgspec.json.encode(_without_legacy(msgspec.to_builtins(obj))).decode() + "\n")
        self.stdout.flush()

    def line(self, text: str) -> None:
        """A plain line of data on stdout."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        title: str | None = None,
        caption: str | None = None,
        header: bool = True,
    ) -> None:
        """Rows as a rich table on a terminal, else as tab-separated lines (header first).

        On a pipe the title is dropped and the caption goes to stderr, so stdout stays data.
        """
        raw = [list(row) for row in rows]
        cells = [[_cell(v) for v in row] for row in raw]
        if self.stdout_is_terminal:
            from rich.cells import cell_len
            from rich.table import Table
            from rich.text import Text

            table = Table(title=title, caption=caption, show_header=header, header_style="bold")
            needed = 1  # the left border; each column adds its width, 2 of padding and a border
            for index, column in enumerate(columns):
                values = [row[index] for row in raw if index < len(row)]
                texts = [row[index] for row in cells if index < len(row)]
                heading = cell_len(column) if header else 1
                if _numeric(values):
                    table.add_column(column, justify="right", no_wrap=True)
                    needed += max([heading, *(cell_len(t) for t in texts)]) + 3
                elif any(_identifier(text) for text in texts):  # a UUID or URL: kept whole, to copy it
                    table.add_column(column, no_wrap=True, overflow="ignore")
                    needed += max([heading, *(cell_len(t) for t in texts)]) + 3
                else:
                    table.add_column(column, overflow="fold")
                    words = [cell_len(w) for t in texts for w in t.split()]
                    needed += max([min(heading, 12), *(min(w, 12) for w in words)]) + 3
            for row in cells:
                table.add_row(*(Text(c) for c in row))
            # Wider than the terminal when ids and URLs need it: the terminal wraps the line, the
            # value stays in one piece (copyable), unlike a value folded inside its cell.
            terminal_width = self.out.width
            self.out.width = max(needed, terminal_width)  # print(width=) cannot go past the console's
            try:
                self.out.print(table, crop=False)
            finally:
                self.out.width = terminal_width
            return
        if header:
            self.line("\t".join(columns))
        for row in cells:
            self.line("\t".join(row))
        if caption:
            self.note(caption)

    def fields(self, pairs: Sequence[tuple[str, object]], *, title: str | None = None) -> None:
        """Key/value pairs: a two-column table on a terminal, ``key<TAB>value`` lines when piped."""
        self.table(("field", "value"), pairs, title=title, header=False)

    # --- notes (stderr) ----------------------------------------------------------------
    def _to_stderr(self, text: str, style: str = "", kind: str = "note", **fields: Any) -> None:
        if self.stderr_json:
            self.event({"type": kind, "message": redact(text), **fields})
            return
        text = visible(redact(text))
        if self.err_is_terminal:
            from rich.text import Text

            self.err.print(Text(text, style=style), soft_wrap=True)
        else:  # one message, one line: no wrapping at 80 columns when captured or piped
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def note(self, text: str, *, essential: bool = False) -> None:
        """A human note on stderr (never data); dropped with -q unless ``essential`` (a summary,
        an id the user needs next, why the command stopped)."""
        if essential or not self.quiet:
            self._to_stderr(text)

    def error(self, text: str, exit_status: int | None = None) -> None:
        """The one ``error: ...`` line of a failed command, on stderr (the JSON event also carries
        the ``exit_status`` the command returns, when given)."""
        if self.stderr_json:
            extra: dict[str, Any] = {} if exit_status is None else {"exit_status": exit_status}
            self._to_stderr(text, kind="error", **extra)
        else:
            self._to_stderr("error: " + text, "bold red")

    def warning(self, text: str) -> None:
        """A ``warning: ...`` line on stderr (shown with -q too)."""
        if self.stderr_json:
            self._to_stderr(text, kind="warning")
        else:
            self._to_stderr("warning: " + text, "yellow")


class DownloadProgress:
    """Turns the downloader's progress events into a live rich bar (terminal) or quiet lines.

    Use as a context manager and pass the instance as ``on_event``. The bar shows files done
    of planned, bytes received, the transfer rate and an ETA. The byte total is an estimate:
    sizes of started files plus their average for the files not started yet. Without a
    terminal it prints the plan, each failure, and a progress line at most every
    ``CLI_PLAIN_PROGRESS_INTERVAL_S`` seconds.
    """

    def __init__(
        self, output: Output, *, label: str = "downloading", live: bool | None = None, items: str = "photos"
    ) -> None:
        self.output = output
        self.live = output.stderr_is_terminal if live is None else live
        self.label = label
        self.items = items
        """What is downloaded, for "listing photos…"."""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._start_counting()

    def _start_counting(self) -> None:
        """Zero the counts of one selection: a new display, or an archive's next event."""
        self.files_total: int | None = None
        self.files_done = self.downloaded = self.skipped = self.failed = self.bytes_received = 0
        self.bytes_resumed = 0
        """Of ``bytes_received``: what resumed ``.part`` files already held (in the bar, not the rate)."""
        self._sizes: dict[str, int | None] = {}
        self._samples: deque[tuple[float, int]] = deque()
        self._listing = True
        """Until the selection's size is known: the bar says "listing photos…" instead of 0/?."""
        self._started_at = self._last_line_at = time.monotonic()

    def __enter__(self) -> DownloadProgress:
        self._started_at = self._last_line_at = time.monotonic()
        if self.live:
            from .bars import download_bar

            self._progress, self._task = download_bar(self.output.err, self.label, self.items)
        else:
            self.output.note(f"{self.label}: listing {self.items}…")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None and self._task is not None:
            task = self._progress.tasks[0]
            if exc_info[0] is None:
                self._progress.update(self._task, total=task.completed)
            self._progress.stop()
        self._progress = None

    def __call__(self, event: DownloadEvent) -> None:
        """The downloader's ``on_event`` callback: dispatch one progress event."""
        if isinstance(event, BytesReceived):
            self.received(event.image_id, event.n)
        elif isinstance(event, FileStarted):
            self.started(event.image_id, event.size, event.offset_bytes)
        elif isinstance(event, FileFinished):
            self.finished(event.result.image_id, event.result.status, event.result.error)
        elif isinstance(event, PlannedEvent):
            self.planned(event.total_files)

    # --- event handlers (called by the downloader, in the event loop) -------------------
    def planned(self, total_files: int | None) -> None:
        """The selection is known to hold ``total_files`` files (``None``: not known yet)."""
        self.files_total = total_files
        self._listing = False
        if not self.live and total_files is not None:
            self.output.note(f"{self.label}: {total_files} files planned")
        self._refresh()

    def started(self, image_id: str, size_bytes: int | None, offset_bytes: int = 0) -> None:
        """A file transfer began: ``size_bytes`` is the full size when known, ``offset_bytes``
        what a resumed ``.part`` already holds (counted as received, so the bar starts there)."""
        self._sizes[image_id] = size_bytes
        self.bytes_received += offset_bytes
        self.bytes_resumed += offset_bytes
        self._refresh()

    def received(self, image_id: str, n_bytes: int) -> None:
        """``n_bytes`` more bytes of ``image_id`` arrived."""
        self.bytes_received += n_bytes
        self._refresh()

    def finished(self, image_id: str, status: str, error: str | None) -> None:
        """One file reached an outcome: ``ok``, ``skipped`` (already on disk) or ``failed``."""
        self.files_done += 1
        if status == "ok":
            self.downloaded += 1
        elif status == "skipped":
            self.skipped += 1
            self._sizes.pop(image_id, None)
        else:
            self.failed += 1
            if not self.live:
                self.output.note(f"failed: {image_id}: {error or 'unknown error'}")
            elif self._progress is not None:
                from rich.text import Text

                self._progress.console.print(
                    Text(visible(f"failed: {image_id}: {redact(error or 'unknown error')}"))
                )
        self._refresh()

    def _estimated_total_bytes(self) -> int | None:
        if self.files_total is None:
            return None
        known = [s for s in self._sizes.values() if s is not None]
        if not known:
            return None
        remaining = max(0, self.files_total - self.skipped - len(self._sizes))
        average = sum(known) / len(known)
        return int(sum(known) + average * (remaining + len(self._sizes) - len(known)))

    @property
    def bytes_transferred(self) -> int:
        """Bytes received from the store in this run (resumed ``.part`` contents left out)."""
        return self.bytes_received - self.bytes_resumed

    def rate_bps(self, now: float) -> float | None:
        """Bytes per second transferred over the last CLI_RATE_WINDOW_S seconds (since the start
        if shorter); bytes a resumed ``.part`` already held are not a transfer."""
        transferred = self.bytes_transferred
        if not self._samples or self._samples[-1][0] < now - 0.01:
            self._samples.append((now, transferred))
        while len(self._samples) > 2 and self._samples[1][0] < now - CLI_RATE_WINDOW_S:
            self._samples.popleft()
        first_at, first_bytes = self._samples[0]
        if now - first_at < 0.5:
            first_at, first_bytes = self._started_at, 0
        span_s = now - first_at
        return (transferred - first_bytes) / span_s if span_s > 0 else None

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._progress is not None and self._task is not None:
            total = self._estimated_total_bytes()
            if total is not None:
                total = max(total, self.bytes_received)
            rate = self.rate_bps(now)
            eta_s = (total - self.bytes_received) / rate if total is not None and rate else None
            self._progress.update(
                self._task,
                completed=self.bytes_received,
                total=total,
                files_done=self.files_done,
                files_total=self.files_total,
                listing=self._listing,
                failed=self.failed,
                rate_bps=rate,
                eta_s=eta_s,
            )
            return
        if not self.live and now - self._last_line_at >= CLI_PLAIN_PROGRESS_INTERVAL_S:
            self._last_line_at = now
            planned = "?" if self.files_total is None else str(self.files_total)
            self.output.note(
                f"{self.label}: {self.files_done}/{planned} files, {format_bytes(self.bytes_received)}, "
                f"{format_rate(self.bytes_transferred, now - self._started_at)}"
            )


class CheckProgress:
    """Progress of ``ninepic check``: a spinner with the files checked so far (terminal), or a
    quiet line at most every ``CLI_PLAIN_PROGRESS_INTERVAL_S`` seconds.

    Use as a context manager and pass the instance as ``on_progress``. The problems themselves
    are listed once the check is over (on stdout), not while it runs.
    """

    def __init__(self, output: Output, *, label: str = "checking", live: bool | None = None) -> None:
        self.output = output
        self.live = output.stderr_is_terminal if live is None else live
        self.label = label
        self.checked = 0
        self.problems = 0
        self._last_line_at = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> CheckProgress:
        self._last_line_at = time.monotonic()
        if self.live:
            from .bars import check_spinner

            self._progress, self._task = check_spinner(self.output.err, self.label)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None

    def __call__(self, result: CheckedFile) -> None:
        """The checker's ``on_progress`` callback: count one decided file."""
        self.checked += 1
        if result.status in ("missing", "changed", "extra"):
            self.problems += 1
        now = time.monotonic()
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, checked=self.checked, problems=self.problems)
        elif not self.live and now - self._last_line_at >= CLI_PLAIN_PROGRESS_INTERVAL_S:
            self._last_line_at = now
            self.output.note(f"{self.label}: {self.checked} files checked, {self.problems} problems so far")
