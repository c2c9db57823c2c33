"""The live displays of a terminal: the download bar and the check spinner (rich).

Imported only when stderr is a terminal, so a piped or scripted ``ninepic`` never loads rich's
progress machinery; :mod:`.output` decides and keeps the counts.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.table import Column
from rich.text import Text

from .output import format_bytes, visible

__all__ = ["check_spinner", "download_bar"]


class _FilesColumn(ProgressColumn):
    """``12/200 files`` (and failures in red) from the task's fields."""

    def render(self, task: Task) -> Text:
        done = task.fields.get("files_done", 0)
        total = task.fields.get("files_total")
        failed = task.fields.get("failed", 0)
        if task.fields.get("listing") and not done:
            return Text(f"listing {task.fields.get('items', 'photos')}…", style="progress.remaining")
        text = Text(f"{done}/{total if total is not None else '?'} files")
        if failed:
            text.append(f" ({failed} failed)", style="red")
        return text


class _RateColumn(ProgressColumn):
    """Bytes per second over the last few seconds (``rate_bps`` field)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate_bps")
        return Text(f"{format_bytes(rate)}/s" if rate else "-- B/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    """``ETA m:ss`` from the ``eta_s`` field (``ETA --:--`` while unknown)."""

    def render(self, task: Task) -> Text:
        eta = task.fields.get("eta_s")
        if task.finished:
            return Text("done", style="progress.remaining")
        if eta is None:
            return Text("ETA --:--", style="progress.remaining")
        minutes, seconds = divmod(int(eta + 0.5), 60)
        hours, minutes = divmod(minutes, 60)
        clock = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        return Text(f"ETA {clock}", style="progress.remaining")


def _bar_columns(width: int) -> list[ProgressColumn]:
    """The download bar's columns, each on one line: on a narrow terminal the bar gets shorter
    and the rate and byte columns go, so a bar never wraps onto a second line."""
    one_line = Column(no_wrap=True)
    columns: list[ProgressColumn] = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}", table_column=one_line),
        BarColumn(bar_width=40 if width >= _WIDE else 10),
        _FilesColumn(table_column=Column(no_wrap=True)),
    ]
    if width >= _WIDE:
        columns += [
            DownloadColumn(table_column=Column(no_wrap=True)),
            _RateColumn(table_column=Column(no_wrap=True)),
        ]
    return [*columns, _EtaColumn(table_column=Column(no_wrap=True))]


_WIDE = 100
"""Terminal columns from which the download bar shows bytes and rate too."""


class _CheckedColumn(ProgressColumn):
    """``120 files checked`` (and problems in red) from the task's fields."""

    def render(self, task: Task) -> Text:
        text = Text(f"{task.fields.get('checked', 0)} files checked")
        problems = task.fields.get("problems", 0)
        if problems:
            text.append(f" ({problems} missing, changed or extra)", style="red")
        return text


def download_bar(console: Console, label: str, items: str) -> tuple[Progress, TaskID]:
    """A started download bar on ``console`` ("listing ``items``…" until the plan is known)."""
    progress = Progress(*_bar_columns(console.width), console=console, transient=False, refresh_per_second=10)
    progress.start()
    task = progress.add_task(
        escape(visible(label)), total=None, files_done=0, files_total=None, listing=True, items=items
    )
    return progress, task


def check_spinner(console: Console, label: str) -> tuple[Progress, TaskID]:
    """A started check spinner on ``console``: files checked so far and problems found."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        _CheckedColumn(),
        console=console,
        transient=False,
        refresh_per_second=10,
    )
    progress.start()
    return progress, progress.add_task(escape(visible(label)), total=None, checked=0, problems=0)
