"""The retry policy: what is retried, how long to wait, and how Retry-After is read.

Used by the API transport and by the storage download pool, so both back off alike. What is
retried differs in one point: the store's 408 is retried, the API's is not (the API retries
429 and 5xx only).
"""

from __future__ import annotations

import email.utils
import random
import time

from ._constants import RETRY_AFTER_MAX_S, RETRY_INITIAL_DELAY_S, RETRY_MAX_DELAY_S

__all__ = [
    "backoff_delay",
    "calculate_retry_timeout",
    "jitter",
    "parse_retry_after",
    "should_retry_api_status",
    "should_retry_status",
]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def should_retry_status(status: int) -> bool:
    """Object storage: 429 and 5xx (and 408) are retried; every other status is final."""
    return status in RETRYABLE_STATUSES or status >= 500


def should_retry_api_status(status: int) -> bool:
    """The 9Pic API: only 429 and 5xx are retried; every other 4xx (408 too) is final.

    The reference calls 429 and 500 "safe to retry" and nothing else, so a request the API
    refused is never sent twice.
    """
    return status == 429 or status >= 500


def jitter(delay: float) -> float:
    """Full jitter: a uniform draw in ``[0, delay]``. Tests monkeypatch this to be deterministic."""
    return random.uniform(0.0, delay)


def backoff_delay(
    attempt: int, *, initial_s: float = RETRY_INITIAL_DELAY_S, maximum_s: float = RETRY_MAX_DELAY_S
) -> float:
    """Exponential ceiling for retry number ``attempt`` (0 for the first retry), before jitter."""
    return float(min(maximum_s, initial_s * (2 ** max(0, attempt))))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped.

    Returns ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(RETRY_AFTER_MAX_S, seconds))


def calculate_retry_timeout(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to sleep before retry number ``attempt``: Retry-After when given, else jittered backoff."""
    honoured = parse_retry_after(retry_after)
    if honoured is not None:
        return honoured
    return jitter(backoff_delay(attempt))
