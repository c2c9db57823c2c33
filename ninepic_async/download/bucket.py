"""A download destination in object storage (``s3://bucket/prefix``, ``gs://``, ``az://``) through obstore.

Layout under the prefix: each photo is one object ``<prefix>/<file name>`` (names as on disk,
see :mod:`.names`); the downloader's own objects live under ``<prefix>/.ninepic/``:

- ``manifests/<manifest stem>/<ns>-<random>.jsonl``: the manifest, as append-only SEGMENTS.
  A run gathers its lines and writes them as a new object every ``BUCKET_MANIFEST_FLUSH_S``
  (or ``BUCKET_MANIFEST_FLUSH_LINES`` lines) and at its end; nothing is ever rewritten, so a
  writer that dies loses only the lines it had not written yet (their photos are uploaded
  again, under the same keys, by the next run). Reading merges every segment of every shard
  by ``time``, the latest line per photo winning (:meth:`.ManifestState.from_segments`).
- ``names/<hash of the name>``: a claim, created with a conditional PUT (``If-None-Match``)
  holding the image id that owns the name, so shards running at once on other machines
  never give one name to two photos.

Credentials, region and endpoint come from the standard environment of each store
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` (R2,
MinIO), ``GOOGLE_SERVICE_ACCOUNT``, ``AZURE_STORAGE_ACCOUNT_NAME``...), read by obstore.
obstore is the optional extra ``ninepic-async[s3]``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._constants import BUCKET_MANIFEST_FLUSH_LINES, BUCKET_META_DIR, MANIFEST_NAME
from .._exceptions import DestinationError, redact
from .manifest import ManifestEntry, ManifestRecorder, ManifestState, encode_line
from .names import name_key
from .shard import Shard

if TYPE_CHECKING:
    from obstore.store import ObjectStore

__all__ = ["BUCKET_SCHEMES", "Bucket", "BucketManifest", "is_bucket_url", "open_bucket"]

logger = logging.getLogger(__name__)

BUCKET_SCHEMES = ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl")
"""URL schemes of ``--out`` that name a bucket (obstore's; R2 and MinIO are ``s3://`` with
``AWS_ENDPOINT_URL``)."""
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]+)(/[^?#]*)?")
_EXTRA_MISSING = "writing to {scheme}:// needs obstore: pip install 'ninepic-async[s3]'"


def is_bucket_url(dest: object) -> bool:
    """Whether ``dest`` is a bucket URL (``s3://...``) rather than a directory."""
    if not isinstance(dest, str):
        return False
    match = _URL.match(dest)
    return match is not None and match.group(1).lower() in BUCKET_SCHEMES


def _errors() -> Any:
    import obstore.exceptions

    return obstore.exceptions


def _describe(exc: BaseException) -> str:
    """The first line of an obstore error (its later lines repeat the raw HTTP exchange)."""
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)


