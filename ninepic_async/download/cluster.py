"""Archive on a Dask cluster: one task per (event, shard), each a whole download in a worker.

:func:`archive_on_dask` lists the events on the caller's side (as :func:`~.archive.archive_events`
does), then submits one task per event and shard (:mod:`.shard`) to a ``distributed.Client``.
Each task runs the async downloader in its own event loop inside its worker
(``asyncio.run``), into the event's folder of ``out`` (a bucket URL, or a directory every
worker sees) with the shard's own manifest, and returns a small picklable
:class:`ShardOutcome`. Results are gathered as tasks complete; an event is reported when all of
its shards are. Dask re-runs the task of a worker that dies (up to its
``distributed.scheduler.allowed-failures``), and the shard's manifest and ``.part`` state make
that rerun resume: nothing is lost, and nothing is stored twice (keys and names are stable).
``distributed`` is the optional extra ``ninepic-async[dask]``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pickle
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from .._exceptions import AuthenticationError, DownloadError, NinePicError, RequestValidationError, redact
from .archive import (
    EventChoice,
    archive_root,
    check_event_template,
    event_dest,
    event_folder_name,
)
from .archive_report import ArchiveReport, EventArchiveReport
from .events import ArchiveEventCallback, ArchivePlanned, EventArchiveFinished, EventArchiveStarted
from .options import DownloadOptions
from .shard import Shard

if TYPE_CHECKING:
    import distributed

    from ..client import NinePicClient

__all__ = ["ApiAccess", "ShardOutcome", "archive_on_dask", "run_shard"]

logger = logging.getLogger(__name__)

_MAX_KEPT_FAILURES = 20
DASK_MISSING = "running on Dask needs distributed: pip install 'ninepic-async[dask]'"


@dataclass(frozen=True, slots=True)
class ApiAccess:
    """How a worker reaches the API and the store: the key (never in a repr), the organisation,
    the base URL and the network settings of :class:`~ninepic_async.NetworkOptions` (a CA bundle
    as a path every worker can read; a proxy URL, which may hold a password, is kept out of reprs)."""

    api_key: str = field(repr=False)
    org_id: int
    base_url: str | None = None
    verify_ssl: bool = True
    proxy: str | None = field(default=None, repr=False)
    trust_env: bool = True
    ca_bundle: str | None = None

    def client(self) -> NinePicClient:
        """A client with these settings (in the worker)."""
        from ..client import NinePicClient

        return NinePicClient(
            self.api_key,
            org_id=self.org_id,
            base_url=self.base_url,
            verify_ssl=self.verify_ssl,
            proxy=self.proxy,
            trust_env=self.trust_env,
            ca_bundle=self.ca_bundle,
        )


@dataclass(frozen=True, slots=True)
class _ShardTask:
    access: ApiAccess
    event_id: int
    dest: str
    shard: Shard
    options: DownloadOptions


@dataclass(slots=True)
class ShardOutcome:
    """What one (event, shard) task did: its counts, or why it failed (redacted text)."""

    event_id: int
    shard: int
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    missing: int = 0
    bytes: int = 0
    announced: int | None = None
    complete: bool = False
    error: str | None = None
    exception: NinePicError | None = None
    failures: list[tuple[str, str | None]] = field(default_factory=list)


def _portable(exc: NinePicError) -> NinePicError:
    """``exc`` if it survives pickling (it travels from the worker), else its text as a DownloadError."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own bytes)
    except Exception:
        return DownloadError(redact(str(exc)))
    return exc


async def _run_shard(task: _ShardTask) -> ShardOutcome:
    from .api import download_originals

    outcome = ShardOutcome(task.event_id, task.shard.index)
    async with task.access.client() as client:
        try:
            report = await download_originals(
                client,
                task.event_id,
                task.dest,
                whole_event=True,
                options=replace(task.options, shard=task.shard),
            )
        except NinePicError as exc:
            outcome.error = redact(str(exc))
            outcome.exception = _portable(exc)
            return outcome
    outcome.downloaded, outcome.skipped, outcome.failed = report.downloaded, report.skipped, report.failed
    outcome.missing, outcome.bytes, outcome.announced = report.missing, report.bytes, report.announced
    outcome.complete = report.complete
    outcome.failures = [(f.image_id, f.error) for f in list(report.failures)[:_MAX_KEPT_FAILURES]]
    return outcome


def run_shard(task: _ShardTask) -> ShardOutcome:
    """The task body, in a worker thread: the shard's download in a fresh event loop."""
    return asyncio.run(_run_shard(task))


def _event_report(
    event_id: int, folder: str, name: str | None, when: str | None, outcomes: list[ShardOutcome]
) -> EventArchiveReport:
    report = EventArchiveReport(event_id, folder, name, when)
    report.downloaded = sum(o.downloaded for o in outcomes)
    report.skipped = sum(o.skipped for o in outcomes)
    report.failed = sum(o.failed for o in outcomes)
    report.missing = max((o.missing for o in outcomes), default=0)  # every shard walks the whole listing
    report.bytes = sum(o.bytes for o in outcomes)
    errors = [o for o in outcomes if o.error is not None]
    if errors:
        report.status = "failed"
        report.error = errors[0].error
        report.exception = errors[0].exception
    else:
        report.status = "ok" if all(o.complete for o in outcomes) else "partial"
    return report


