"""A logging filter that masks the API key in every record of the ``ninepic_async`` loggers.

Logger filters only see records logged through that very logger (not its children), so
:func:`install_redaction` attaches the filter to the package logger and to every
``ninepic_async.*`` logger that exists when it runs; the client calls it at import and
again whenever a client is created, which covers modules imported later.
"""

from __future__ import annotations

import logging

from ._exceptions import redact

__all__ = ["PACKAGE_LOGGER", "RedactingFilter", "get_logger", "install_redaction"]

PACKAGE_LOGGER = "ninepic_async"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its args merged in) through :func:`redact`. Never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format/args pair: redact the pieces we have
            message = f"{record.msg} {record.args!r}"
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg = redacted
            record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


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
