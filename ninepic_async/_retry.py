"""The retry policy: what is retried, how long to wait, and how Retry-After is read.

Used by the API transport (through :class:`APIRetry`, one immutable policy per call) and by
the storage download pool, so both back off alike. What is
retried differs in one point: the store's 408 is retried, the API's is not (the API retries
429 and 5xx only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import random
import time
from dataclasses import dataclass

from ._constants import (
    DEFAULT_MAX_RATE_LIMIT_RETRIES,
    DEFAULT_MAX_RETRIES,
    RETRY_AFTER_MAX_S,
    RETRY_INITIAL_DELAY_S,
    RETRY_MAX_DELAY_S,
)

__all__ = [
    "APIRetry",
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


@dataclass(frozen=True, slots=True)
class APIRetry:
    """The retry budgets and deadline of one API call; never mutated (urllib3 ``Retry`` style).

    The transport asks :meth:`increment` after each failed attempt and gets the policy for the
    next one, or ``None`` when the call must end; :meth:`fits` says whether a wait ends before
    the deadline. ``retries`` count 5xx, connection errors and timeouts; ``throttles`` count 429s
    (their own, larger budget: throttling is expected under load).
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    max_rate_limit_retries: int = DEFAULT_MAX_RATE_LIMIT_RETRIES
    deadline_s: float | None = None
    """Seconds the whole call may take, every attempt and wait included (None: no deadline)."""
    retries: int = 0
    throttles: int = 0
    ends_at: float | None = None
    """Monotonic time the deadline falls at; set by :meth:`start`."""

    def start(self, now: float) -> APIRetry:
        """The policy of a call starting at monotonic time ``now`` (fixes the deadline)."""
        ends_at = None if self.deadline_s is None else now + self.deadline_s
        return dataclasses.replace(self, retries=0, throttles=0, ends_at=ends_at)

    def remaining_s(self, now: float) -> float | None:
        """Seconds left before the deadline (never negative), or None without a deadline."""
        return None if self.ends_at is None else max(0.0, self.ends_at - now)

    def fits(self, now: float, wait_s: float) -> bool:
        """Whether a wait of ``wait_s`` from ``now`` leaves time for an attempt before the deadline."""
        return self.ends_at is None or now + wait_s < self.ends_at

    def is_retryable(self, *, status: int | None = None, exc: BaseException | None = None) -> bool:
        """Whether this status or exception is worth another attempt at all (budgets aside)."""
        if status is not None:
            return should_retry_api_status(status)
        import aiohttp  # here, not at the top: ``ninepic --version`` imports this module, not aiohttp

        if isinstance(exc, aiohttp.ClientSSLError):
            return False  # certificate/handshake problems do not heal by retrying
        return isinstance(
            exc,
            (TimeoutError, asyncio.TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError),
        )

    def increment(self, *, status: int | None = None, exc: BaseException | None = None) -> APIRetry | None:
        """The policy after a failed attempt, or None: not retryable, or its budget is spent."""
        if not self.is_retryable(status=status, exc=exc):
            return None
        if status == 429:
            if self.throttles >= self.max_rate_limit_retries:
                return None
            return dataclasses.replace(self, throttles=self.throttles + 1)
        if self.retries >= self.max_retries:
            return None
        return dataclasses.replace(self, retries=self.retries + 1)

    def backoff_s(self, retry_after: str | None = None, *, throttled: bool = False) -> float:
        """Seconds to wait after this policy's failed attempt: Retry-After when given, else
        jittered exponential backoff on the retries (or 429s) made so far."""
        return calculate_retry_timeout(self.throttles if throttled else self.retries, retry_after)