async def archive_on_dask(
    dask_client: distributed.Client,
    access: ApiAccess,
    out: str | os.PathLike[str],
    *,
    events: Iterable[int] | None = None,
    all_events: bool = False,
    since: date | str | None = None,
    until: date | str | None = None,
    shards: int | None = None,
    name_template: str | None = None,
    options: DownloadOptions | None = None,
    on_event: ArchiveEventCallback | None = None,
    task_retries: int = 2,
) -> ArchiveReport:
    """Archive the chosen events (as :func:`~.archive.archive_events`) on the Dask cluster of
    ``dask_client``: one task per event and shard, ``shards`` per event (default: the cluster's
    worker threads); ``name_template`` and ``options`` as for :func:`~.archive.archive_events`.

    ``out`` is a bucket URL, or a directory that every worker sees at the same path.
    ``task_retries`` re-runs a task that raised (a worker's death is re-run by Dask anyway).
    ``on_event`` gets :class:`ArchivePlanned`, then per event, as its last shard completes,
    :class:`EventArchiveStarted` and :class:`EventArchiveFinished`. A wrong API key raises
    :class:`AuthenticationError` (the other tasks are cancelled); bad arguments raise
    :class:`RequestValidationError` before any request.
    """
    choice = EventChoice.of(events, all_events, since, until)
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int) or shards < 1):
        raise RequestValidationError("shards", f"must be an integer >= 1; got {shards!r}")
    options = replace(options or DownloadOptions(), on_event=None, shard=None)
    if name_template is not None:
        options = replace(options, name_template=name_template)
    check_event_template(options.name_template)
    root, _created = archive_root(out)
    if not isinstance(root, str):
        root = root.absolute()  # the workers' working directory may be another one
    if shards is None:
        untyped: Any = dask_client
        threads: dict[str, int] = untyped.nthreads()
        shards = max(1, sum(threads.values()))
    async with access.client() as client:
        chosen = await choice.events(client)
    if on_event is not None:
        on_event(ArchivePlanned(tuple(e.event_id for e in chosen)))
    report = ArchiveReport(out=str(root))
    done: dict[int, EventArchiveReport] = {}
    waiting: dict[int, list[ShardOutcome]] = {}
    about: dict[int, tuple[str, str | None, str | None]] = {}
    futures: list[Any] = []
    token = uuid.uuid4().hex[:8]
    for event in chosen:
        if isinstance(event, EventArchiveReport):
            done[event.event_id] = event
            continue
        folder = event_folder_name(event)
        about[event.event_id] = (folder, event.event_name, event.event_date)
        waiting[event.event_id] = []
        for k in range(shards):
            task = _ShardTask(
                access, event.event_id, str(event_dest(root, folder)), Shard(k, shards), options
            )
            futures.append(
                dask_client.submit(
                    run_shard,
                    task,
                    key=f"ninepic-archive-{event.event_id}-{k}-of-{shards}-{token}",
                    pure=False,
                    retries=task_retries,
                )
            )
    finished = 0

    def emit(result: EventArchiveReport) -> None:
        nonlocal finished
        finished += 1
        if on_event is not None:
            on_event(EventArchiveStarted(result.event_id, result.folder, result.name, finished, len(chosen)))
            on_event(EventArchiveFinished(result, finished, len(chosen)))

    for result in done.values():
        emit(result)
    if futures:
        await _gather(dask_client, futures, shards, about, waiting, done, emit)
    report.events = [done[e.event_id] for e in chosen]
    return report


async def _gather(
    dask_client: distributed.Client,
    futures: list[Any],
    shards: int,
    about: dict[int, tuple[str, str | None, str | None]],
    waiting: dict[int, list[ShardOutcome]],
    done: dict[int, EventArchiveReport],
    emit: Any,
) -> None:
    """Take each task's outcome as it completes (in a thread: the Dask client is synchronous)."""
    dask: Any = importlib.import_module("distributed")  # untyped: used as Any
    completed = dask.as_completed(futures)
    try:
        while True:
            future = await asyncio.to_thread(next, completed, None)
            if future is None:
                return
            try:
                outcome: ShardOutcome = await asyncio.to_thread(future.result)
            except Exception as exc:  # the task itself broke (a bug, or lost too many workers)
                event_id = int(str(future.key).split("-")[2])
                outcome = ShardOutcome(event_id, -1, error=redact(f"the task failed: {exc!r}"))
            if isinstance(outcome.exception, AuthenticationError):
                raise outcome.exception
            outcomes = waiting[outcome.event_id]
            outcomes.append(outcome)
            if len(outcomes) == shards:
                folder, name, when = about[outcome.event_id]
                done[outcome.event_id] = result = _event_report(
                    outcome.event_id, folder, name, when, outcomes
                )
                emit(result)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            untyped: Any = dask_client
            untyped.cancel(pending)
