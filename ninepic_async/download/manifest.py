"""The download manifest: ``<dest>/manifest.jsonl``, the record that makes reruns resume.

Format (JSON Lines, UTF-8, one object per line, appended as each outcome happens)::

    {"v":1,"image_id":"a44...","status":"ok","file":"IMG_0001.jpg","bytes":48213,
     "etag":"\\"9e1c...\\"","time":1732390000.12}
    {"v":1,"image_id":"f6c...","status":"failed","error":"File not found in raw-memories bucket",
     "path":"imgs/456/large/f6c....jpg","time":1732390001.5}
    {"v":1,"image_id":"b71...","status":"partial","file":"IMG_0002.jpg","bytes":51200,
     "etag":"\\"77ab...\\"","time":1732390002.0}

- ``v``: format version (currently 1), on every line.
- ``image_id``: the photo. ``status``: ``ok``, ``failed`` or ``partial``.
- ``file``: the file's path relative to the destination, ``/``-separated (a plain name unless
  a name template made folders) (for ``ok``; for ``failed`` and
  ``partial`` the name reserved for the photo, when one was given). ``bytes``: size of the
  completed file (``ok``) or of the whole object as first announced (``partial``).
- ``etag``: the store's ETag of the object, when sent.
- ``digest``: the completed file's digest (``ok``) as ``"<name>:<hex>"`` (``crc32c`` by
  default, ``sha256`` on request; see :mod:`.integrity`), computed while it streamed;
  ``ninepic check`` and ``verify`` reruns compare files against it.
- ``partial``: written when a ``<file>.part`` is started (by a sharded run already when it
  claims the name, with no size and ETag yet): the size and ETag the store first announced,
  so a resume in a later run sends ``If-Range`` with that ETag and checks the ranged answer
  against that size (a changed object restarts from byte 0).
- ``synced`` (``image_id`` empty, ``covers``: a byte offset): every file whose line starts
  before ``covers`` was on the disk when the line was written (a run syncs the file system
  every ``DOWNLOAD_SYNC_INTERVAL_S``). After a power cut, the ``ok`` files of later lines are
  re-hashed against their ``digest`` before a rerun trusts them.
- ``error``: why it failed (human text); ``path``: the API's object path of a failed_urls entry.
- ``time``: Unix seconds when the line was written.
Absent fields are null. URLs are never stored (they are short-lived and only bloat the file).

The last line for an image id wins. Each line goes out as one ``os.write`` on an
``O_APPEND`` descriptor, so a killed run loses at most the line being written; a torn or
garbage line is skipped with a warning when the manifest is read, never a crash. A line
whose ``file`` is not a relative path of plain names inside the destination (``../x``, the
manifest, a ``.part``) is skipped the same way; so are all lines that give one file to two image ids.

Crash safety (the order of a completion): a photo is streamed into ``<file>.part``; once
it is complete and checked (length, MD5 with ``verify``) its ``ok`` line is appended FIRST
and only then is the ``.part`` renamed to ``<file>``. So at every instant:

- a final-named file the downloader wrote always has its ``ok`` line already;
- a run killed between the two steps leaves an ``ok`` line, no ``<file>`` and a ``.part``
  of exactly ``bytes``: the next run finishes the rename without fetching anything;
- a ``.part`` without an ``ok`` line is resumed (``Range: bytes=N-``) or restarted.

Therefore a file at a name no ``ok`` line gave to that photo is not the downloader's (or
comes from a manifest that lost lines): it is never overwritten. After the download, the
same content there is adopted as the photo's file; different content makes the photo take
the next free name. Only files whose name the manifest records for that very photo are
replaced (a damaged copy of ours). One run at a time holds the lock of ``<dest>``.

Sharded runs (``--shard K/N``, :mod:`.shard`) each append to their own
``manifest.K-of-N.jsonl`` and may run at once; a destination's state is read from all of its
manifests (:meth:`ManifestState.load_dest`), merged by ``time``, the latest line per photo winning.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from .._constants import MANIFEST_NAME, MAX_FILENAME_BYTES, PART_SUFFIX
from .._exceptions import DestinationError, redact
from .integrity import Announced
from .names import name_key
from .shard import is_own_name, manifest_paths

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "ManifestEntry",
    "ManifestRecorder",
    "ManifestState",
    "encode_line",
    "read_manifest",
    "recorded_name_problem",
    "regular_file_size",
]

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1


class ManifestEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of the manifest (see the module docstring)."""

    v: int
    image_id: str
    status: Literal["ok", "failed", "partial", "synced"]
    time: float
    file: str | None = None
    bytes: int | None = None
    etag: str | None = None
    digest: str | None = None
    error: str | None = None
    path: str | None = None
    covers: int | None = None


