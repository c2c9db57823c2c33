"""``ninepic archive --cluster local:N|tcp://HOST:PORT``: the archive as Dask tasks (one per event
and shard), through the library's :func:`~ninepic_async.download.cluster.archive_on_dask`."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._constants import ENV_API_KEY, ENV_BASE_URL
from .errors import CliError
from .runtime import Runtime

if TYPE_CHECKING:
    from ..download import ArchiveReport
    from ..download.events import ArchiveEventCallback

__all__ = ["ClusterSpec", "archive_on_cluster", "check_cluster_args"]

_LOCAL = re.compile(r"local:(\d+)")
_REMOTE = re.compile(r"tcp://[^\s/:]+:\d+")
_MAX_LOCAL_WORKERS = 64


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """``local`` workers to start here, or the ``address`` of a running scheduler; ``shards`` per event."""

    local: int | None
    address: str | None
    shards: int | None


def check_cluster_args(rt: Runtime) -> ClusterSpec:
    """Validate ``--cluster``/``--shards`` before anything starts (one line, exit 2)."""
    text = rt.args.cluster.strip()
    shards = rt.args.shards
    if getattr(rt.args, "limit_rate", None) is not None:
        raise CliError("--limit-rate does not go with --cluster yet: each task would cap itself alone")
    if shards is not None and shards < 1:
        raise CliError(f"--shards must be 1 or more, got {shards}")
    local = _LOCAL.fullmatch(text)
    if local is not None:
        workers = int(local.group(1))
        if not 1 <= workers <= _MAX_LOCAL_WORKERS:
            raise CliError(f"--cluster local:N needs N from 1 to {_MAX_LOCAL_WORKERS}, got {workers}")
        spec = ClusterSpec(workers, None, shards)
    elif _REMOTE.fullmatch(text):
        spec = ClusterSpec(None, text, shards)
    else:
        raise CliError(
            f"--cluster {text!r} is neither local:N nor tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        )
    try:
        import distributed  # noqa: F401
    except ImportError:
        from ..download.cluster import DASK_MISSING

        raise CliError(f"--cluster: {DASK_MISSING}") from None
    return spec


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own INFO chatter (workers starting, closing) stays off the terminal."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _start(spec: ClusterSpec) -> tuple[Any, Any]:
    """``(client, cluster or None)``: blocking, run in a thread."""
    dask: Any = importlib.import_module("distributed")  # untyped: used as Any
    if spec.local is not None:
        cluster = dask.LocalCluster(
            n_workers=spec.local, processes=True, threads_per_worker=1, dashboard_address=":0"
        )
        return dask.Client(cluster), cluster
    return dask.Client(spec.address), None


def _stop(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


async def archive_on_cluster(
    rt: Runtime,
    spec: ClusterSpec,
    out: Path | str,
    selection: dict[str, Any],
    concurrency: int,
    progress: ArchiveEventCallback,
) -> ArchiveReport:
    """Start (or reach) the cluster, run the archive on it, stop what was started."""
    from ..download.cluster import ApiAccess, archive_on_dask
    from ..download.options import DownloadOptions

    key = (rt.opt("api_key") or os.environ.get(ENV_API_KEY, "")).strip()
    base_url = rt.opt("base_url") or os.environ.get(ENV_BASE_URL) or None
    from .network import client_network

    access = ApiAccess(key, rt.org_id(), base_url, **client_network(rt))
    options = DownloadOptions(
        concurrency=concurrency,
        verify=rt.args.verify,
        low_speed_limit_bps=rt.args.low_speed_limit,
        low_speed_time_s=rt.args.low_speed_time,
    )
    where = f"{spec.local} local worker process(es)" if spec.local is not None else spec.address
    rt.output.note(f"starting the archive on Dask: {where}")
    with _quiet_dask():
        client, cluster = await asyncio.to_thread(_start, spec)
        try:
            return await archive_on_dask(
                client, access, out, shards=spec.shards, options=options, on_event=progress, **selection
            )
        finally:
            await asyncio.to_thread(_stop, client, cluster)
