"""Sharding one selection among N runs: ``--shard K/N`` (K counted from 0, like rclone's ``--hash-filter``).

A photo belongs to shard ``crc32(image_id) % N`` (zlib's CRC-32 of the id's UTF-8 bytes: stable
across processes, machines and Python versions, unlike ``hash()``). So N processes or machines
can share one destination without overlap. Each shard appends to its own manifest,
``manifest.K-of-N.jsonl``, beside the plain ``manifest.jsonl`` of unsharded runs; reading a
destination reads all of them (see :mod:`.manifest`), so a rerun with any N resumes.
"""

from __future__ import annotations

import os
import re
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from .._constants import LOCK_NAME, MANIFEST_NAME
from .._exceptions import RequestValidationError

__all__ = ["Shard", "is_own_name", "manifest_paths"]

_SHARD_MANIFEST = re.compile(r"manifest\.(\d+)-of-(\d+)\.jsonl")
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``); the photos whose id hashes to it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        for name in ("index", "count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestValidationError(f"shard.{name}", f"must be an integer; got {value!r}")
        if self.count < 1:
            raise RequestValidationError("shard", f"the shard count must be >= 1; got {self.count}")
        if not 0 <= self.index < self.count:
            raise RequestValidationError(
                "shard", f"K must be in 0..{self.count - 1} for K/{self.count}; got {self.index}"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` as a :class:`Shard`; :class:`RequestValidationError` says what is wrong."""
        match = _SPEC.fullmatch(text)
        if match is None:
            raise RequestValidationError("shard", f"must be K/N, e.g. 0/4 (K counted from 0); got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, image_id: str) -> bool:
        """Whether the photo ``image_id`` belongs to this shard."""
        return zlib.crc32(image_id.encode("utf-8", "surrogatepass")) % self.count == self.index

    @property
    def manifest_name(self) -> str:
        """The file name of this shard's manifest."""
        return f"manifest.{self.index}-of-{self.count}.jsonl"


def is_own_name(name: str) -> bool:
    """Whether ``name`` is one of the downloader's own files (a manifest, a lock), never a photo's."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    own = folded == MANIFEST_NAME or folded.startswith(LOCK_NAME)
    return own or _SHARD_MANIFEST.fullmatch(folded) is not None


def manifest_paths(dest: str | os.PathLike[str]) -> list[Path]:
    """Every manifest of a destination: ``manifest.jsonl`` first, then the shards' in name order.

    The plain manifest is listed even when absent (reading a missing manifest yields nothing).
    """
    root = Path(dest)
    shards: list[str] = []
    try:
        with os.scandir(root) as entries:
            shards = sorted(e.name for e in entries if _SHARD_MANIFEST.fullmatch(e.name))
    except FileNotFoundError:
        pass
    return [root / MANIFEST_NAME, *(root / name for name in shards)]
