"""The archive on a real Dask cluster (LocalCluster, two worker processes) into a real local S3
server: one task per (event, shard); a worker SIGKILLed mid-run loses and duplicates nothing;
a rerun transfers nothing; the CLI's ``--cluster local:2`` does the same end to end."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.buckets import TestBucket
from helpers.cli import conn, run_cli
from helpers.sim import SimFactory

from ninepic_async.download.check import check_destination
from ninepic_async.download.cluster import ApiAccess, archive_on_dask
from ninepic_async.download.options import DownloadOptions
from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")

dask: Any = importlib.import_module("distributed")


@pytest.fixture
async def dask_client(bucket: TestBucket) -> AsyncIterator[Any]:
    """A LocalCluster of two worker processes (started after ``bucket`` set AWS_*: they inherit it)."""

    def start() -> tuple[Any, Any]:
        cluster = dask.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
        return dask.Client(cluster), cluster

    client, cluster = await asyncio.to_thread(start)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.close)
        await asyncio.to_thread(cluster.close)


def photos(sim: Simulator) -> dict[int, dict[str, bytes]]:
    return {
        event_id: {p.image_id: state.world.content(p.image_id) for p in state.world.photos}
        for event_id, state in sim.state.events.items()
    }


def assert_bucket_holds_every_photo_once(bucket: TestBucket, sim: Simulator, folders: dict[int, str]) -> None:
    for event_id, contents in photos(sim).items():
        if event_id not in folders:
            assert not contents, event_id
            continue
        prefix = f"archive/{folders[event_id]}/"
        keys = [k for k in bucket.keys(prefix) if "/.ninepic/" not in k]
        assert len(keys) == len(contents), event_id  # nothing missing, nothing twice
        if not contents:
            continue  # the simulator's first extra event has no photos
        latest: dict[str, dict[str, Any]] = {}
        for key in bucket.keys(prefix + ".ninepic/manifests/"):
            for line in bucket.read(key).splitlines():
                entry = json.loads(line)
                if entry["time"] >= latest.get(entry["image_id"], {}).get("time", 0):
                    latest[entry["image_id"]] = entry
        assert set(latest) == set(contents) and {e["status"] for e in latest.values()} == {"ok"}
        stems = {k.split("/")[4] for k in bucket.keys(prefix + ".ninepic/manifests/")}
        assert stems == {"manifest.0-of-2", "manifest.1-of-2"}  # one task per shard wrote each
        for image_id, data in contents.items():
            assert bucket.read(prefix + latest[image_id]["file"]) == data
    assert bucket.unfinished_uploads() == []


async def test_a_killed_worker_loses_and_duplicates_nothing_and_a_rerun_transfers_nothing(
    rsim: SimFactory, bucket: TestBucket, dask_client: Any, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=16, extra_events=3, extra_event_photos=12, seed=1221)
    sim.faults.storage_latency_s = 0.1  # long enough to kill a worker in the middle of its task
    access = ApiAccess(sim.api_key, sim.org_id, sim.base_url)
    options = DownloadOptions(concurrency=2)
    archive = asyncio.create_task(
        archive_on_dask(
            dask_client, access, bucket.url("archive"), all_events=True, shards=2, options=options
        )
    )
    while True:  # wait until a worker is in the middle of a task that has stored something
        busy = await asyncio.to_thread(dask_client.processing)
        if sim.counters.storage_requests >= 6 and any(busy.values()):
            break
        assert not archive.done(), archive
        await asyncio.sleep(0.05)
    pids = await asyncio.to_thread(dask_client.run, os.getpid)
    victim = next(address for address, keys in busy.items() if keys)
    os.kill(pids[victim], signal.SIGKILL)
    report = await archive
    assert not archive.cancelled() and report.complete, [
        (e.event_id, e.status, e.error) for e in report.events
    ]
    folders = {e.event_id: e.folder for e in report.events}
    assert len(folders) == 4  # three with photos, one empty
    assert_bucket_holds_every_photo_once(bucket, sim, folders)

    sim.faults.storage_latency_s = 0.0
    served = sim.counters.storage_requests
    again = await archive_on_dask(
        dask_client, access, bucket.url("archive"), all_events=True, shards=2, options=options
    )
    total = sum(len(contents) for contents in photos(sim).values())
    assert again.complete and again.downloaded == 0 and again.skipped == total
    assert sim.counters.storage_requests == served

    # the same cluster into a local directory: the shards of each event folder share it at once
    local = await archive_on_dask(dask_client, access, tmp_path, all_events=True, shards=2, options=options)
    assert local.complete and local.downloaded == total
    for event in local.events:
        if event.downloaded:
            check = await check_destination(tmp_path / event.folder)
            assert check.clean and check.ok == event.downloaded


@pytest.fixture
def dask_dashboard_port_taken() -> Iterator[None]:
    """Port 8787 (Dask's default dashboard) busy, as another cluster on the machine would hold it."""
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 8787))
        holder.listen()
    except OSError:
        pass  # already taken by something else: just as good
    try:
        yield
    finally:
        holder.close()


@pytest.mark.usefixtures("dask_dashboard_port_taken")
async def test_the_cli_archives_an_organisation_on_a_local_cluster_into_a_bucket(
    rsim: SimFactory, bucket: TestBucket, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=6, extra_events=3, extra_event_photos=4, seed=1222)
    argv = ["archive", *conn(sim), "--all-events", "--cluster", "local:2", "--out", bucket.url("archive")]
    code, out, err = await run_cli(capsys, *argv)
    assert code == 0, err
    assert "downloaded 14" in out + err
    listed = {k.split("/")[1] for k in bucket.keys("archive/")}
    assert len(listed) == 3  # the empty event stores nothing
    folders = {int(folder.split("-")[0]): folder for folder in listed}
    assert_bucket_holds_every_photo_once(bucket, sim, folders)
