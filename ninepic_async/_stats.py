"""A client's API counters (live, owned by its transport) and their snapshot, :class:`ClientStats`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from .instrumentation import ApiRetryReason

__all__ = ["API_RETRY_REASONS", "ApiCounters", "ClientStats"]

API_RETRY_REASONS: tuple[ApiRetryReason, ...] = get_args(ApiRetryReason)


def _no_retries() -> dict[ApiRetryReason, int]:
    return dict.fromkeys(API_RETRY_REASONS, 0)


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What a client's API calls have done since it was made (``client.stats``; every field counts up
    except ``calls_in_flight``). Cheap to take: read it for metrics as often as you like.

    - ``calls``: API calls started (a listing makes one per page; a call's retries are not calls);
      ``calls_ok`` / ``calls_failed`` ended with a response / raised (cancellations included);
      ``calls_in_flight`` are running now.
    - ``retries``: attempts sent again, by reason (``timeout``, ``connection``, ``server_error``,
      ``rate_limited``; see :data:`~ninepic_async.instrumentation.ApiRetryReason`).
    - ``rate_limited``: 429 answers received (each pauses every call of the client);
      ``rate_limit_waits`` / ``rate_limit_wait_s``: how often calls waited for such a pause before
      sending, and the seconds they waited in total (summed over calls waiting side by side).
    """

    calls: int = 0
    calls_ok: int = 0
    calls_failed: int = 0
    calls_in_flight: int = 0
    retries: Mapping[ApiRetryReason, int] = field(default_factory=_no_retries)
    rate_limited: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0

    @property
    def total_retries(self) -> int:
        """Retries of every reason."""
        return sum(self.retries.values())


@dataclass(slots=True)
class ApiCounters:
    """The live counters behind :class:`ClientStats`: plain numbers updated in place, in the event
    loop, by the one transport that owns them (through :mod:`._observe`)."""

    calls: int = 0
    calls_ok: int = 0
    calls_failed: int = 0
    retries: dict[ApiRetryReason, int] = field(default_factory=_no_retries)
    rate_limited: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0

    def snapshot(self) -> ClientStats:
        """A frozen copy, consistent at this instant."""
        return ClientStats(
            calls=self.calls,
            calls_ok=self.calls_ok,
            calls_failed=self.calls_failed,
            calls_in_flight=self.calls - self.calls_ok - self.calls_failed,
            retries=dict(self.retries),
            rate_limited=self.rate_limited,
            rate_limit_waits=self.rate_limit_waits,
            rate_limit_wait_s=self.rate_limit_wait_s,
        )