_decoder = msgspec.json.Decoder(ManifestEntry)
_encoder = msgspec.json.Encoder()


def _write_error(action: str, path: Path, exc: OSError) -> DestinationError:
    reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
    return DestinationError(f"cannot {action} the manifest {str(path)!r}: {reason}")


def read_manifest(path: str | os.PathLike[str]) -> Iterator[ManifestEntry]:
    """Every readable entry of a manifest file, in order; unreadable lines are logged and skipped."""
    for _offset, entry in _entries_at(path):
        yield entry


def _entries_at(path: str | os.PathLike[str]) -> Iterator[tuple[int, ManifestEntry]]:
    """``(byte offset of its line, entry)`` of every readable entry, in order."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; iteration is lazy)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DestinationError(f"cannot read the manifest {os.fspath(path)!r}: {exc}") from exc
    with handle:
        yield from _entries_in(handle, os.fspath(path))


def _entries_in(lines: Iterable[bytes], label: str) -> Iterator[tuple[int, ManifestEntry]]:
    """``(byte offset, entry)`` of every readable line of ``lines`` (a manifest named ``label``)."""
    offset = 0
    for number, line in enumerate(lines, start=1):
        start, offset = offset, offset + len(line)
        stripped = line.strip()
        if not stripped:
            continue
        try:
            entry = _decoder.decode(stripped)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            logger.warning("manifest %s line %d is unreadable and was skipped: %s", label, number, exc)
            continue
        yield start, entry


@dataclass(slots=True)
class _Known:
    status: str
    file: str | None
    bytes: int | None
    digest: str | None = None
    etag: str | None = None
    announced: Announced | None = None
    """Size and ETag of the last ``partial`` line since the last ``ok`` (what a ``.part`` holds)."""
    offset: int = 0
    """Where the latest line of this id starts in the manifest (see ``synced`` lines)."""
    source: int = 0
    """Which of the loaded manifest files that line is in."""


def regular_file_size(path: str | os.PathLike[str]) -> int | None:
    """Size of the regular file at ``path``; None when absent or not a regular file (symlinks too)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def recorded_name_problem(name: str) -> str | None:
    """Why a ``file`` read from a manifest cannot be used as a name inside the destination, or None.

    A manifest is data from disk, so a damaged or hand-edited one must not steer writes
    outside the destination or onto the manifest, the lock or a ``.part`` file.
    """
    segments = name.split("/")  # a name template's folders: each segment a plain name too
    for segment in segments:
        if not segment or segment in (".", "..") or any(c in segment for c in "\\\x00"):
            return "is not a relative path of plain names"
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
            return f"has a part longer than {MAX_FILENAME_BYTES} bytes"
        if is_own_name(segment):
            return "names a file the downloader keeps for itself"
    if name.endswith(PART_SUFFIX):
        return "names a file the downloader keeps for itself"
    return None


