"""The ``ninepic`` entry point: parse argv, dispatch to the command, turn the outcome into an exit status.

``main(argv)`` never raises for expected failures and never prints a traceback for them:
each becomes one ``error: ...`` line and a documented status (see :mod:`.errors`). Ctrl-C
cancels the running command, lets it close its sessions (``.part`` files stay for resume)
and returns 130 (see :mod:`.loop`).

Where things are: the argument tree in :mod:`.parser`, the API commands in :mod:`.commands`,
``download``/``demo`` in :mod:`.download`, ``archive`` in :mod:`.archive`, ``check`` in
:mod:`.check`, ``simulate`` in :mod:`.simulate`, printing in :mod:`.output`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from .._exceptions import redact
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_SOFTWARE,
    EXIT_USAGE,
    CliError,
    describe_error,
    leaf_errors,
)
from .parser import build_parser

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["COMMANDS", "build_parser", "main"]

log = logging.getLogger(__name__)

COMMANDS: dict[str, str] = {
    "ping": "commands:cmd_ping",
    "events": "commands:cmd_events",
    "event": "commands:cmd_event",
    "photos": "commands:cmd_photos",
    "bib": "commands:cmd_bib",
    "faces": "commands:cmd_faces",
    "timeline": "commands:cmd_timeline",
    "video": "commands:cmd_video",
    "download": "download:cmd_download",
    "demo": "download:cmd_demo",
    "check": "check:cmd_check",
    "archive": "archive:cmd_archive",
}
"""Every command that runs in an event loop, by name, as ``module:function`` of this package:
imported only when it runs, so ``--version`` and ``--help`` load no downloader or aiohttp
(``simulate`` and ``completion`` run no loop)."""


def command(name: str) -> Callable[[Runtime], Awaitable[int]]:
    """The coroutine function of the loop command ``name`` (see :data:`COMMANDS`)."""
    module, function = COMMANDS[name].split(":")
    loaded: Callable[[Runtime], Awaitable[int]] = getattr(
        importlib.import_module(f"{__package__}.{module}"), function
    )
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ninepic`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if {"-h", "--help", "--version"} & set(argv):
        profile = None  # answered by argparse alone: no config, rich or aiohttp to load
    else:
        from .config import apply_config

        try:
            profile = apply_config(parser, argv)
        except CliError as exc:  # a bad config file: one line, before anything else
            return _usage_error(exc)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except CliError as exc:  # a bad option or value: one line, exit 2
        return _usage_error(exc)
    from .logs import logging_to
    from .output import Output
    from .runtime import Runtime

    verbose = bool(getattr(args, "verbose", False))
    quiet = bool(getattr(args, "quiet", False))
    output = Output(
        json_mode=bool(getattr(args, "json", False)),
        quiet=quiet,
        stderr_json=getattr(args, "progress", None) == "json",
    )
    if verbose and quiet:
        output.error("-q/--quiet and -v/--verbose cannot be used together; pick one")
        return EXIT_USAGE
    for warning in profile.warnings if profile is not None else ():
        output.warning(warning)
    rt = Runtime(args=args, output=output)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                logging_to(
                    output, verbose, log_file=getattr(args, "log_file", None), on_api_retry=rt.api_retry
                )
            )
        except CliError as exc:  # --log-file cannot be opened
            output.error(exc.message)
            return exc.exit_status
        return _run_command(rt, verbose)


def _usage_error(exc: CliError) -> int:
    """Print ``exc`` as the one ``error:`` line and return its exit status."""
    from .output import Output

    Output().error(exc.message)
    return exc.exit_status


def _run_command(rt: Runtime, verbose: bool) -> int:
    """Run the parsed command; every expected failure becomes one line and an exit status."""
    from .loop import run_interruptible

    args, output = rt.args, rt.output
    try:
        if args.command == "simulate":
            from .simulate import cmd_simulate

            return cmd_simulate(rt)
        if args.command == "completion":
            from .completion import cmd_completion

            return cmd_completion(rt)
        status, signum = run_interruptible(lambda: command(args.command)(rt))
        if signum:
            how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
            if not _writes_files(args):  # nothing to resume
                output.note(how, essential=True)
            else:
                output.note(
                    f"{how}: partial files (.part) are kept; run the same command again to resume",
                    essential=True,
                )
            return EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum
        return EXIT_OK if status is None else status
    except KeyboardInterrupt:
        output.note("interrupted", essential=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if any(isinstance(leaf, BrokenPipeError) for leaf in leaf_errors(exc)):
            _silence_stdout(output.stdout)
            return EXIT_PIPE_CLOSED
        described = describe_error(exc, rt.ctx)
        if described is None:
            output.error(
                f"internal error: {type(exc).__name__}: {redact(str(exc))} (please report it; "
                "--verbose shows the traceback)",
                EXIT_SOFTWARE,
            )
            if verbose:
                log.exception("internal error")
            return EXIT_SOFTWARE
        message, status = described
        if status == EXIT_USAGE and "--help`)" not in message:  # as argparse's own errors end
            message = f"{message} (see `{_command_line(args)} --help`)"
        output.error(message, status)
        return status


def _writes_files(args: argparse.Namespace) -> bool:
    """Whether the command downloads into a folder (so an interrupted run leaves ``.part`` files)."""
    if args.command in ("download", "demo", "archive"):
        return not getattr(args, "dry_run", False)
    return args.command == "video" and getattr(args, "out", None) is not None


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed up to its options (``ninepic timeline images``), for its --help."""
    words = ["ninepic", args.command]
    sub = getattr(args, "timeline_command", None) or getattr(args, "video_command", None)
    return " ".join([*words, sub] if sub else words)


def _silence_stdout(stream: object) -> None:
    """Point the process's stdout at /dev/null once its reader has gone (``| head``).

    Without this, the interpreter's final flush of stdout fails again and prints "Exception
    ignored ... BrokenPipeError" on stderr. Only the real stdout is redirected: a replaced
    ``sys.stdout`` (a test's capture) is left alone.
    """
    if stream is not sys.__stdout__ or sys.__stdout__ is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
