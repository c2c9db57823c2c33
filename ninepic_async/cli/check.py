"""``ninepic check``: re-hash a download destination's files against its manifest (offline).

Runs the library's :func:`~ninepic_async.download.check.check_destination` with a
:class:`~ninepic_async.cli.output.CheckProgress` as ``on_progress``, then prints the problems
(a table on a terminal, tab-separated lines when piped, the whole report with ``--json``) and
one summary line. Exit 0 when nothing is missing, changed or extra, 1 otherwise, 2 when
``--out`` is not a download destination. No API key, org or event is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .._constants import CLI_MAX_CONCURRENCY, MANIFEST_NAME
from ..download.shard import manifest_paths
from .errors import EXIT_OK, EXIT_PARTIAL, CliError
from .output import CheckProgress
from .runtime import Runtime

if TYPE_CHECKING:
    from ..download.check import CheckReport

__all__ = ["check_check_args", "cmd_check", "summary_line"]


def check_check_args(rt: Runtime) -> Path | str:
    """Validate ``check`` input before reading anything: the destination directory (or bucket
    URL) to check."""
    args = rt.args
    if not 1 <= args.concurrency <= CLI_MAX_CONCURRENCY:
        raise CliError(f"--concurrency must be from 1 to {CLI_MAX_CONCURRENCY}, got {args.concurrency}")
    from ..download.bucket import is_bucket_url

    if is_bucket_url(args.out):
        from .download import checked_out

        return checked_out(args.out)
    out = Path(args.out).expanduser()
    if not out.exists():
        raise CliError(f"--out {args.out!r} does not exist")
    if not out.is_dir():
        raise CliError(f"--out {args.out!r} is not a directory")
    if not any(path.is_file() for path in manifest_paths(out)):
        try:
            events = sorted(d.name for d in out.iterdir() if any(p.is_file() for p in manifest_paths(d)))
        except OSError:  # an unreadable folder: no hint, the error stands
            events = []
        hint = (
            f"; it looks like an archive: check each event folder, e.g. --out {str(out / events[0])!r}"
            if events
            else ""
        )
        raise CliError(
            f"--out {args.out!r} has no {MANIFEST_NAME}: it is not a ninepic download destination{hint}"
        )
    return out


def summary_line(report: CheckReport) -> str:
    """``checked N files: N ok, N missing, N changed, N extra[, N unverifiable]``."""
    line = (
        f"checked {report.checked} files: {report.ok} ok, {report.missing} missing, "
        f"{report.changed} changed, {report.extra} extra"
    )
    return line + (f", {report.unverifiable} unverifiable" if report.unverifiable else "")


async def cmd_check(rt: Runtime) -> int:
    """Check a destination: list missing, changed, extra (and unverifiable) files; exit 1 unless clean."""
    out = check_check_args(rt)
    with CheckProgress(rt.output, label=f"checking {out}") as progress:
        if isinstance(out, str):
            from ..download.bucket_check import check_bucket

            report = await check_bucket(out, on_progress=progress, concurrency=rt.args.concurrency)
        else:
            from ..download.check import check_destination  # the downloader loads only for this command

            report = await check_destination(out, on_progress=progress, concurrency=rt.args.concurrency)

    def human() -> None:
        if report.problems:
            rows = [(p.status, p.file, p.image_id, p.detail) for p in report.problems]
            rt.output.table(("status", "file", "image_id", "detail"), rows, title="check: problems")
        rt.output.line(summary_line(report))

    rt.show({**msgspec.to_builtins(report), "clean": report.clean}, human)
    if report.clean:
        return EXIT_OK
    rt.output.error(
        f"{out} does not match its manifest: {report.missing} missing, {report.changed} changed, "
        f"{report.extra} extra"
    )
    return EXIT_PARTIAL
