"""Check a download destination against its manifest (``ninepic check``, like ``rclone check``).

```python
from ninepic_async.download.check import check_destination
report = await check_destination("out/")
print(report.clean, report.missing, report.changed, report.extra)
```

Every ``ok`` line of ``<dest>/manifest.jsonl`` and of the shards' ``manifest.K-of-N.jsonl``
(the latest line per image id, see :mod:`.manifest`) names a file; each is read again and
compared with what the line records:

- ``missing``: no regular file at the recorded name (a symlink there is never followed, a
  directory does not count), or the file cannot be read;
- ``changed``: its size differs from ``bytes``, or its digest from ``digest``. An ``ok``
  line without a ``digest`` is checked by MD5 when its ``etag`` is a plain MD5;
- ``unverifiable``: neither a ``digest`` nor a plain-MD5 ``etag`` is recorded (the size, when
  recorded, matches): reported and counted, but not a problem for :attr:`CheckReport.clean`;
- ``extra``: a regular file in the destination that no ``ok`` line names. The manifest, the
  lock file ``.ninepic.lock``, ``*.part`` files, directories and symlinks are not listed.

Nothing is written. While it runs the check holds a shared lock on the destination (the
download's lock, see :mod:`.lock`), so a download cannot start in it meanwhile, and a check
of a destination a download is using fails with :class:`DestinationError` instead of
reporting its half-finished files. Files are hashed in worker threads; the directory listing
and the manifest are read in one too, so the event loop is never blocked.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeVar

import anyio
import anyio.to_thread

from .._constants import DEFAULT_CHECK_CONCURRENCY, LOCK_NAME, MANIFEST_NAME, PART_SUFFIX
from .._exceptions import DestinationError
from .integrity import digest_name, file_digest, file_md5, plain_md5
from .manifest import ManifestState
from .names import name_key
from .shard import is_own_name, manifest_paths

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_CHECK_CONCURRENCY",
    "CheckReport",
    "CheckStatus",
    "CheckedFile",
    "check_destination",
]

logger = logging.getLogger(__name__)

CheckStatus = Literal["ok", "missing", "changed", "extra", "unverifiable"]
"""What the check found for one file (see the module docstring)."""

_STATUS_ORDER: Final = {"missing": 0, "changed": 1, "extra": 2, "unverifiable": 3, "ok": 4}


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """The verdict on one file of the destination.

    ``image_id`` is the photo the manifest records the file for (None for an extra file no
    line names), ``file`` the name relative to the destination, ``detail`` a short human
    reason for every status but ``ok`` (e.g. ``"size 100 bytes, the manifest records 120"``).
    """

    image_id: str | None
    file: str
    status: CheckStatus
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Totals of a check: files ``checked`` (the sum of the five counts) and every file that is
    not ``ok`` in ``problems`` (missing, changed, extra, then unverifiable; by name within each)."""

    checked: int = 0
    ok: int = 0
    missing: int = 0
    changed: int = 0
    extra: int = 0
    unverifiable: int = 0
    problems: list[CheckedFile] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when no file is missing, changed or extra (unverifiable files do not count)."""
        return not (self.missing or self.changed or self.extra)


@dataclass(frozen=True, slots=True)
class _HashJob:
    """An ``ok`` file present with the recorded size, to be hashed in a worker thread."""

    image_id: str
    file: str
    size: int | None
    """Recorded ``bytes`` (None when the line has none)."""
    digest: str | None
    """The recorded ``"<name>:<hex>"`` digest, of an algorithm :func:`digest_name` knows."""
    md5: str | None


@dataclass(slots=True)
class _Plan:
    """What can be decided without reading file contents, and the files left to hash."""

    decided: list[CheckedFile] = field(default_factory=list)
    jobs: list[_HashJob] = field(default_factory=list)


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _lock_shared(dest: Path) -> int | None:
    """A shared ``flock`` on the destination directory (the download holds it exclusively).

    Returns the descriptor to close when done (None where ``fcntl`` is missing); raises
    :class:`DestinationError` when a download is running in ``dest``.
    """
    if fcntl is None:  # pragma: no cover - Windows: downloads are not locked either
        return None
    try:
        fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise DestinationError(f"cannot open the destination {str(dest)!r}: {_describe(exc)}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise DestinationError(
                f"a download is running in {str(dest)!r}; check it when the download has finished"
            ) from None
        logger.debug("could not lock %s for the check: %s", dest, exc)  # e.g. a filesystem without flock
        return None
    try:
        _no_shard_running(dest)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _no_shard_running(dest: Path) -> None:
    """Raise :class:`DestinationError` when a ``--shard`` run holds its lock in ``dest`` (shards
    lock the directory shared, as the check does, and their own lock file exclusively)."""
    assert fcntl is not None
    for lock in dest.glob(f"{LOCK_NAME}.*-of-*"):
        try:
            fd = os.open(lock, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DestinationError(
                    f"a download (--shard) is running in {str(dest)!r}; check it when it has finished"
                ) from None
        finally:
            os.close(fd)


def _check_dest(dest: Path) -> None:
    """Raise :class:`DestinationError` unless ``dest`` is a directory with a manifest file."""
    try:
        info = os.stat(dest)
    except FileNotFoundError:
        raise DestinationError(f"the destination {str(dest)!r} does not exist") from None
    except OSError as exc:
        raise DestinationError(f"cannot use the destination {str(dest)!r}: {_describe(exc)}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise DestinationError(f"the destination {str(dest)!r} is not a directory")
    manifests = [p for p in manifest_paths(dest) if os.path.lexists(p)]
    if not manifests:
        raise DestinationError(
            f"there is no manifest ({MANIFEST_NAME}) in {str(dest)!r}: nothing was downloaded there"
        )
    manifest = manifests[0]
    try:
        info = os.stat(manifest)
    except FileNotFoundError:  # pragma: no cover - removed between the two calls
        raise DestinationError(f"the manifest {str(manifest)!r} disappeared") from None
    except OSError as exc:
        raise DestinationError(f"cannot read the manifest {str(manifest)!r}: {_describe(exc)}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise DestinationError(f"the manifest {str(manifest)!r} is not a file")


def _ignored(name: str) -> bool:
    """Files of the downloader itself, never reported as extra."""
    return is_own_name(name) or name.endswith(PART_SUFFIX)


def _list_files(dest: Path, depth: int = 0) -> dict[str, tuple[int, int]]:
    """``name -> (st_dev, st_ino)`` of every regular file in ``dest`` but the downloader's own;
    in folders down to ``depth`` levels too (those a name template made: ``a/b.jpg`` names),
    symlinks never followed."""
    files: dict[str, tuple[int, int]] = {}
    folders = [("", 0)]
    try:
        while folders:
            prefix, level = folders.pop()
            with os.scandir(dest / prefix if prefix else dest) as entries:
                for entry in entries:
                    if _ignored(entry.name):
                        continue
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError as exc:  # removed meanwhile, or unreadable: not a file we can report
                        logger.debug("cannot stat %s in %s: %s", entry.name, dest, exc)
                        continue
                    if stat.S_ISREG(info.st_mode):
                        files[prefix + entry.name] = (info.st_dev, info.st_ino)
                    elif stat.S_ISDIR(info.st_mode) and level < depth:
                        folders.append((prefix + entry.name + "/", level + 1))
    except OSError as exc:
        raise DestinationError(f"cannot list the destination {str(dest)!r}: {_describe(exc)}") from exc
    return files


def _not_regular(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink is at its name (not followed)"
    if stat.S_ISDIR(mode):
        return "a directory is at its name"
    return "something other than a regular file is at its name"


def _plan(dest: Path) -> _Plan:
    """Read the manifest and the listing, stat every recorded file (blocking: run in a thread)."""
    try:
        state = ManifestState.load_dest(dest)
    except OSError as exc:  # an I/O error while reading lines (opening is handled by read_manifest)
        raise DestinationError(f"cannot read the manifest in {str(dest)!r}: {_describe(exc)}") from exc
    depth = max((file.count("/") for _, _, file, _, _ in state.entries() if file), default=0)
    listed = _list_files(dest, depth)
    plan = _Plan()
    claimed_names: set[str] = set()  # the files ``ok`` lines name, as written
    # name_key(file) -> (st_dev, st_ino) of the file an ``ok`` line names (None when absent)
    claimed: dict[str, tuple[int, int] | None] = {}
    # name_key(file) -> (image_id, status) of the names ``failed``/``partial`` lines reserve
    others: dict[str, tuple[str, str]] = {}
    for image_id, status, file, size, recorded in state.entries():
        if file is None:
            if status == "ok":
                logger.warning("manifest of %s: the ok line of image %s names no file", dest, image_id)
            continue
        if status != "ok":
            others[name_key(file)] = (image_id, status)
            continue
        claimed_names.add(file)
        try:
            info = os.lstat(dest / file)
        except OSError as exc:
            claimed[name_key(file)] = None
            detail = "no such file" if exc.errno == errno.ENOENT else f"cannot stat it: {_describe(exc)}"
            plan.decided.append(CheckedFile(image_id, file, "missing", detail))
            continue
        if not stat.S_ISREG(info.st_mode):
            claimed[name_key(file)] = None
            plan.decided.append(CheckedFile(image_id, file, "missing", _not_regular(info.st_mode)))
            continue
        claimed[name_key(file)] = (info.st_dev, info.st_ino)
        if size is not None and info.st_size != size:
            detail = f"size {info.st_size} bytes, the manifest records {size}"
            plan.decided.append(CheckedFile(image_id, file, "changed", detail))
            continue
        digest = recorded if recorded and digest_name(recorded) else None
        md5 = None if digest else plain_md5(state.digests(image_id)[1])
        if digest is None and md5 is None:
            detail = "no digest or plain-MD5 ETag recorded" + (
                "; the size matches" if size is not None else "; no size recorded either"
            )
            plan.decided.append(CheckedFile(image_id, file, "unverifiable", detail))
            continue
        plan.jobs.append(_HashJob(image_id, file, size, digest.lower() if digest else None, md5))
    for name, inode in listed.items():
        key = name_key(name)
        if name in claimed_names or (key in claimed and claimed[key] == inode):
            continue  # the recorded file (or itself under another case or Unicode normalisation)
        reserved = others.get(key)
        if reserved is not None:
            owner: str | None = reserved[0]
            detail = f"the manifest records this name for image {reserved[0]} as {reserved[1]}, not ok"
        else:
            owner, detail = None, "not in the manifest"
        plan.decided.append(CheckedFile(owner, name, "extra", detail))
    return plan


def _verify(dest: Path, job: _HashJob) -> CheckedFile:
    """Hash one file and compare it with its ``ok`` line (blocking: run in a worker thread)."""
    path = str(dest / job.file)
    try:
        if job.digest is not None:
            name = digest_name(job.digest)
            assert name is not None
            digest, size = file_digest(path, name)
            expected, what = job.digest, {"crc32c": "CRC-32C", "sha256": "SHA-256"}[name]
        else:
            assert job.md5 is not None
            digest, size = file_md5(path)
            expected, what = job.md5, "MD5 (of the plain-MD5 ETag)"
    except FileNotFoundError:
        return CheckedFile(job.image_id, job.file, "missing", "no such file (removed during the check)")
    except OSError as exc:
        return CheckedFile(job.image_id, job.file, "missing", f"cannot read it: {_describe(exc)}")
    if job.size is not None and size != job.size:
        return CheckedFile(
            job.image_id, job.file, "changed", f"size {size} bytes, the manifest records {job.size}"
        )
    if digest != expected:
        return CheckedFile(job.image_id, job.file, "changed", f"content differs: the {what} does not match")
    return CheckedFile(job.image_id, job.file, "ok", None)


J = TypeVar("J")


async def check_all(
    decided: Iterable[CheckedFile],
    jobs: Sequence[J],
    verify: Callable[[J], Awaitable[CheckedFile]],
    concurrency: int,
    on_progress: Callable[[CheckedFile], object] | None,
) -> list[CheckedFile]:
    """The ``decided`` results, then each job's as ``concurrency`` workers ``verify`` them; each
    handed to ``on_progress`` as soon as it is known."""
    results: list[CheckedFile] = []

    def emit(result: CheckedFile) -> None:
        results.append(result)
        if on_progress is not None:
            on_progress(result)

    for result in decided:
        emit(result)
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:  # shared by the workers: next() never awaits, so each job goes to one
            emit(await verify(job))

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(jobs))):
            group.start_soon(worker)
    return results


def summarize(results: list[CheckedFile], what: str, where: object) -> CheckReport:
    """The report of ``results`` (problems sorted by kind, then name), logged in one line."""
    report = _report(results)
    logger.info(
        "checked %d %s in %s: %d ok, %d missing, %d changed, %d extra, %d unverifiable",
        report.checked,
        what,
        where,
        report.ok,
        report.missing,
        report.changed,
        report.extra,
        report.unverifiable,
    )
    return report


def _report(results: list[CheckedFile]) -> CheckReport:
    counts = dict.fromkeys(_STATUS_ORDER, 0)
    for result in results:
        counts[result.status] += 1
    problems = sorted(
        (r for r in results if r.status != "ok"), key=lambda r: (_STATUS_ORDER[r.status], r.file)
    )
    return CheckReport(
        checked=len(results),
        ok=counts["ok"],
        missing=counts["missing"],
        changed=counts["changed"],
        extra=counts["extra"],
        unverifiable=counts["unverifiable"],
        problems=problems,
    )


async def check_destination(
    dest: str | os.PathLike[str],
    *,
    on_progress: Callable[[CheckedFile], object] | None = None,
    concurrency: int = DEFAULT_CHECK_CONCURRENCY,
) -> CheckReport:
    """Re-hash every file of a download destination against its manifest; nothing is written.

    Returns a :class:`CheckReport` (``report.clean`` is True when nothing is missing, changed
    or extra). ``on_progress`` is called in the event loop with each file's
    :class:`CheckedFile` as soon as it is decided (in no particular order); ``concurrency``
    files are hashed at once, in worker threads. Raises :class:`DestinationError` when
    ``dest`` does not exist, is not a directory, has no manifest or cannot be listed, or
    when a download is running in it; ``ValueError`` for a ``concurrency`` below 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
    path = Path(dest)
    with anyio.CancelScope(shield=True):  # the descriptor must reach the finally below
        fd = await anyio.to_thread.run_sync(_lock_shared_checked, path)
    try:
        plan = await anyio.to_thread.run_sync(_plan, path)
        limiter = anyio.CapacityLimiter(concurrency)

        async def verify(job: _HashJob) -> CheckedFile:
            return await anyio.to_thread.run_sync(_verify, path, job, limiter=limiter)

        results = await check_all(plan.decided, plan.jobs, verify, concurrency, on_progress)
    finally:
        if fd is not None:
            os.close(fd)
    return summarize(results, "files", path)


def _lock_shared_checked(dest: Path) -> int | None:
    """The destination's checks that need no lock, then :func:`_lock_shared`."""
    _check_dest(dest)
    return _lock_shared(dest)
