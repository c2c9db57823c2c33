"""One photo from its presigned GET straight into a bucket object: no local file on the way.

A body announced at most ``BUCKET_SINGLE_PUT_MAX_BYTES`` long is gathered in memory, checked
(length, digest) and sent in ONE PUT; a larger one (or one of unknown length) streams into a
multipart upload of ``BUCKET_PART_BYTES`` parts, ``BUCKET_PART_CONCURRENCY`` in flight, and
is checked as its last byte passes: a short, long or cut body raises inside the upload, so
obstore aborts it and nothing ever appears under the photo's key. One upload holds at most
``max(BUCKET_SINGLE_PUT_MAX_BYTES, (BUCKET_PART_CONCURRENCY + 1) * BUCKET_PART_BYTES)`` bytes
(24 MiB) of bodies, so a process with ``concurrency`` uploads holds at most ``concurrency`` x
24 MiB (384 MiB at the default 16; lower ``concurrency`` for photos that large).

The object is complete before its ``ok`` line is gathered: a writer killed in between leaves
a complete object without a line, which the next run uploads again under the same key.
Retries, URL renewal and what counts as a photo follow :mod:`.fetch` (the storage GET's
failures mean the same for both: :mod:`.storage_get`); every retry restarts from byte 0: an
upload is never resumed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import anyio
import yarl

from .._constants import BUCKET_PART_BYTES, BUCKET_PART_CONCURRENCY, BUCKET_SINGLE_PUT_MAX_BYTES
from .._exceptions import (
    DestinationError,
    DownloadError,
    IntegrityError,
    URLExpiredError,
)
from .._network import Network
from .aiohttp_get import NETWORK_ERRORS, exchange_errors, probe_size
from .bandwidth import TokenBucket
from .bucket import Bucket, BucketManifest, _describe, _errors
from .events import BytesReceived, FileStarted
from .integrity import BodyHashes, NotAPhotoError, check_photo_headers, plain_md5
from .options import DownloadOptions
from .policy import FilePolicy, GiveUp, Setback
from .report import DownloadReport, FileResult
from .sources import Job, Planner
from .storage_get import (
    ERROR_BODY_BYTES,
    MAX_RELOCATIONS,
    Failed,
    Transient,
    refused,
    usable_url,
)
from .urls import UrlRefresher

__all__ = ["Uploader"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Done:
    size: int
    etag: str | None
    digest: str
    verified: bool | None


class Uploader:
    """Transfers jobs into ``bucket`` and records them in ``manifest``; raises only DestinationError."""

    def __init__(
        self,
        *,
        bucket: Bucket,
        session: aiohttp.ClientSession,
        manifest: BucketManifest,
        planner: Planner,
        refresher: UrlRefresher | None,
        report: DownloadReport,
        options: DownloadOptions,
        existing: dict[str, int],
        network: Network,
    ) -> None:
        self._bucket = bucket
        self._session = session
        self._manifest = manifest
        self._planner = planner
        self._refresher = refresher
        self._report = report
        self._options = options
        self._existing = existing
        """Photo objects already under the prefix when the run began (name -> size)."""
        self._occupied: set[str] = set()
        self._network = network
        self._rate = TokenBucket(options.limit_rate_bps) if options.limit_rate_bps else None

    async def _own_name(self, job: Job) -> None:
        """Make ``job.filename`` this photo's: claimed in the bucket, no foreign object there."""
        if job.owned:
            return
        for _ in range(MAX_RELOCATIONS):
            claimed = await self._bucket.claim(job.filename, job.image_id)
            if claimed == "ours" or (claimed == "new" and job.filename not in self._existing):
                return
            if claimed == "new":  # an object no claim announced is there: not ours, never replaced
                await self._bucket.disown(job.filename)
            self._occupied.add(job.filename)
            taken = job.filename
            job.filename = self._planner.allocator.relocate(
                job.image_id, job.server_filename, self._occupied.__contains__
            )
            logger.info(
                "%s is taken in %s: photo %s is saved as %s", taken, self._bucket, job.image_id, job.filename
            )
        raise Failed(f"no usable name for photo {job.image_id} after {MAX_RELOCATIONS} tries")

    def _failed(self, job: Job, error: str) -> FileResult:
        self._manifest.failed(job.image_id, error, file=job.filename)
        return FileResult(job.image_id, "failed", None, 0, error)

    async def transfer(self, job: Job) -> FileResult:
        """Upload ``job``'s photo to its object, or record why not."""
        url = job.url
        can_refresh = job.refreshable and self._refresher is not None
        policy: FilePolicy = self._options.policy
        started = False
        try:
            await self._own_name(job)
        except Failed as exc:
            return self._failed(job, str(exc))
        while True:
            setback: Setback
            try:
                url, policy = await usable_url(self._refresher, job, url, policy)
                if not started and self._options.on_event is not None:
                    self._options.on_event(FileStarted(job.image_id, None, 0))
                started = True
                done = await self._attempt(job, url)
                self._manifest.ok(job.image_id, job.filename, done.size, done.etag, done.digest)
                return FileResult(job.image_id, "ok", job.filename, done.size, verified=done.verified)
            except Transient as exc:
                error, setback = str(exc), "transient"
            except URLExpiredError as exc:
                if not can_refresh:
                    return self._failed(job, str(exc))
                error, setback = str(exc), "expired_refresh"
                url = None
            except IntegrityError as exc:
                error, setback = str(exc), "integrity"
            except (Failed, GiveUp) as exc:
                return self._failed(job, str(exc))
            except DestinationError:
                raise
            except DownloadError as exc:
                return self._failed(job, str(exc))
            try:
                policy = policy.increment(setback)
            except GiveUp as exc:
                return self._failed(job, f"{error} ({exc})")
            logger.debug("retrying %s after: %s", job.image_id, error)
            await anyio.sleep(policy.backoff_s())

    async def _attempt(self, job: Job, url: str) -> _Done:
        target = yarl.URL(url, encoded=True)
        with exchange_errors(target):
            async with self._session.get(
                target,
                headers={"Accept-Encoding": "identity"},
                proxy=self._network.proxy_for(target),
                ssl=self._network.ssl,
            ) as resp:
                if resp.status == 200:
                    return await self._receive(job, url, resp)
                raise refused(resp.status, await resp.content.read(ERROR_BODY_BYTES), resp.reason)

    async def _confirm_size(
        self, url: str, resp: aiohttp.ClientResponse, etag: str | None, size: int, md5_checked: bool
    ) -> None:
        """Prove the size of a body sent without a length (as :mod:`.fetch` does): by the MD5
        check that follows, a one-byte ranged probe, or chunked framing; else it is not kept."""
        if size == 0:
            raise NotAPhotoError("the store answered with an empty body")
        if md5_checked:
            return
        probed = await probe_size(self._session, self._network, url, etag)
        if probed is not None:
            if probed != size:
                raise Transient(f"truncated body: {size} of {probed} bytes")
            return
        if "chunked" in resp.headers.get("Transfer-Encoding", "").lower():
            return  # the chunked framing's last chunk arrived: aiohttp checked it
        raise Failed("the store sent no length for the photo and would not confirm its size")

    async def _receive(self, job: Job, url: str, resp: aiohttp.ClientResponse) -> _Done:
        import obstore

        check_photo_headers(resp.headers)
        etag = resp.headers.get("ETag")
        total = resp.content_length
        if total == 0:
            raise NotAPhotoError("the store answered with an empty body")
        expected_md5 = plain_md5(etag) if self._options.verify else None
        hashes = BodyHashes(md5=expected_md5 is not None, digest=self._options.digest)
        received = 0
        on_event = self._options.on_event

        async def body() -> AsyncIterator[bytes]:
            nonlocal received
            try:
                async for chunk, _end in resp.content.iter_chunks():
                    if not chunk:
                        continue
                    hashes.update(chunk)
                    received += len(chunk)
                    self._report.bytes += len(chunk)
                    if on_event is not None:
                        on_event(BytesReceived(job.image_id, len(chunk)))
                    if self._rate is not None:
                        await self._rate.pay(len(chunk))
                    if total is not None and received > total:
                        raise Transient(f"the body is longer than its {total} bytes")
                    yield chunk
            except NETWORK_ERRORS as exc:
                raise Transient(
                    f"connection lost after {received} bytes: {type(exc).__name__}: {exc}"
                ) from exc
            if total is None:
                await self._confirm_size(url, resp, etag, received, expected_md5 is not None)
            elif received != total:
                raise Transient(f"truncated body: {received} of {total} bytes")
            if expected_md5 is not None and hashes.md5.hexdigest() != expected_md5:
                raise IntegrityError(f"MD5 mismatch for {job.image_id}: body does not match ETag {etag}")

        errors = _errors()
        try:
            if total is not None and total <= BUCKET_SINGLE_PUT_MAX_BYTES:
                data = bytearray()  # one growing buffer: the body is held once, never twice
                async for chunk in body():
                    data += chunk
                await obstore.put_async(self._bucket.store, job.filename, data, use_multipart=False)
            else:
                await obstore.put_async(
                    self._bucket.store,
                    job.filename,
                    body(),
                    use_multipart=True,
                    chunk_size=BUCKET_PART_BYTES,
                    max_concurrency=BUCKET_PART_CONCURRENCY,
                )
        except (errors.PermissionDeniedError, errors.UnauthenticatedError, errors.NotFoundError) as exc:
            raise DestinationError(f"cannot write to {self._bucket.url!r}: {_describe(exc)}") from exc
        except errors.BaseError as exc:
            raise Transient(f"the upload to {self._bucket.url!r} failed: {_describe(exc)}") from exc
        verified = (expected_md5 is not None) if self._options.verify else None
        return _Done(received, etag, hashes.label(), verified)
