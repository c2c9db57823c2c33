"""What the client says when it is about to send an API request again, for whoever shows it.

Every API retry is logged at INFO by ``ninepic_async._transport`` with an :class:`RetryNotice`
attached to the record (:func:`retry_notice_of` reads it back), so a program can tell its users
"API unreachable, retry 2/5 in 1.6 s" without parsing log text. The library itself never prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .instrumentation import ApiRetryReason

__all__ = ["RETRY_RECORD_ATTR", "RetryNotice", "retry_notice_of"]

RETRY_RECORD_ATTR = "ninepic_api_retry"
"""The attribute of a :class:`logging.LogRecord` that holds its :class:`RetryNotice`."""


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """One API request failed and will be sent again after ``delay_s`` seconds.

    ``reason`` (:data:`~.instrumentation.ApiRetryReason`): ``connection`` (refused/reset, DNS),
    ``timeout``, ``rate_limited`` (HTTP 429: every request of the client pauses) or
    ``server_error`` (5xx). ``retry`` is this
    retry's number (1-based) of at most ``max_retries`` for its kind (429s have their own budget).
    ``url`` carries no key: the key travels in a header.
    """

    reason: ApiRetryReason
    retry: int
    max_retries: int
    delay_s: float
    method: str
    url: str
    status: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """One line for people: ``API unreachable, retry 2/5 in 1.6 s``."""
        if self.reason == "rate_limited":
            return (
                f"API throttling (429), waiting {self.delay_s:.1f} s (retry {self.retry}/{self.max_retries})"
            )
        what = {
            "connection": "API unreachable",
            "timeout": "API not answering (timeout)",
            "server_error": f"API failing (HTTP {self.status})",
        }[self.reason]
        return f"{what}, retry {self.retry}/{self.max_retries} in {self.delay_s:.1f} s"


def retry_notice_of(record: logging.LogRecord) -> RetryNotice | None:
    """The :class:`RetryNotice` a log record carries, or None for any other record."""
    notice = getattr(record, RETRY_RECORD_ATTR, None)
    return notice if isinstance(notice, RetryNotice) else None
