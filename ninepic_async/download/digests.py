"""A set of 16-byte digests packed in one ``bytearray``: per-photo memory of a run.

A run remembers every image id it has seen and every file name it has handed out, so 100k
photos mean 200k entries. A Python ``set`` of ``bytes`` costs about 100 bytes per entry (the
object plus its slot); this open-addressing table costs 32 (16-byte slots, at most half full).
"""

from __future__ import annotations

__all__ = ["DIGEST_BYTES", "DigestSet"]

DIGEST_BYTES = 16
_EMPTY = bytes(DIGEST_BYTES)
_MIN_SLOTS = 1024


class DigestSet:
    """Membership of 16-byte digests (uniformly random bytes, e.g. from ``blake2b``)."""

    __slots__ = ("_count", "_has_empty", "_mask", "_table")

    def __init__(self) -> None:
        self._table = bytearray(_MIN_SLOTS * DIGEST_BYTES)
        self._mask = _MIN_SLOTS - 1
        self._count = 0
        self._has_empty = False
        """The all-zero digest marks a free slot, so its membership is kept apart."""

    def __len__(self) -> int:
        return self._count + self._has_empty

    def _slot(self, digest: bytes) -> tuple[int, bool]:
        """The byte offset of ``digest``'s slot, and whether the digest is already there."""
        if len(digest) != DIGEST_BYTES:
            raise ValueError(f"digests are {DIGEST_BYTES} bytes; got {len(digest)}")
        table, mask = self._table, self._mask
        index = int.from_bytes(digest[:8], "little") & mask
        while True:
            offset = index * DIGEST_BYTES
            held = table[offset : offset + DIGEST_BYTES]
            if held == digest:
                return offset, True
            if held == _EMPTY:
                return offset, False
            index = (index + 1) & mask

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes):
            return False
        if digest == _EMPTY:
            return self._has_empty
        return self._slot(digest)[1]

    def add(self, digest: bytes) -> bool:
        """Add ``digest``; True when it was not there before."""
        if digest == _EMPTY:
            added, self._has_empty = not self._has_empty, True
            return added
        offset, present = self._slot(digest)
        if present:
            return False
        self._table[offset : offset + DIGEST_BYTES] = digest
        self._count += 1
        if self._count * 2 > self._mask + 1:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        slots = (self._mask + 1) * 2
        self._table = bytearray(slots * DIGEST_BYTES)
        self._mask = slots - 1
        for offset in range(0, len(old), DIGEST_BYTES):
            digest = bytes(old[offset : offset + DIGEST_BYTES])
            if digest != _EMPTY:
                new_offset, _ = self._slot(digest)
                self._table[new_offset : new_offset + DIGEST_BYTES] = digest
