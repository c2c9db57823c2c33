"""How one API call is made: the per-attempt timeout, the retry policy and the shared-pause opt-out.

A client holds one :class:`RequestOptions`; ``client.with_options(...)`` makes a view of the
same client (same session, key and 429 pause) with another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._constants import DEFAULT_TIMEOUT_S
from ._retry import APIRetry

__all__ = ["RequestOptions"]


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call settings of the API transport (immutable; see ``NinePicClient.with_options``)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    """Seconds one attempt may take once it has a connection (connect, send, read the body)."""
    retry: APIRetry = field(default_factory=APIRetry)
    """Retry budgets and the whole-call deadline."""
    respect_shared_pause: bool = True
    """Wait out the client-wide pause a 429 set (False: a health check that must not queue)."""
