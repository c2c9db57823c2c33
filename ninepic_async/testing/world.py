"""The synthetic event: photos, bibs, timestamps, selfie searches, all derived from a seed.

Nothing big is stored per photo. A photo's attributes come from a keyed BLAKE2b digest of
its index, and its image id carries the index (XOR a per-world mask) in its last four
bytes, so looking a photo up by id needs no table. Content bytes are a 32-byte per-photo
header (JPEG SOI marker, the id, digest bytes) followed by a slice of one shared 1 MiB
random pool starting at a per-photo offset: streaming a photo is memoryview slicing.
Only MD5s (on first use), the bib index (on first use) and face-search results are kept.
A replaced object (:meth:`World.replace_at`) is the same bytes XOR a per-version byte mask,
so every byte differs from the previous version while the size stays.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import overload

__all__ = ["HOSTILE_FILENAMES", "FaceResult", "Photo", "World"]

POOL_BYTES = 1024 * 1024
_MULT = 0x9E3779B1
_MULT_INV = pow(_MULT, -1, 2**32)
_WORD = 0xFFFFFFFF
HEADER_BYTES = 32
JPEG_SOI = b"\xff\xd8\xff\xe0"
# Capture windows (seconds after midnight UTC) of the two event days.
DAY1_WINDOW_S = (7 * 3600, 17 * 3600)
DAY2_WINDOW_S = (7 * 3600, 13 * 3600)

HOSTILE_FILENAMES: tuple[str, ...] = (
    "../../x.jpg",
    "/etc/passwd",
    "a/b.jpg",
    "..",
    "",
    "A" * 296 + ".jpg",
    "nul\x00byte.jpg",
    "ctrl\x01\x1f\x7f\n.jpg",
    "CON",
    "Photo.JPG",
    "photo.jpg",
    "IMG_0001.jpg",
    "IMG_0001.jpg",
    ".",
    "..\\..\\win.jpg",
    " spaced name .jpg ",
    "caf\u00e9.jpg",
    "cafe\u0301.jpg",
)
"""Filenames the hostile_filenames knob hands out (spread across the event)."""


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo of the event; sizes in bytes, pixels for width/height, capture time in Unix seconds."""

    image_id: str
    filename: str
    size: int
    captured_at_s: int | None
    bibs: tuple[str, ...]
    index: int
    width: int
    height: int


@dataclass
class FaceResult:
    """A face-search result: matched photo indices in gallery order and a confidence."""

    request_id: str
    indices: list[int]
    confidence_percentage: float | None
    selfie_md5: str | None = None


@dataclass
class _Lazy:
    bib_index: dict[str, list[int]] | None = None
    bib_labels: dict[str, str] | None = None
    timeline: list[tuple[str, int, list[tuple[int, int]]]] | None = None
    pool: bytes | None = None
    md5: dict[int, str] = field(default_factory=dict)
    multipart_etag: dict[int, str] = field(default_factory=dict)