class Bucket:
    """One destination prefix in a bucket: its photos' objects, claims and manifest segments."""

    def __init__(self, url: str, store: ObjectStore) -> None:
        self.url = url.rstrip("/")
        self.store = store

    def __repr__(self) -> str:
        return f"Bucket({self.url!r})"

    def child(self, name: str) -> Bucket:
        """The destination ``<this prefix>/<name>`` (an archive's event folder)."""
        return open_bucket(f"{self.url}/{name}")

    # -- photos -------------------------------------------------------------------------------
    async def sizes(self) -> dict[str, int]:
        """``name -> size`` of every photo object under the prefix (one paginated listing; a name
        template's folders included, the downloader's own ``.ninepic/`` objects not)."""
        import obstore

        found: dict[str, int] = {}
        try:
            stream = obstore.list(self.store, None, chunk_size=1000)
            async for batch in stream:
                for meta in batch:
                    path = str(meta["path"])
                    if not path.startswith(f"{BUCKET_META_DIR}/"):
                        found[path] = int(meta["size"])
        except _errors().BaseError as exc:
            raise DestinationError(f"cannot list {self.url!r}: {_describe(exc)}") from exc
        return found

    # -- claims -------------------------------------------------------------------------------
    def _claim_key(self, name: str) -> str:
        digest = hashlib.blake2b(name_key(name).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return f"{BUCKET_META_DIR}/names/{digest}"

    async def claim(self, name: str, image_id: str) -> Literal["new", "ours", "taken"]:
        """Claim ``name`` for ``image_id``: ``new`` (claimed now), ``ours`` (claimed by an earlier
        run for that photo) or ``taken`` (another photo's)."""
        import obstore

        key = self._claim_key(name)
        errors = _errors()
        try:
            await obstore.put_async(self.store, key, image_id.encode(), mode="create", use_multipart=False)
            return "new"
        except errors.AlreadyExistsError:
            pass
        except errors.BaseError as exc:
            raise DestinationError(f"cannot write to {self.url!r}: {_describe(exc)}") from exc
        try:
            owner = bytes(await (await obstore.get_async(self.store, key)).bytes_async()).decode()
        except errors.BaseError as exc:
            raise DestinationError(f"cannot read {self.url!r}: {_describe(exc)}") from exc
        return "ours" if owner == image_id else "taken"

    async def disown(self, name: str) -> None:
        """Make the claim of ``name`` nobody's (an object not ours was found there): no run of
        any photo ever takes the name, so that object is never overwritten."""
        import obstore

        try:
            await obstore.put_async(self.store, self._claim_key(name), b"", use_multipart=False)
        except _errors().BaseError as exc:
            raise DestinationError(f"cannot write to {self.url!r}: {_describe(exc)}") from exc

    # -- manifests ----------------------------------------------------------------------------
    async def manifest_state(self) -> ManifestState:
        """What every manifest segment of every shard under the prefix records."""
        import obstore

        errors = _errors()
        segments: list[tuple[str, bytes]] = []
        try:
            stream = obstore.list(self.store, f"{BUCKET_META_DIR}/manifests", chunk_size=1000)
            paths = sorted(str(meta["path"]) for batch in [b async for b in stream] for meta in batch)
            for path in paths:
                if path.endswith(".jsonl"):
                    data = bytes(await (await obstore.get_async(self.store, path)).bytes_async())
                    segments.append((f"{self.url}/{path}", data))
        except errors.BaseError as exc:
            raise DestinationError(f"cannot read the manifests of {self.url!r}: {_describe(exc)}") from exc
        return ManifestState.from_segments(segments)

    async def write_segment(self, stem: str, data: bytes) -> None:
        """Write ``data`` (whole lines) as a new manifest segment of ``stem``; never overwrites."""
        import obstore

        key = f"{BUCKET_META_DIR}/manifests/{stem}/{time.time_ns():020d}-{os.urandom(6).hex()}.jsonl"
        try:
            await obstore.put_async(self.store, key, data, mode="create", use_multipart=False)
        except _errors().BaseError as exc:
            raise DestinationError(f"cannot write the manifest to {self.url!r}: {_describe(exc)}") from exc


def open_bucket(url: str) -> Bucket:
    """The bucket destination ``url``; :class:`DestinationError` with one line when it cannot be
    used (obstore missing: the line names the extra)."""
    match = _URL.match(url)
    if match is None or match.group(1).lower() not in BUCKET_SCHEMES:
        raise DestinationError(
            f"{url!r} is not a bucket URL ({', '.join(s + '://' for s in BUCKET_SCHEMES)})"
        )
    try:
        from obstore.store import from_url
    except ImportError:
        raise DestinationError(_EXTRA_MISSING.format(scheme=match.group(1))) from None
    try:
        store = from_url(url.rstrip("/"))
    except Exception as exc:  # obstore raises its own errors and ValueError for bad configuration
        raise DestinationError(f"cannot use {url!r}: {_describe(exc)}") from exc
    return Bucket(url, store)


class BucketManifest(ManifestRecorder):
    """A run's manifest in a bucket: lines gathered in memory, written as new segments.

    Records as :class:`.manifest.Manifest` does (``ok``, ``failed``); :meth:`flush` writes what
    waits.
    """

    def __init__(self, bucket: Bucket, shard: Shard | None) -> None:
        self.bucket = bucket
        self.stem = (
            shard.manifest_name.removesuffix(".jsonl") if shard else MANIFEST_NAME.removesuffix(".jsonl")
        )
        self._lines: list[bytes] = []
        self._lock = anyio.Lock()
        self.path = f"{bucket.url}/{BUCKET_META_DIR}/manifests/{self.stem}/"

    def append(self, entry: ManifestEntry) -> None:
        """Gather one line; :meth:`flush` writes it."""
        self._lines.append(encode_line(entry))

    @property
    def waiting(self) -> int:
        """Lines gathered and not yet written."""
        return len(self._lines)

    def full(self) -> bool:
        """Whether enough lines wait to write a segment now rather than at the next tick."""
        return len(self._lines) >= BUCKET_MANIFEST_FLUSH_LINES

    async def flush(self) -> None:
        """Write the waiting lines as one new segment (they stay waiting if that fails)."""
        async with self._lock:
            if not self._lines:
                return
            lines = list(self._lines)
            await self.bucket.write_segment(self.stem, b"".join(lines))
            del self._lines[: len(lines)]
