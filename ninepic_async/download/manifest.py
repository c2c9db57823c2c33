"""The download manifest: ``<dest>/manifest.jsonl``, the record that makes reruns resume.

Format (JSON Lines, UTF-8, one object per line, appended as each outcome happens)::

    {"v":1,"image_id":"a44...","status":"ok","file":"IMG_0001.jpg","bytes":48213,
     "etag":"\\"9e1c...\\"","time":1732390000.12}
    {"v":1,"image_id":"f6c...","status":"failed","error":"File not found in raw-memories bucket",
     "path":"imgs/456/large/f6c....jpg","time":1732390001.5}

- ``v``: format version (currently 1), on every line.
- ``image_id``: the photo. ``status``: ``ok`` or ``failed``.
- ``file``: the file name relative to the destination (for ``ok``; for ``failed`` the name
  reserved for the photo, when one was given). ``bytes``: size of the completed file.
- ``etag``: the store's ETag of the completed object, when sent.
- ``error``: why it failed (human text); ``path``: the API's object path of a failed_urls entry.
- ``time``: Unix seconds when the line was written.
Absent fields are null. URLs are never stored (they are short-lived and only bloat the file).

The last line for an image id wins. Each line goes out as one ``os.write`` on an
``O_APPEND`` descriptor, so a killed run loses at most the line being written; a torn or
garbage line is skipped with a warning when the manifest is read, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from .._constants import MANIFEST_NAME
from .._exceptions import DestinationError, redact

__all__ = ["MANIFEST_VERSION", "Manifest", "ManifestEntry", "ManifestState", "read_manifest"]

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1


class ManifestEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of the manifest (see the module docstring)."""

    v: int
    image_id: str
    status: Literal["ok", "failed"]
    time: float
    file: str | None = None
    bytes: int | None = None
    etag: str | None = None
    error: str | None = None
    path: str | None = None


_decoder = msgspec.json.Decoder(ManifestEntry)
_encoder = msgspec.json.Encoder()


def read_manifest(path: str | os.PathLike[str]) -> Iterator[ManifestEntry]:
    """Every readable entry of a manifest file, in order; unreadable lines are logged and skipped."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; iteration is lazy)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DestinationError(f"cannot read the manifest {os.fspath(path)!r}: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            try:
                entry = _decoder.decode(stripped)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                logger.warning("manifest %s line %d is unreadable and was skipped: %s", path, number, exc)
                continue
            yield entry


@dataclass(slots=True)
class _Known:
    status: str
    file: str | None
    bytes: int | None


class ManifestState:
    """What a previous run left: for each image id its latest status, file name and size."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Known] = {}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ManifestState:
        state = cls()
        for entry in read_manifest(path):
            state.record(entry)
        return state

    def record(self, entry: ManifestEntry) -> None:
        previous = self._by_id.get(entry.image_id)
        file = entry.file if entry.file is not None else (previous.file if previous else None)
        self._by_id[entry.image_id] = _Known(entry.status, file, entry.bytes)

    def __len__(self) -> int:
        return len(self._by_id)

    def names(self) -> Iterator[tuple[str, str]]:
        """``(image_id, file)`` for every id that was given a file name."""
        for image_id, known in self._by_id.items():
            if known.file is not None:
                yield image_id, known.file

    def file_of(self, image_id: str) -> str | None:
        known = self._by_id.get(image_id)
        return known.file if known else None

    def completed(self, image_id: str, dest: Path) -> tuple[str, int] | None:
        """``(file, bytes)`` when the id is recorded ok and the file exists with that size."""
        known = self._by_id.get(image_id)
        if known is None or known.status != "ok" or known.file is None or known.bytes is None:
            return None
        try:
            size = os.stat(dest / known.file).st_size
        except OSError:
            return None
        return (known.file, size) if size == known.bytes else None


class Manifest:
    """The writable manifest of a run: opened once, one ``os.write`` per appended line."""

    def __init__(self, dest: Path) -> None:
        self.path = dest / MANIFEST_NAME
        self._fd: int | None = None

    def open(self) -> None:
        """Open for appending; completes a torn last line so the next entry starts cleanly."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DestinationError(f"cannot open the manifest {str(self.path)!r}: {exc}") from exc
        self._fd = fd
        try:
            size = os.fstat(fd).st_size
            if size > 0:
                with open(self.path, "rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        self._write(b"\n")
        except OSError as exc:
            self.close()
            raise DestinationError(f"cannot write the manifest {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def append(self, entry: ManifestEntry) -> None:
        """Append one line now (synchronously: a line is never half-written by a cancelled task)."""
        if self._fd is None:
            raise DestinationError("the manifest is not open")
        try:
            self._write(_encoder.encode(entry) + b"\n")
        except OSError as exc:
            raise DestinationError(f"cannot write the manifest {str(self.path)!r}: {exc}") from exc

    def ok(self, image_id: str, file: str, size_bytes: int, etag: str | None) -> None:
        self.append(
            ManifestEntry(
                v=MANIFEST_VERSION,
                image_id=image_id,
                status="ok",
                time=round(time.time(), 3),
                file=file,
                bytes=size_bytes,
                etag=etag,
            )
        )

    def failed(self, image_id: str, error: str, *, file: str | None = None, path: str | None = None) -> None:
        self.append(
            ManifestEntry(
                v=MANIFEST_VERSION,
                image_id=image_id,
                status="failed",
                time=round(time.time(), 3),
                file=file,
                error=redact(error),
                path=path,
            )
        )
