"""A logging filter that masks the API key in every record of the ``ninepic_async`` loggers.

Logger filters only see records logged through that very logger (not its children), so
:func:`install_redaction` attaches the filter to the package logger and to every
``ninepic_async.*`` logger that exists when it runs; the client calls it at import and
again whenever a client is created, which covers modules imported later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ._exceptions import redact

__all__ = ["PACKAGE_LOGGER", "RedactingFilter", "get_logger", "install_redaction"]

PACKAGE_LOGGER = "ninepic_async"


class _Redacted:
    """Stands in for a log argument whose text held a secret: formats as the redacted text."""

    __slots__ = ("_repr", "_str")

    def __init__(self, value: object) -> None:
        self._str = redact(str(value))
        self._repr = redact(repr(value))

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr

    def __format__(self, spec: str) -> str:
        return format(self._str, spec)


def _redact_arg(value: object) -> object:
    """``value`` itself when neither its str nor its repr holds a secret, else a redacted stand-in."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if redact(str(value)) == str(value) and redact(repr(value)) == repr(value):
        return value
    return _Redacted(value)


class RedactingFilter(logging.Filter):
    """Masks the API key in each record; never drops one.

    A record whose message holds no secret is left as it was (``msg`` and ``args`` intact, for
    structured handlers); otherwise the secret is masked in ``msg`` and in each argument apart,
    and the record is flattened to its redacted text only if that was not enough (a secret
    split across the format string and an argument).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format/args pair: redact the pieces we have
            message = f"{record.msg} {record.args!r}"
            record.msg, record.args = redact(message), None
        else:
            if redact(message) != message:
                self._redact_parts(record, message)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _redact_parts(record: logging.LogRecord, message: str) -> None:
        msg = redact(record.msg) if isinstance(record.msg, str) else _redact_arg(record.msg)
        args = record.args
        if isinstance(args, tuple):
            args = tuple(_redact_arg(arg) for arg in args)
        elif isinstance(args, Mapping):
            args = {key: _redact_arg(value) for key, value in args.items()}
        record.msg, record.args = msg, args
        try:
            clean = record.getMessage()
            clean_enough = redact(clean) == clean
        except Exception:
            clean_enough = False
        if not clean_enough:
            record.msg, record.args = redact(message), None


_FILTER = RedactingFilter()


def _attach(logger: logging.Logger) -> None:
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(_FILTER)


def install_redaction(name: str = PACKAGE_LOGGER) -> None:
    """Attach the redacting filter to logger ``name`` and every existing logger below it (idempotent)."""
    _attach(logging.getLogger(name))
    prefix = name + "."
    for logger_name, logger in list(logging.Logger.manager.loggerDict.items()):
        if logger_name.startswith(prefix) and isinstance(logger, logging.Logger):
            _attach(logger)


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached."""
    logger = logging.getLogger(name)
    _attach(logger)
    return logger
