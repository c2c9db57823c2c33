"""The run's bandwidth cap: rate parsing, and a token bucket that holds every worker together to
the rate (on a fake clock: no wall-clock assertions)."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ninepic_async.download.bandwidth import TokenBucket, parse_rate

KIB, MIB = 1024, 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20M", 20 * MIB),
        ("512K", 512 * KIB),
        ("512k", 512 * KIB),
        ("1G", 1024 * MIB),
        ("1.5MB/s", 1.5 * MIB),
        ("2MiB", 2 * MIB),
        ("100", 100),
        (" 64 K ", 64 * KIB),
    ],
)
def test_rates_read_like_curls_limit_rate(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "abc", "-5M", "0", "0.5", "20X", "inf", "nan", "1e3", "M", "20 M M"])
def test_a_bad_rate_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected bytes per second like 512K|at least 1 byte"):
        parse_rate(text)


def test_a_new_bucket_gives_no_head_start() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, burst_s=0.5, clock=clock)
    assert bucket.take(500) == pytest.approx(0.5)


def test_a_worker_within_the_burst_does_not_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, burst_s=0.5, clock=clock)
    clock.now += 0.5
    assert bucket.take(500) == 0.0
    assert bucket.take(1000) == pytest.approx(1.0)  # in debt: wait until it is repaid


def test_idle_time_saves_up_at_most_one_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, burst_s=0.5, clock=clock)
    clock.now += 3600
    assert bucket.take(500) == 0.0
    assert bucket.take(1000) == pytest.approx(1.0)


def test_workers_share_one_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(100, burst_s=0, clock=clock)
    assert bucket.take(100) == pytest.approx(1.0)  # worker A
    assert bucket.take(100) == pytest.approx(2.0)  # worker B, at the same instant, waits for both
    clock.now = 2.0
    assert bucket.take(100) == pytest.approx(1.0)  # the debt is repaid: back to the plain rate


async def test_pay_sleeps_off_the_debt_and_says_how_long() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, burst_s=0, clock=clock, sleep=clock.sleep)
    assert await bucket.pay(250) == pytest.approx(0.25)
    assert await bucket.pay(250) == pytest.approx(0.25)
    assert clock.sleeps == [pytest.approx(0.25), pytest.approx(0.25)]


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_a_bucket_needs_a_finite_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(1, 10 * MIB),
    workers=st.integers(1, 8),
    chunks=st.lists(st.tuples(st.integers(1, 256 * KIB), st.floats(0, 2)), min_size=1, max_size=60),
)
def test_no_window_gets_more_than_the_rate_plus_one_burst(
    rate: int, workers: int, chunks: list[tuple[int, float]]
) -> None:
    """Workers read chunks (and idle between them) in virtual time; by the time each worker may read
    again, everything received so far fits in ``rate * elapsed + burst``."""
    clock = Clock()
    burst_s = 0.5
    bucket = TokenBucket(rate, burst_s=burst_s, clock=clock)
    ready = [(0.0, worker) for worker in range(workers)]
    received = 0
    for size, gap_s in chunks:
        when, worker = heapq.heappop(ready)
        clock.now = max(clock.now, when)
        wait_s = bucket.take(size)
        received += size
        free_at = clock.now + wait_s
        assert received <= rate * free_at + rate * burst_s + 1e-6 * received
        heapq.heappush(ready, (free_at + gap_s, worker))


@settings(max_examples=40, deadline=None)
@given(rate=st.integers(1, 10 * MIB), sizes=st.lists(st.integers(1, 256 * KIB), min_size=1, max_size=60))
def test_a_busy_worker_is_held_no_longer_than_the_rate_needs(rate: int, sizes: list[int]) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst_s=0.5, clock=clock)
    for size in sizes:
        clock.now += bucket.take(size)
    assert clock.now == pytest.approx(sum(sizes) / rate, rel=1e-9, abs=1e-9)


class FakeTime:
    now = 0.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


def test_time_held_back_by_the_cap_is_not_a_slow_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body held by --limit-rate below --low-speed-limit is not abandoned as too slow."""
    from ninepic_async.download import fetch as fetch_module
    from ninepic_async.download.storage_get import Transient

    monkeypatch.setattr(fetch_module, "time", FakeTime)
    FakeTime.now = 0.0
    low_speed = fetch_module._LowSpeed(1000, 10)
    for _ in range(5):  # 100 bytes then 4 s held by the bucket: 25 B/s overall, fast on the wire
        FakeTime.now += 4.0
        low_speed.excuse(4.0)
        low_speed.add(100)
    FakeTime.now += 11.0
    with pytest.raises(Transient, match="slower than"):
        low_speed.add(100)  # a real stall still counts