class ManifestState:
    """What a previous run left: for each image id its latest status, file name and size."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Known] = {}
        self._owner: dict[str, str] = {}
        """name_key(file) -> the image id that owns the name (two ids never share a file)."""
        self._synced_up_to: dict[int, int] = {}
        """Per manifest file: lines starting before this byte offset describe files known to be
        on the disk."""

    @classmethod
    def load(cls, *paths: str | os.PathLike[str]) -> ManifestState:
        """The state manifest files record; lines with unsafe or shared file names are skipped.

        Several files (the manifests of a sharded destination, :mod:`.shard`) are merged by
        each line's ``time``, keeping every file's own order: the latest line per photo wins.
        """
        return cls._merged([_entries_at(p) for p in paths], [os.fspath(p) for p in paths])

    @classmethod
    def from_segments(cls, segments: Sequence[tuple[str, bytes]]) -> ManifestState:
        """The state manifest segments record (``(name, content)``, e.g. objects of a bucket),
        merged as :meth:`load` merges files."""
        return cls._merged(
            [_entries_in(data.splitlines(keepends=True), name) for name, data in segments],
            [name for name, _data in segments],
        )

    @classmethod
    def _merged(
        cls, sources: Sequence[Iterator[tuple[int, ManifestEntry]]], labels: Sequence[str]
    ) -> ManifestState:
        state = cls()
        disputed: set[str] = set()
        tagged = [
            ((entry.time, source, offset, entry) for offset, entry in lines)
            for source, lines in enumerate(sources)
        ]
        for _time, source, offset, entry in heapq.merge(*tagged, key=lambda line: line[0]):
            path = labels[source]
            if entry.status == "synced":
                state._synced_up_to[source] = max(state._synced_up_to.get(source, 0), entry.covers or 0)
                continue
            if entry.file is not None:
                problem = recorded_name_problem(entry.file)
                if problem is not None:
                    logger.warning(
                        "manifest %s: the line of image %s was skipped: its file %r %s",
                        path,
                        entry.image_id,
                        entry.file,
                        problem,
                    )
                    continue
                key = name_key(entry.file)
                owner = state._owner.get(key)
                if key in disputed or (owner is not None and owner != entry.image_id):
                    # Two ids never share a file: a name recorded for both is trusted for neither.
                    # Both are fetched again; the file there is adopted by content (see above).
                    logger.warning(
                        "manifest %s: file %r is recorded for more than one image (%s, %s); "
                        "those lines were skipped",
                        path,
                        entry.file,
                        owner,
                        entry.image_id,
                    )
                    disputed.add(key)
                    if owner is not None:
                        state._forget(owner)
                    continue
            state.record(entry, offset, source)
        return state

    @classmethod
    def load_dest(cls, dest: str | os.PathLike[str]) -> ManifestState:
        """The state every manifest of the destination ``dest`` records (sharded or not)."""
        return cls.load(*manifest_paths(dest))

    def record(self, entry: ManifestEntry, offset: int = 0, source: int = 0) -> None:
        """Take ``entry`` (its line at ``offset``) as its id's latest status; a line without ``file``
        keeps the earlier name."""
        previous = self._by_id.get(entry.image_id)
        file = entry.file if entry.file is not None else (previous.file if previous else None)
        if previous is not None and previous.file is not None and previous.file != file:
            self._owner.pop(name_key(previous.file), None)
        if file is not None:
            self._owner[name_key(file)] = entry.image_id
        if entry.status == "partial":
            announced: Announced | None = Announced(entry.bytes, entry.etag)
        elif entry.status == "failed" and previous is not None:
            announced = previous.announced
        else:
            announced = None
        self._by_id[entry.image_id] = _Known(
            entry.status, file, entry.bytes, entry.digest, entry.etag, announced, offset, source
        )

    def _forget(self, image_id: str) -> None:
        known = self._by_id.pop(image_id, None)
        if known is not None and known.file is not None:
            self._owner.pop(name_key(known.file), None)

    def __len__(self) -> int:
        return len(self._by_id)

    def names(self) -> Iterator[tuple[str, str]]:
        """``(image_id, file)`` for every id that was given a file name."""
        for image_id, known in self._by_id.items():
            if known.file is not None:
                yield image_id, known.file

    def announced(self, image_id: str) -> Announced | None:
        """What the store first announced for the ``.part`` of ``image_id`` (a ``partial`` line)."""
        known = self._by_id.get(image_id)
        return known.announced if known else None

    def on_disk_for_sure(self, image_id: str) -> bool:
        """Whether the ``ok`` file of ``image_id`` was synced to the disk (a ``synced`` line came
        after its line), or cannot be re-checked anyway (no digest recorded): else a rerun
        re-hashes it before trusting it, since a power cut may have lost its bytes."""
        known = self._by_id.get(image_id)
        if known is None:
            return False
        return known.digest is None or known.offset < self._synced_up_to.get(known.source, 0)

    def digests(self, image_id: str) -> tuple[str | None, str | None]:
        """``(digest, etag)`` recorded with the ``ok`` line of ``image_id`` (each None if absent)."""
        known = self._by_id.get(image_id)
        if known is None or known.status != "ok":
            return None, None
        return known.digest, known.etag

    def entries(self) -> Iterator[tuple[str, str, str | None, int | None, str | None]]:
        """``(image_id, status, file, bytes, digest)`` of every id's latest line."""
        for image_id, known in self._by_id.items():
            yield image_id, known.status, known.file, known.bytes, known.digest

    def recorded_ok(self, image_id: str) -> tuple[str, int] | None:
        """``(file, bytes)`` of the id's latest line when it is ``ok``, else None; the file itself
        is not looked at."""
        known = self._by_id.get(image_id)
        if known is None or known.status != "ok" or known.file is None or known.bytes is None:
            return None
        return known.file, known.bytes


