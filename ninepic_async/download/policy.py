"""A file's retry and refresh budgets: one small immutable object, asked what to do next.

Modelled on urllib3's ``Retry``: the fetch loop calls :meth:`FilePolicy.increment` with what
went wrong and gets a NEW policy back, or :class:`GiveUp` when a budget is spent; it asks
:meth:`FilePolicy.backoff_s` how long to wait. Budgets, per file and per run:

- ``retries``: attempts that failed WITHOUT progress (connection errors, 5xx, cut bodies
  that added nothing). An attempt that grew the ``.part`` is progress and costs nothing
  here, only ``attempts``.
- ``attempts``: every attempt, progress or not (a store that dribbles bytes forever ends).
- ``integrity``: bodies that were not the photo (checksum mismatch, error page, bad range).
- ``proactive_refreshes``: URL renewals before a request because the URL was about to expire.
- ``expired_refreshes``: URL renewals after the store said the URL expired.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from .._constants import DOWNLOAD_MAX_ATTEMPTS, DOWNLOAD_MAX_RETRIES, DOWNLOAD_PROACTIVE_REFRESHES
from .._retry import backoff_delay, jitter

__all__ = ["FilePolicy", "GiveUp", "Setback"]

Setback = Literal["transient", "progress", "integrity", "proactive_refresh", "expired_refresh"]
"""What went wrong: a retryable failure without progress, one with progress, a body that was not
the photo, a URL about to expire, a URL the store called expired."""


class GiveUp(Exception):
    """A budget of the :class:`FilePolicy` is spent; the message says which."""


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """Remaining budgets of one file (see the module docstring); never mutated."""

    retries: int = DOWNLOAD_MAX_RETRIES
    attempts: int = DOWNLOAD_MAX_ATTEMPTS
    integrity: int = 1
    proactive_refreshes: int = DOWNLOAD_PROACTIVE_REFRESHES
    expired_refreshes: int = 1
    made: int = 0
    """Attempts made so far."""
    failed_without_progress: int = 0
    """Attempts that failed without progress so far (drives the backoff)."""

    def increment(self, setback: Setback) -> FilePolicy:
        """The policy after ``setback``; raises :class:`GiveUp` when its budget is spent."""
        if setback == "proactive_refresh":
            if self.proactive_refreshes <= 0:
                raise GiveUp("the URL kept expiring before it could be used")
            return dataclasses.replace(self, proactive_refreshes=self.proactive_refreshes - 1)
        if setback == "expired_refresh":
            if self.expired_refreshes <= 0:
                raise GiveUp("the renewed URL was refused as expired too")
            return dataclasses.replace(self, expired_refreshes=self.expired_refreshes - 1)
        made = self.made + 1
        if made >= self.attempts:
            raise GiveUp(f"gave up after {made} attempts")
        if setback == "integrity":
            if self.integrity <= 0:
                raise GiveUp(f"gave up after {made} attempts")
            return dataclasses.replace(self, made=made, integrity=self.integrity - 1)
        if setback == "progress":
            return dataclasses.replace(self, made=made)
        if self.failed_without_progress >= self.retries:
            raise GiveUp(f"gave up after {made} attempts")
        return dataclasses.replace(self, made=made, failed_without_progress=self.failed_without_progress + 1)

    def backoff_s(self) -> float:
        """Seconds to wait before the next attempt: jittered exponential on failures without progress."""
        if self.failed_without_progress == 0:
            return 0.0
        return jitter(backoff_delay(self.failed_without_progress - 1))
