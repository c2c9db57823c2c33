"""FilePolicy: a file's retry and refresh budgets, immutable, asked what to do after a setback."""

from __future__ import annotations

import dataclasses

import pytest

from ninepic_async._retry import backoff_delay
from ninepic_async.download import policy as policy_module
from ninepic_async.download.policy import FilePolicy, GiveUp


def test_increment_returns_a_new_policy_and_never_changes_the_old_one() -> None:
    first = FilePolicy(retries=2)
    second = first.increment("transient")
    assert first == FilePolicy(retries=2)
    assert (second.made, second.failed_without_progress) == (1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        second.made = 5  # type: ignore[misc]


def test_failures_without_progress_give_up_after_the_retries() -> None:
    policy = FilePolicy(retries=2, attempts=100)
    policy = policy.increment("transient").increment("transient")
    with pytest.raises(GiveUp, match="after 3 attempts"):
        policy.increment("transient")


def test_progress_costs_no_retry_only_an_attempt() -> None:
    policy = FilePolicy(retries=1, attempts=4)
    for _ in range(3):
        policy = policy.increment("progress")
    assert policy.failed_without_progress == 0
    with pytest.raises(GiveUp, match="after 4 attempts"):
        policy.increment("progress")


def test_a_body_that_is_not_the_photo_is_retried_once() -> None:
    policy = FilePolicy().increment("integrity")
    with pytest.raises(GiveUp):
        policy.increment("integrity")


@pytest.mark.parametrize(
    ("setback", "field", "message"),
    [
        ("proactive_refresh", "proactive_refreshes", "kept expiring"),
        ("expired_refresh", "expired_refreshes", "refused as expired"),
    ],
)
def test_refresh_budgets_are_separate_from_attempts(setback: str, field: str, message: str) -> None:
    policy = FilePolicy(**{field: 1}).increment(setback)  # type: ignore[arg-type]
    assert policy.made == 0
    with pytest.raises(GiveUp, match=message):
        policy.increment(setback)  # type: ignore[arg-type]


def test_backoff_waits_only_after_failures_without_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "jitter", lambda delay: delay)
    policy = FilePolicy(retries=5)
    assert policy.backoff_s() == 0.0
    assert policy.increment("progress").backoff_s() == 0.0
    delays = []
    for _ in range(3):
        policy = policy.increment("transient")
        delays.append(policy.backoff_s())
    assert delays == [
        backoff_delay(0),
        backoff_delay(1),
        backoff_delay(2),
    ]
