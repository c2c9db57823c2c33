"""One download run into a bucket: the selection's photos uploaded as objects, resumable.

The same pipeline as :class:`~.run.DownloadRun` (ONE producer walking the selection into a
bounded queue, ``concurrency`` workers, a URL refresher) with :class:`~.upload.Uploader` in
place of the file fetcher and the bucket's segment manifest (:mod:`.bucket`) in place of the
file. A photo is skipped when a manifest line records it ok and its object is there with that
size. There is no lock in a bucket: shards of one prefix may run at once (name claims keep
their names apart); two runs of the same shard upload the same bytes to the same keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import aiohttp
import anyio

from .._constants import BUCKET_MANIFEST_FLUSH_S, DOWNLOAD_QUEUE_SIZE
from .._exceptions import DestinationError
from .._network import NetworkOptions
from .aiohttp_get import make_storage_session
from .bucket import Bucket, BucketManifest
from .events import FileFinished, PlannedEvent
from .manifest import ManifestState
from .names import NameTemplate
from .options import DownloadOptions
from .queue import JobQueue
from .report import DownloadReport, FileResult
from .run import ItemsFactory, Task, close_counts, run_pipeline
from .shard import Shard
from .sources import ApiFailure, Job, Listing, Planner, Skip, aclose
from .upload import Uploader
from .urls import UrlRefresher

__all__ = ["BucketPlanner", "run_into_bucket"]

logger = logging.getLogger(__name__)


class BucketPlanner(Planner):
    """A :class:`Planner` whose "already complete" means: recorded ok, and the object is there
    with the recorded size."""

    def __init__(
        self,
        state: ManifestState,
        existing: dict[str, int],
        shard: Shard | None,
        template: NameTemplate | None = None,
    ) -> None:
        super().__init__(None, state, template, shard)
        self._existing = existing

    async def skips(self, wanted: Sequence[tuple[str, str | None, bool]]) -> list[Skip | None]:
        """For each ``(image_id, url, refreshable)``: a :class:`Skip` when a run recorded the
        photo ok and its object has that size (the listing of sizes was read up front), else None."""
        found: list[Skip | None] = []
        for image_id, url, refreshable in wanted:
            ok = self.state.recorded_ok(image_id)
            if ok is None or self._existing.get(ok[0]) != ok[1]:
                found.append(None)
            else:
                found.append(Skip(image_id, ok[0], ok[1], url=url, refreshable=refreshable))
        return found


async def run_into_bucket(
    bucket: Bucket,
    options: DownloadOptions,
    items_factory: ItemsFactory,
    *,
    refresher: UrlRefresher | None,
    storage_session: aiohttp.ClientSession | None = None,
    template: NameTemplate | None = None,
) -> DownloadReport:
    """Upload every item the factory's source yields into ``bucket``; the report, or the run's
    one fatal error (:class:`DestinationError`, an API error of the listing)."""
    started_s = time.monotonic()
    manifest = BucketManifest(bucket, options.shard)
    report = DownloadReport(manifest_path=manifest.path)
    network = (options.network or NetworkOptions()).resolve()
    session = storage_session or make_storage_session(options.effective_concurrency(), network)
    try:
        existing = await bucket.sizes()
        state = await bucket.manifest_state()
        planner = BucketPlanner(state, existing, options.shard, template)
        listing = Listing()
        queue: JobQueue[Job | Skip] = JobQueue(DOWNLOAD_QUEUE_SIZE)
        uploader = Uploader(
            bucket=bucket,
            session=session,
            manifest=manifest,
            planner=planner,
            refresher=refresher,
            report=report,
            options=options,
            existing=existing,
            network=network,
        )
        if refresher is not None:
            refresher.waiting = queue

        async def finish(result: FileResult) -> None:
            report.add(result)
            if options.on_event is not None:
                options.on_event(FileFinished(result))
            if manifest.full():
                await manifest.flush()

        def planned(total: int | None) -> None:
            total = None if options.shard is not None else total
            report.announced = total
            if options.on_event is not None:
                options.on_event(PlannedEvent(total))

        async def produce() -> None:
            items = items_factory(planner, planned, listing)
            try:
                async for item in items:
                    if isinstance(item, (Job, Skip)):
                        await queue.put(item)
                    else:
                        await _api_failure(item)
            finally:
                queue.close_input()
                await aclose(items)

        async def _api_failure(item: ApiFailure) -> None:
            manifest.failed(item.image_id, item.error, file=item.filename, path=item.path)
            await finish(FileResult(item.image_id, "failed", None, 0, item.error, item.path))

        async def work() -> None:
            while (item := await queue.get()) is not None:
                if isinstance(item, Skip):
                    await finish(FileResult(item.image_id, "skipped", item.filename, item.size_bytes))
                else:
                    await finish(await uploader.transfer(item))

        async def flush_periodically() -> None:
            while True:
                await anyio.sleep(BUCKET_MANIFEST_FLUSH_S)
                await manifest.flush()

        beside: list[Task] = [flush_periodically]
        if refresher is not None:
            beside.insert(0, refresher.run)
        await run_pipeline(produce, work, options.effective_concurrency(), queue, beside)
        close_counts(report, listing, planner, options.shard is not None, started_s)
        return report
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await manifest.flush()  # also after a failure or Ctrl-C: every gathered line is kept
            except DestinationError as exc:
                logger.error("%s: %d manifest line(s) could not be written", exc, manifest.waiting)
            if refresher is not None:
                refresher.close()
            if storage_session is None:
                await session.close()