class _PhotoSequence(Sequence[Photo]):
    """A lazy, read-only view of every photo in gallery order."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __len__(self) -> int:
        return self._world.photo_count

    @overload
    def __getitem__(self, index: int) -> Photo: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Photo]: ...

    def __getitem__(self, index: int | slice) -> Photo | Sequence[Photo]:
        if isinstance(index, slice):
            return [self._world.photo_at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._world.photo_at(index)


class World:
    """The deterministic synthetic event of one seed."""

    def __init__(
        self,
        *,
        seed: int = 1,
        event_id: int = 456,
        photo_count: int = 120,
        photo_size: int | tuple[int, int] = (2_000, 20_000),
        bib_count: int | None = None,
        missing_count: int = 0,
        untimed_ratio: float = 0.05,
        hostile_filenames: bool = False,
        event_date: str | None = None,
        shared_basenames: bool = False,
    ) -> None:
        if photo_count >= 2**32:
            raise ValueError("photo_count must be < 2**32")
        self.seed = seed
        self.event_id = event_id
        self.photo_count = photo_count
        self._size_range = photo_size if isinstance(photo_size, tuple) else (photo_size, photo_size)
        self._key = hashlib.blake2b(f"ninepic-sim:{seed}:{event_id}".encode(), digest_size=32).digest()
        self._mask = int.from_bytes(self._key[:4], "big")
        # image ids carry (index * _MULT ^ mask) mod 2**32 in their last four bytes: a bijection.
        self.bib_count = max(1, bib_count if bib_count is not None else max(5, photo_count // 6))
        untimed = round(photo_count * untimed_ratio) if photo_count else 0
        self.timed_count = photo_count - min(untimed, photo_count)
        rng = random.Random(int.from_bytes(self._key[4:12], "big"))
        if event_date is None:
            day0 = datetime(2025, 3, 2, tzinfo=timezone.utc) + timedelta(days=rng.randrange(300))
        else:
            day0 = datetime.fromisoformat(event_date).replace(tzinfo=timezone.utc)
        self.event_date = day0.strftime("%Y-%m-%d")
        self._day1_s = int(day0.timestamp())
        self.event_start_s = self._day1_s
        """Midnight UTC of the first event day (Unix seconds)."""
        self._day2_s = self._day1_s + 86_400
        self._span1_s = DAY1_WINDOW_S[1] - DAY1_WINDOW_S[0]
        self._span_s = self._span1_s + DAY2_WINDOW_S[1] - DAY2_WINDOW_S[0]
        k = min(photo_count, missing_count)
        self._missing: frozenset[int] = frozenset(rng.sample(range(photo_count), k)) if k else frozenset()
        self._hostile: dict[int, str] = {}
        if hostile_filenames and photo_count:
            stride = max(1, photo_count // len(HOSTILE_FILENAMES))
            for n, name in enumerate(HOSTILE_FILENAMES):
                if n * stride < photo_count:
                    self._hostile[n * stride] = name
        self._shared_basenames = shared_basenames
        self._versions: dict[int, int] = {}
        self._lazy = _Lazy()
        self.photos: Sequence[Photo] = _PhotoSequence(self)
        self.face_results: dict[str, FaceResult] = {}
        self.selfies: dict[str, bytes] = {}
        """Known selfie request_id -> the selfie bytes whose upload returns that request_id."""
        self._selfie_by_md5: dict[str, str] = {}
        for n, size in enumerate((12, max(45, photo_count // 100))):
            rid = self._uuid(f"selfie-{n}")
            indices = sorted(rng.sample(range(photo_count), min(photo_count, size)))
            selfie = JPEG_SOI + f"known-selfie-{rid}".encode() + rng.randbytes(64)
            md5 = hashlib.md5(selfie, usedforsecurity=False).hexdigest()
            self.face_results[rid] = FaceResult(rid, indices, 90.0 + n, md5)
            self.selfies[rid] = selfie
            self._selfie_by_md5[md5] = rid
        self._known_selfie_ids = tuple(self.selfies)

    # --- per-photo derivation ----------------------------------------------------------
    def _uuid(self, label: str) -> str:
        raw = bytearray(hashlib.blake2b(label.encode(), key=self._key, digest_size=16).digest())
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        return str(uuid.UUID(bytes=bytes(raw)))

    def _digest(self, index: int) -> bytes:
        return hashlib.blake2b(index.to_bytes(8, "big"), key=self._key, digest_size=32).digest()

    @staticmethod
    def _id_bytes(digest: bytes, index_word: int) -> bytes:
        raw = bytearray(digest[:12] + index_word.to_bytes(4, "big"))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        return bytes(raw)

    def _word(self, index: int) -> int:
        return ((index * _MULT) & _WORD) ^ self._mask

    def image_id_at(self, index: int) -> str:
        """The image id of the photo at gallery position ``index``."""
        return str(uuid.UUID(bytes=self._id_bytes(self._digest(index), self._word(index))))

    def index_of(self, image_id: str) -> int | None:
        """Gallery position of ``image_id`` or ``None`` if it is not a photo of this event."""
        if len(image_id) != 36:
            return None
        try:
            parsed = uuid.UUID(image_id)
        except ValueError:
            return None
        index = ((int.from_bytes(parsed.bytes[12:], "big") ^ self._mask) * _MULT_INV) & _WORD
        if index >= self.photo_count or self.image_id_at(index) != image_id:
            return None
        return index

    def _size(self, digest: bytes) -> int:
        low, high = self._size_range
        return low if low == high else low + int.from_bytes(digest[12:16], "big") % (high - low + 1)

    def _captured_at(self, index: int, digest: bytes) -> int | None:
        if index >= self.timed_count:
            return None
        step = self._span_s / self.timed_count
        offset = int(index * step + int.from_bytes(digest[16:18], "big") / 65536 * step)
        if offset < self._span1_s:
            return self._day1_s + DAY1_WINDOW_S[0] + offset
        return self._day2_s + DAY2_WINDOW_S[0] + offset - self._span1_s

    def bib_label(self, n: int) -> str:
        """The BIB string of bib number ``n`` (some carry a letter, to exercise case-insensitivity)."""
        return f"F{100 + n}" if n % 7 == 3 else str(100 + n)

    def _bibs(self, digest: bytes) -> tuple[str, ...]:
        count = digest[18] % 4
        picks: list[str] = []
        for j in range(count):
            label = self.bib_label(int.from_bytes(digest[19 + 2 * j : 21 + 2 * j], "big") % self.bib_count)
            if label not in picks:
                picks.append(label)
        return tuple(picks)

    def photo_at(self, index: int) -> Photo:
        """The photo at gallery position ``index`` (0-based)."""
        digest = self._digest(index)
        image_id = str(uuid.UUID(bytes=self._id_bytes(digest, self._word(index))))
        filename = self._hostile.get(index)
        if filename is None:
            filename = f"IMG_{index // 2:04d}.jpg" if self._shared_basenames else f"{image_id}.jpg"
        portrait = digest[26] & 1
        return Photo(
            image_id=image_id,
            filename=filename,
            size=self._size(digest),
            captured_at_s=self._captured_at(index, digest),
            bibs=self._bibs(digest),
            index=index,
            width=3240 if portrait else 4860,
            height=4860 if portrait else 3240,
        )

    def photo(self, image_id: str) -> Photo:
        """The photo with ``image_id``; KeyError if the event has none."""
        index = self.index_of(image_id)
        if index is None:
            raise KeyError(image_id)
        return self.photo_at(index)

    def size_at(self, index: int) -> int:
        """Size in bytes of the photo at gallery position ``index``."""
        return self._size(self._digest(index))

    def is_missing(self, index: int) -> bool:
        """Whether the photo's object is missing from storage."""
        return index in self._missing

    @property
    def missing_ids(self) -> list[str]:
        """Image ids whose objects are missing from storage (they land in failed_urls)."""
        return [self.image_id_at(i) for i in sorted(self._missing)]

    # --- bibs ----------------------------------------------------------------------------
    def _bib_index(self) -> tuple[dict[str, list[int]], dict[str, str]]:
        if self._lazy.bib_index is None or self._lazy.bib_labels is None:
            index: dict[str, list[int]] = {}
            labels: dict[str, str] = {}
            for i in range(self.photo_count):
                for label in self._bibs(self._digest(i)):
                    key = label.casefold()
                    labels[key] = label
                    index.setdefault(key, []).append(i)
            self._lazy.bib_index, self._lazy.bib_labels = index, labels
        return self._lazy.bib_index, self._lazy.bib_labels

    def bib_indices(self, bib: str) -> list[int] | None:
        """Gallery positions of the photos tagged ``bib`` (case-insensitive); None if unknown."""
        return self._bib_index()[0].get(bib.strip().casefold())

    @property
    def bibs(self) -> dict[str, list[str]]:
        """BIB -> image ids of its photos (gallery order). Builds the index on first use."""
        index, labels = self._bib_index()
        return {labels[k]: [self.image_id_at(i) for i in v] for k, v in index.items()}

    # --- timeline --------------------------------------------------------------------------
    def timestamp_at(self, index: int) -> int | None:
        """Capture time (Unix seconds, UTC) of the photo at ``index``; None for an untimed photo."""
        return self._captured_at(index, self._digest(index))

    def timeline_days(self) -> list[tuple[str, int, list[tuple[int, int]]]]:
        """[(YYYY-MM-DD, total, [(hour, count), ...]), ...] ascending, UTC."""
        if self._lazy.timeline is None:
            buckets: dict[str, dict[int, int]] = {}
            day_names: dict[int, str] = {}
            for i in range(self.timed_count):
                ts = self.timestamp_at(i)
                assert ts is not None
                day_s = ts - ts % 86_400
                day = day_names.get(day_s)
                if day is None:
                    day = day_names[day_s] = datetime.fromtimestamp(day_s, tz=timezone.utc).strftime(
                        "%Y-%m-%d"
                    )
                hours = buckets.setdefault(day, {})
                hour = ts % 86_400 // 3600
                hours[hour] = hours.get(hour, 0) + 1
            self._lazy.timeline = [
                (day, sum(hours.values()), sorted(hours.items())) for day, hours in sorted(buckets.items())
            ]
        return self._lazy.timeline

    def timeline_range(self, start_s: int, end_s: int) -> range:
        """Gallery positions of photos captured in [start_s, end_s) (timestamps ascend with position)."""
        if end_s <= start_s:
            return range(0)
        positions = range(self.timed_count)
        lo = bisect.bisect_left(positions, start_s, key=self._ts_key)
        hi = bisect.bisect_left(positions, end_s, key=self._ts_key)
        return range(lo, hi)

    def _ts_key(self, index: int) -> int:
        ts = self.timestamp_at(index)
        assert ts is not None
        return ts

    # --- selfies ---------------------------------------------------------------------------
    @property
    def selfie_request_ids(self) -> dict[str, list[str]]:
        """The pre-registered selfie request_ids -> image ids they match (gallery order)."""
        return {
            rid: [self.image_id_at(i) for i in self.face_results[rid].indices]
            for rid in self._known_selfie_ids
        }

    def match_selfie(self, selfie: bytes) -> FaceResult:
        """Run "face matching" on a selfie: deterministic in its bytes; ``noface...`` matches nothing.

        The request_id is derived from the selfie, so uploading the same bytes again yields the
        same request_id (and the known selfies in :attr:`selfies` yield their known ids).
        """
        md5 = hashlib.md5(selfie, usedforsecurity=False).hexdigest()
        known = self._selfie_by_md5.get(md5)
        if known is not None:
            return self.face_results[known]
        rid = self._uuid(f"upload-{md5}")
        if selfie.startswith(b"noface"):
            return FaceResult(rid, [], None, md5)
        h = int(md5, 16)
        rng = random.Random(h)
        count = min(self.photo_count, 5 + h % 20)
        indices = sorted(rng.sample(range(self.photo_count), count))
        return FaceResult(rid, indices, float(70 + h % 30), md5)

    def new_request_id(self, label: str) -> str:
        """A deterministic UUID for ``label`` (video jobs, face searches under a given name)."""
        return self._uuid(label)

    # --- content ---------------------------------------------------------------------------
    def _pool(self) -> bytes:
        if self._lazy.pool is None:
            data = random.Random(int.from_bytes(self._key[12:20], "big")).randbytes(POOL_BYTES)
            self._lazy.pool = data + data
        return self._lazy.pool

    def _header(self, index: int, digest: bytes) -> bytes:
        return JPEG_SOI + self._id_bytes(digest, self._word(index)) + digest[:12]

    def iter_content(
        self, index: int, start: int = 0, end: int | None = None, chunk_bytes: int = 512 * 1024
    ) -> Iterator[bytes | memoryview]:
        """Yield the bytes [start, end) of a photo's content in pieces of at most ``chunk_bytes``."""
        version = self._versions.get(index) if self._versions else None
        if version is not None:
            table = _xor_table(version)
            for piece in self._iter_original(index, start, end, chunk_bytes):
                yield bytes(piece).translate(table)
            return
        yield from self._iter_original(index, start, end, chunk_bytes)

    def _iter_original(
        self, index: int, start: int, end: int | None, chunk_bytes: int
    ) -> Iterator[bytes | memoryview]:
        digest = self._digest(index)
        size = self._size(digest)
        end = size if end is None else min(end, size)
        chunk_bytes = max(1, min(chunk_bytes, POOL_BYTES))
        pos = max(0, start)
        if pos < HEADER_BYTES and pos < end:
            header = self._header(index, digest)
            while pos < HEADER_BYTES and pos < end:
                stop = min(end, HEADER_BYTES, pos + chunk_bytes)
                yield header[pos:stop]
                pos = stop
        if pos >= end:
            return
        pool = memoryview(self._pool())
        offset = (int.from_bytes(digest[22:26], "big") + pos - HEADER_BYTES) % POOL_BYTES
        while pos < end:
            n = min(chunk_bytes, end - pos)
            yield pool[offset : offset + n]
            pos += n
            offset = (offset + n) % POOL_BYTES

    def version_at(self, index: int) -> int:
        """How many times the object at ``index`` was replaced (0 = the original bytes)."""
        return self._versions.get(index, 0)

    def replace_at(self, index: int) -> int:
        """Replace the object at ``index`` with new bytes of the same size; returns its new version.

        Every byte differs from the previous version (a per-version XOR mask), so MD5 and the
        multipart ETag change; :meth:`content` and :meth:`md5` give the current version.
        """
        if not 0 <= index < self.photo_count:
            raise IndexError(index)
        version = self._versions[index] = self._versions.get(index, 0) + 1
        self._lazy.md5.pop(index, None)
        self._lazy.multipart_etag.pop(index, None)
        return version

    def replace(self, image_id: str) -> int:
        """:meth:`replace_at` by image id (KeyError if the event has no such photo)."""
        return self.replace_at(self._require(image_id))

    def content(self, image_id: str) -> bytes:
        """The full content of a photo's original (what storage serves, current version)."""
        return b"".join(self.iter_content(self._require(image_id)))

    def md5(self, image_id: str) -> str:
        """Hex MD5 of a photo's content (current version)."""
        return self.md5_at(self._require(image_id))

    def md5_at(self, index: int) -> str:
        """Hex MD5 of the photo's content at ``index`` (computed on first use, then cached)."""
        cached = self._lazy.md5.get(index)
        if cached is None:
            h = hashlib.md5(usedforsecurity=False)
            for piece in self.iter_content(index, chunk_bytes=POOL_BYTES):
                h.update(piece)
            cached = self._lazy.md5[index] = h.hexdigest()
        return cached

    def multipart_etag_at(self, index: int) -> str:
        """An S3 multipart-style ETag body (``<hex>-2``): MD5 of the two halves' MD5s."""
        cached = self._lazy.multipart_etag.get(index)
        if cached is None:
            size = self.size_at(index)
            half = size // 2
            parts = []
            for lo, hi in ((0, half), (half, size)):
                h = hashlib.md5(usedforsecurity=False)
                for piece in self.iter_content(index, lo, hi, POOL_BYTES):
                    h.update(piece)
                parts.append(h.digest())
            cached = self._lazy.multipart_etag[index] = (
                hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest() + "-2"
            )
        return cached

    def _require(self, image_id: str) -> int:
        index = self.index_of(image_id)
        if index is None:
            raise KeyError(image_id)
        return index


_XOR_TABLES: dict[int, bytes] = {}


def _xor_table(version: int) -> bytes:
    """The bytes.translate table of a replaced object's version: XOR a mask in 1..255.

    Consecutive versions have different masks, so each replacement changes every byte.
    """
    mask = (version - 1) % 255 + 1
    table = _XOR_TABLES.get(mask)
    if table is None:
        table = _XOR_TABLES[mask] = bytes(b ^ mask for b in range(256))
    return table
