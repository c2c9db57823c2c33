"""DigestSet: the packed per-run set of 16-byte digests behaves exactly like a set."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninepic_async.download.digests import DigestSet

digests = st.binary(min_size=16, max_size=16)


@given(st.lists(st.one_of(digests, st.just(bytes(16)), st.sampled_from([b"a" * 16, b"b" * 16]))))
def test_matches_a_python_set(items: list[bytes]) -> None:
    packed, plain = DigestSet(), set()
    for item in items:
        assert packed.add(item) == (item not in plain)
        plain.add(item)
        assert item in packed
    assert len(packed) == len(plain)
    assert all(d in packed for d in plain)


def test_keeps_every_member_across_growth() -> None:
    packed = DigestSet()
    keys = [hashlib.blake2b(str(i).encode(), digest_size=16).digest() for i in range(5_000)]
    assert all(packed.add(k) for k in keys)
    assert len(packed) == 5_000
    assert all(k in packed for k in keys)
    assert not any(packed.add(k) for k in keys)
    assert hashlib.blake2b(b"other", digest_size=16).digest() not in packed


def test_colliding_low_bits_probe_to_the_next_slot() -> None:
    packed = DigestSet()
    same_start = [bytes(8) + i.to_bytes(8, "little") for i in range(1, 50)]
    assert all(packed.add(k) for k in same_start)
    assert all(k in packed for k in same_start)
    assert bytes(8) + (99).to_bytes(8, "little") not in packed


def test_rejects_digests_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DigestSet().add(b"short")
    assert "not bytes" not in DigestSet()


def test_members_stay_found_while_the_table_doubles_a_few_slots_at_a_time() -> None:
    packed = DigestSet()
    keys = [hashlib.blake2b(str(i).encode(), digest_size=16).digest() for i in range(3_000)]
    for n, key in enumerate(keys):
        assert packed.add(key)
        # Every earlier member is found whichever table holds it, and none is added twice.
        probe = keys[n // 2]
        assert probe in packed and not packed.add(probe)
    assert all(k in packed for k in keys) and len(packed) == 3_000
    assert packed._old is None  # every old slot moved before the next doubling
