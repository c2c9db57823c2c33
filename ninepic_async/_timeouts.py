"""What a timed-out operation raises, for the API transport and the storage GETs alike (its own
module: the exception tree is imported by ``ninepic --version``, which loads no asyncio)."""

import asyncio

__all__ = ["TIMEOUT_ERRORS"]

TIMEOUT_ERRORS: tuple[type[Exception], ...] = (TimeoutError, asyncio.TimeoutError)
"""The builtin and, before Python 3.11, asyncio's own class."""
