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
_MOVED_PER_ADD = 8
"""Old slots moved per add while the table doubles (at least 2 finish before the next doubling)."""


class DigestSet:
    """Membership of 16-byte digests (uniformly random bytes, e.g. from ``blake2b``).

    The table doubles when half full, moving the old entries a few slots per :meth:`add`
    (lookups see both tables meanwhile): no single call rehashes the whole set, which took
    tens of milliseconds of the event loop at 20k entries.
    """

    __slots__ = ("_count", "_has_empty", "_mask", "_moved", "_old", "_table")

    def __init__(self) -> None:
        self._table = bytearray(_MIN_SLOTS * DIGEST_BYTES)
        self._mask = _MIN_SLOTS - 1
        self._count = 0
        self._has_empty = False
        """The all-zero digest marks a free slot, so its membership is kept apart."""
        self._old: bytearray | None = None
        """The table before the last doubling, while its entries move (never written to)."""
        self._moved = 0
        """Byte offset in ``_old`` below which every entry has moved to ``_table``."""

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

    def _in_old(self, digest: bytes) -> bool:
        """Whether ``digest`` waits in the old table (one not found in the new one)."""
        old = self._old
        if old is None:
            return False
        mask = len(old) // DIGEST_BYTES - 1
        index = int.from_bytes(digest[:8], "little") & mask
        while True:
            offset = index * DIGEST_BYTES
            held = old[offset : offset + DIGEST_BYTES]
            if held == digest:
                return True
            if held == _EMPTY:
                return False
            index = (index + 1) & mask

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes):
            return False
        if digest == _EMPTY:
            return self._has_empty
        return self._slot(digest)[1] or self._in_old(digest)

    def add(self, digest: bytes) -> bool:
        """Add ``digest``; True when it was not there before."""
        if digest == _EMPTY:
            added, self._has_empty = not self._has_empty, True
            return added
        offset, present = self._slot(digest)
        if present or self._in_old(digest):
            return False
        self._table[offset : offset + DIGEST_BYTES] = digest
        self._count += 1
        if self._old is not None:
            self._move_some()
        elif self._count * 2 > self._mask + 1:
            self._old = self._table
            slots = (self._mask + 1) * 2
            self._table = bytearray(slots * DIGEST_BYTES)
            self._mask = slots - 1
            self._moved = 0
            self._move_some()
        return True

    def _move_some(self) -> None:
        """Move the next ``_MOVED_PER_ADD`` old slots: done before the new table is half full."""
        old = self._old
        assert old is not None
        end = min(self._moved + _MOVED_PER_ADD * DIGEST_BYTES, len(old))
        for offset in range(self._moved, end, DIGEST_BYTES):
            digest = bytes(old[offset : offset + DIGEST_BYTES])
            if digest != _EMPTY:
                new_offset, _present = self._slot(digest)
                self._table[new_offset : new_offset + DIGEST_BYTES] = digest
        self._moved = end
        if end == len(old):
            self._old = None
