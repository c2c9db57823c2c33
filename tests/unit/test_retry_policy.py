"""The shared retry policy: which statuses retry, backoff ceilings, jitter and Retry-After."""

from __future__ import annotations

import email.utils

import pytest

from ninepic_async import _retry
from ninepic_async._constants import RETRY_AFTER_MAX_S, RETRY_MAX_DELAY_S


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599, 408])
def test_retryable_statuses(status: int) -> None:
    assert _retry.should_retry_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_final_statuses(status: int) -> None:
    assert not _retry.should_retry_status(status)


def test_backoff_grows_exponentially_then_caps() -> None:
    delays = [_retry.backoff_delay(attempt) for attempt in range(10)]
    assert delays[1] == 2 * delays[0]
    assert delays == sorted(delays)
    assert delays[-1] == RETRY_MAX_DELAY_S


def test_jitter_is_full_jitter() -> None:
    draws = [_retry.jitter(4.0) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in draws)
    assert min(draws) < 1.0 < 3.0 < max(draws)


def test_retry_after_seconds_date_and_garbage() -> None:
    assert _retry.parse_retry_after("3") == 3.0
    assert _retry.parse_retry_after(" 1.5 ") == 1.5
    assert _retry.parse_retry_after("-4") == 0.0
    assert _retry.parse_retry_after("100000") == RETRY_AFTER_MAX_S
    assert _retry.parse_retry_after(None) is None
    assert _retry.parse_retry_after("soon") is None
    assert _retry.parse_retry_after("nan") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert _retry.parse_retry_after(date, now=now) == pytest.approx(7.0)


def test_calculate_retry_timeout_prefers_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "jitter", lambda delay: delay)
    assert _retry.calculate_retry_timeout(0, "2") == 2.0
    assert _retry.calculate_retry_timeout(2) == _retry.backoff_delay(2)


# --- APIRetry: the API transport's per-call policy ----------------------------------------------
def test_api_retry_is_immutable_and_counts_429s_apart() -> None:
    import dataclasses

    import aiohttp

    policy = _retry.APIRetry(max_retries=1, max_rate_limit_retries=2).start(100.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.retries = 5  # type: ignore[misc]
    after_5xx = policy.increment(status=503)
    assert after_5xx is not None and (after_5xx.retries, after_5xx.throttles) == (1, 0)
    assert policy.retries == 0  # a new policy each time
    assert after_5xx.increment(status=500) is None  # max_retries spent
    throttled = after_5xx.increment(status=429)
    assert throttled is not None and throttled.increment(status=429) is not None
    assert throttled.increment(status=429).increment(status=429) is None  # type: ignore[union-attr]
    assert policy.increment(status=404) is None
    assert policy.increment(exc=aiohttp.ServerDisconnectedError()) is not None
    assert policy.increment(exc=aiohttp.ClientSSLError(None, OSError())) is None  # type: ignore[arg-type]
    assert policy.increment(exc=ValueError()) is None


def test_api_retry_deadline() -> None:
    unbounded = _retry.APIRetry().start(100.0)
    assert unbounded.remaining_s(1e9) is None and unbounded.fits(1e9, 1e9)
    policy = _retry.APIRetry(deadline_s=5.0).start(100.0)
    assert policy.remaining_s(102.0) == 3.0 and policy.remaining_s(200.0) == 0.0
    assert policy.fits(102.0, 2.9) and not policy.fits(102.0, 3.0)
    assert policy.increment(status=500).ends_at == 105.0  # type: ignore[union-attr]
    assert policy.start(200.0).ends_at == 205.0  # a new call, a new deadline
