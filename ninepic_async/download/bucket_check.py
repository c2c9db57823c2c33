"""Check a bucket destination against its manifests (``ninepic check --out s3://...``).

As :func:`~.check.check_destination` does for a directory: every ``ok`` line of every manifest
segment (the latest line per photo) names an object, which is read again and hashed against
the recorded digest: ``missing`` (no such object), ``changed`` (another size or digest),
``unverifiable`` (no digest recorded), ``extra`` (a photo-level object no ``ok`` line names;
the downloader's ``.ninepic/`` objects are not listed). Nothing is written; objects stream
through the hash (a few MiB held per object read at once).
"""

from __future__ import annotations

from collections.abc import Callable

from .._exceptions import DestinationError
from .bucket import Bucket, _describe, _errors, open_bucket
from .check import DEFAULT_CHECK_CONCURRENCY, CheckedFile, CheckReport, check_all, summarize
from .integrity import BodyHashes, digest_name

__all__ = ["check_bucket"]


_READ_CHUNK_BYTES = 4 * 1024 * 1024


async def _digest_of(bucket: Bucket, name: str, digest: str) -> tuple[str, int]:
    """``(digest label, size)`` of the object ``name``, hashed as it streams."""
    import obstore

    algorithm = digest_name(digest)
    assert algorithm is not None
    hashes = BodyHashes(md5=False, digest=algorithm)
    size = 0
    try:
        result = await obstore.get_async(bucket.store, name)
        async for chunk in result.stream(min_chunk_size=_READ_CHUNK_BYTES):
            hashes.update(memoryview(chunk))
            size += len(chunk)
    except _errors().BaseError as exc:
        raise DestinationError(f"cannot read {bucket.url}/{name}: {_describe(exc)}") from exc
    return hashes.label(), size


async def check_bucket(
    url: str,
    *,
    on_progress: Callable[[CheckedFile], object] | None = None,
    concurrency: int = DEFAULT_CHECK_CONCURRENCY,
) -> CheckReport:
    """Re-hash every photo object of the bucket destination ``url`` against its manifests.

    Raises :class:`DestinationError` when the bucket cannot be used or holds no manifest;
    ``ValueError`` for a ``concurrency`` below 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
    bucket = open_bucket(url)
    existing = await bucket.sizes()
    state = await bucket.manifest_state()
    if not len(state):
        raise DestinationError(f"there is no manifest in {bucket.url!r}: nothing was downloaded there")
    decided: list[CheckedFile] = []
    named: set[str] = set()
    to_hash: list[tuple[str, str, int | None, str]] = []
    for image_id, status, file, size, digest in state.entries():
        if status != "ok" or file is None:
            continue
        named.add(file)
        there = existing.get(file)
        if there is None:
            decided.append(CheckedFile(image_id, file, "missing", "no such object"))
        elif size is not None and there != size:
            decided.append(
                CheckedFile(image_id, file, "changed", f"size {there} bytes, the manifest records {size}")
            )
        elif digest is None or digest_name(digest) is None:
            decided.append(CheckedFile(image_id, file, "unverifiable", "no digest recorded"))
        else:
            to_hash.append((image_id, file, size, digest))
    for name in sorted(set(existing) - named):
        decided.append(CheckedFile(None, name, "extra", "not in the manifest"))

    async def verify(job: tuple[str, str, int | None, str]) -> CheckedFile:
        image_id, file, size, digest = job
        label, read = await _digest_of(bucket, file, digest)
        if label == digest and (size is None or read == size):
            return CheckedFile(image_id, file, "ok")
        return CheckedFile(image_id, file, "changed", "its digest differs from the recorded one")

    results = await check_all(decided, to_hash, verify, concurrency, on_progress)
    return summarize(results, "objects", bucket.url)
