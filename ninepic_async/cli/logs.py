"""Where the package's log records go during one command: stderr, a --log-file, the retry notices.

On stderr: WARNING and above normally (with ``--quiet`` too); every request line (DEBUG) with
``--verbose``; JSON Lines with ``--progress json``. A rich handler on a terminal,
``warning: message`` lines otherwise (DEBUG and INFO: ``LEVEL logger: message``).
``--log-file PATH`` gets every DEBUG record, whatever the other options say. The library's
API retry records (see :mod:`ninepic_async.retry_notice`) go to the command's ``on_api_retry``
callback, which says "API unreachable, retry 2/5 in 1.6 s" on stderr. The key is masked in all of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from .._logging import RedactingFilter
from ..retry_notice import RetryNotice, retry_notice_of
from .errors import CliError
from .output import Output

__all__ = ["LOG_FILE_FORMAT", "logging_to"]

LOG_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _RetryHandler(logging.Handler):
    """Hands each API retry record's :class:`RetryNotice` to ``sink``; ignores every other record."""

    def __init__(self, sink: Callable[[RetryNotice], None]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        notice = retry_notice_of(record)
        if notice is not None:
            self.sink(notice)


class _JsonLinesHandler(logging.Handler):
    """Log records as ``{"type": "log", "level", "logger", "message"}`` events (--progress json)."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        self.output.event(
            {"type": "log", "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        )


def _stderr_handler(output: Output, verbose: bool) -> logging.Handler:
    handler: logging.Handler
    if output.stderr_json:
        handler = _JsonLinesHandler(output)
    elif output.err_is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=output.err, show_path=False, show_time=verbose, markup=False)
    else:
        handler = logging.StreamHandler(output.stderr)
        handler.setFormatter(_PlainFormatter("%(levelname)s %(name)s: %(message)s"))
    if output.quiet:  # -q keeps warnings: an --insecure run still says so
        handler.setLevel(logging.WARNING)
    else:
        handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handler


class _PlainFormatter(logging.Formatter):
    """A warning or error as the CLI's own lines are (``warning: ...``), so ``-q`` output and a
    ``grep warning:`` see one style; request lines and other DEBUG/INFO records keep the logger name."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return f"{'warning' if record.levelno == logging.WARNING else 'error'}: {record.getMessage()}"
        return super().format(record)


def _file_handler(path: str) -> logging.Handler:
    try:
        handler = logging.FileHandler(Path(path).expanduser(), mode="a", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--log-file {path!r} cannot be opened ({exc.strerror or exc})") from None
    handler.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
    handler.setLevel(logging.DEBUG)
    return handler


@contextlib.contextmanager
def logging_to(
    output: Output,
    verbose: bool,
    *,
    log_file: str | None = None,
    on_api_retry: Callable[[RetryNotice], None] | None = None,
) -> Iterator[None]:
    """Route the package's log records for this run: stderr, ``log_file``, and ``on_api_retry``."""
    logger = logging.getLogger("ninepic_async")
    handlers = [_stderr_handler(output, verbose)]
    if log_file is not None:
        handlers.append(_file_handler(log_file))
    if on_api_retry is not None:
        handlers.append(_RetryHandler(on_api_retry))
    level = logging.DEBUG if verbose or log_file is not None else logging.INFO
    old_level = logger.level
    logger.setLevel(level)
    for handler in handlers:
        handler.addFilter(RedactingFilter())  # on the handler: it sees every child logger's records
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(old_level)