def encode_line(entry: ManifestEntry) -> bytes:
    """``entry`` as one manifest line, its newline included."""
    return _encoder.encode(entry) + b"\n"


class ManifestRecorder:
    """The recording methods a run calls on its manifest, whatever stores the lines (a file here,
    bucket segments in :class:`.bucket.BucketManifest`): each builds one line for :meth:`append`."""

    def append(self, entry: ManifestEntry) -> None:
        """Record one line."""
        raise NotImplementedError

    def ok(
        self, image_id: str, file: str, size_bytes: int, etag: str | None, digest: str | None = None
    ) -> None:
        """Record ``image_id`` complete as ``file`` of ``size_bytes`` bytes, so later runs skip it."""
        self.append(
            ManifestEntry(
                v=MANIFEST_VERSION,
                image_id=image_id,
                status="ok",
                time=round(time.time(), 3),
                file=file,
                bytes=size_bytes,
                etag=etag,
                digest=digest,
            )
        )

    def failed(self, image_id: str, error: str, *, file: str | None = None, path: str | None = None) -> None:
        """Record ``image_id`` failed with ``error`` (redacted), keeping ``file`` as its name for a retry."""
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


class Manifest(ManifestRecorder):
    """The writable manifest of a run: opened once, one ``os.write`` per appended line.

    Lines may be appended from the event loop and from worker threads (a download completes
    in one): a lock keeps each line whole and the cut-back size consistent.
    """

    def __init__(self, dest: Path, name: str = MANIFEST_NAME) -> None:
        self.path = dest / name
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        """Bytes in the file after our last complete line (one run appends: the lock)."""

    def open(self) -> None:
        """Open for appending; completes a torn last line so the next entry starts cleanly."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _write_error("open", self.path, exc) from exc
        self._fd = fd
        try:
            size = self._size = os.fstat(fd).st_size
            if size > 0:
                with open(self.path, "rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        self._write(b"\n")
        except OSError as exc:
            self.close()
            raise _write_error("write", self.path, exc) from exc

    def close(self) -> None:
        """Close the file (idempotent); lines already appended are on disk, nothing is buffered."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def _write(self, data: bytes) -> None:
        """Append ``data`` whole; on failure (disk full) cut the file back so no torn line stays."""
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def append(self, entry: ManifestEntry) -> None:
        """Append one line now (synchronously: a line is never half-written by a cancelled task)."""
        line = encode_line(entry)
        try:
            with self._lock:
                if self._fd is None:
                    raise DestinationError("the manifest is not open")
                self._write(line)
        except OSError as exc:
            raise _write_error("write", self.path, exc) from exc

    @property
    def size(self) -> int:
        """Bytes in the manifest after its last complete line."""
        return self._size

    def synced(self, covers: int) -> None:
        """Record that the files of every line before byte ``covers`` are on the disk (a sync ran)."""
        self.append(
            ManifestEntry(
                v=MANIFEST_VERSION, image_id="", status="synced", time=round(time.time(), 3), covers=covers
            )
        )

    def partial(self, image_id: str, file: str, announced: Announced) -> None:
        """Record that ``<file>.part`` now holds the first bytes of the object ``announced`` describes."""
        self.append(
            ManifestEntry(
                v=MANIFEST_VERSION,
                image_id=image_id,
                status="partial",
                time=round(time.time(), 3),
                file=file,
                bytes=announced.size,
                etag=announced.etag,
            )
        )
