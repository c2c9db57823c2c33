"""A run's total bandwidth cap (curl's ``--limit-rate``, rclone's ``--bwlimit``): one token bucket
shared by every worker, and the parser of rates such as ``20M`` or ``512K``.

Bytes are paid for after they arrive: a worker that takes more than the bucket holds goes into
debt and sleeps until the debt is repaid, so its socket is not read meanwhile and TCP slows the
sender. From the start the run averages at most ``rate``; after an idle spell, at most one
burst (``burst_s`` seconds' worth) more.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["TokenBucket", "parse_rate"]

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
_RATE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmg])i?)?b?(?:/s)?\s*$")


def parse_rate(text: str) -> float:
    """Bytes per second from ``text``: a number with an optional K, M or G suffix (powers of 1024,
    as curl reads them; ``20M``, ``512k``, ``1.5MB/s``). ValueError says what is wrong."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError("expected bytes per second like 512K, 20M or 1G")
    rate = float(match.group(1)) * _UNITS[(match.group(2) or "").upper()]
    if not rate >= 1:
        raise ValueError("must be at least 1 byte per second")
    return rate


class TokenBucket:
    """``rate`` bytes per second for everyone who calls :meth:`pay`, with ``burst_s`` seconds' worth
    saved up at most while idle. ``clock`` and ``sleep`` are injectable (tests use a fake clock)."""

    __slots__ = ("_capacity", "_clock", "_rate", "_sleep", "_stamp", "_tokens")

    def __init__(
        self,
        rate: float,
        *,
        burst_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not rate > 0 or rate == float("inf"):
            raise ValueError(f"rate must be a finite number > 0; got {rate!r}")
        if not burst_s >= 0:
            raise ValueError(f"burst_s must be >= 0; got {burst_s!r}")
        self._rate = float(rate)
        self._capacity = self._rate * burst_s
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._tokens = 0.0  # no head start: even a short run averages at most ``rate``

    @property
    def rate(self) -> float:
        """The cap, in bytes per second."""
        return self._rate

    def take(self, n: int) -> float:
        """Account for ``n`` bytes now; the seconds the caller must wait before its next read."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def pay(self, n: int) -> float:
        """Account for ``n`` received bytes and sleep off any debt; returns the seconds slept."""
        wait_s = self.take(n)
        if wait_s > 0:
            await self._sleep(wait_s)
        return wait_s
