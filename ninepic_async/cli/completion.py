"""``ninepic completion bash|zsh``: a tab-completion script generated from the argument parser.

The script comes from shtab (the optional ``completion`` extra), so it always matches the
commands and options of this version; paths complete where an option takes a file or folder.
"""

from __future__ import annotations

import argparse

from .errors import EXIT_OK, CliError
from .runtime import Runtime

__all__ = ["cmd_completion", "completion_script"]

_FILE_OPTIONS = frozenset({"ca_bundle", "config", "selfie", "log_file", "image_ids_from"})
_DIRECTORY_OPTIONS = frozenset({"out"})


def _mark_paths(parser: argparse.ArgumentParser, file: object, directory: object) -> None:
    """Tell shtab which options (in every subcommand) take a file or a folder."""
    for action in parser._actions:
        if action.dest in _FILE_OPTIONS:
            action.complete = file  # type: ignore[attr-defined]
        elif action.dest in _DIRECTORY_OPTIONS:
            action.complete = directory  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _mark_paths(child, file, directory)


def completion_script(shell: str) -> str:
    """The completion script of ``ninepic`` for ``shell`` (``bash`` or ``zsh``)."""
    try:
        import shtab
    except ImportError:
        raise CliError(
            "shell completion needs the shtab package: pip install 'ninepic-async[completion]'"
        ) from None
    from .parser import build_parser

    parser = build_parser()
    _mark_paths(parser, shtab.FILE, shtab.DIRECTORY)
    script: str = shtab.complete(parser, shell=shell)
    return script


def cmd_completion(rt: Runtime) -> int:
    """Print the completion script for ``rt.args.shell`` on stdout (no event loop needed)."""
    rt.output.stdout.write(completion_script(rt.args.shell))
    rt.output.stdout.flush()
    return EXIT_OK
