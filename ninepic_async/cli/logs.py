"""Where the package's log records go during one command: stderr, with the API key masked.

WARNING and above normally; every request line (DEBUG) with ``--verbose``. A rich handler
on a terminal, ``LEVEL logger: message`` lines otherwise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from .._logging import RedactingFilter
from .output import Output

__all__ = ["logging_to"]


@contextlib.contextmanager
def logging_to(output: Output, verbose: bool) -> Iterator[None]:
    """Route the package's log records to stderr for this run: DEBUG with --verbose, else WARNING."""
    logger = logging.getLogger("ninepic_async")
    handler: logging.Handler
    if output.stderr_is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=output.err, show_path=False, show_time=verbose, markup=False)
    else:
        handler = logging.StreamHandler(output.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())  # on the handler: it sees every child logger's records
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    old_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
