"""Downloads straight into a bucket (``s3://``) on a real local S3 server (moto): every object
is the photo byte for byte, exists only when complete, the manifest lives in the bucket as
append-only segments and a rerun transfers nothing."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from helpers.buckets import TestBucket
from helpers.cli import conn, run_cli
from helpers.clients import new_client
from helpers.sim import SimFactory, all_ids

from ninepic_async import DestinationError
from ninepic_async.download import download_originals, upload
from ninepic_async.download.bucket import open_bucket
from ninepic_async.download.shard import Shard

pytestmark = pytest.mark.usefixtures("clean_env")


def recorded(bucket: TestBucket, prefix: str = "photos") -> dict[str, dict[str, object]]:
    """The latest manifest line per photo, read from every segment in the bucket."""
    lines: list[dict[str, object]] = []
    for key in bucket.keys(f"{prefix}/.ninepic/manifests/"):
        lines.extend(json.loads(line) for line in bucket.read(key).splitlines() if line.strip())
    lines.sort(key=lambda line: float(str(line["time"])))
    return {str(line["image_id"]): line for line in lines}


def photo_keys(bucket: TestBucket, prefix: str = "photos") -> list[str]:
    return [k for k in bucket.keys(f"{prefix}/") if "/.ninepic/" not in k]


async def test_a_whole_event_streams_into_the_bucket_and_a_rerun_transfers_nothing(
    rsim: SimFactory, bucket: TestBucket
) -> None:
    sim = await rsim(photo_count=12, seed=1211)
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, bucket.url(), whole_event=True)
    assert report.complete and report.downloaded == 12
    lines = recorded(bucket)
    assert set(lines) == all_ids(sim) and {line["status"] for line in lines.values()} == {"ok"}
    assert len(photo_keys(bucket)) == 12
    for image_id, line in lines.items():
        data = bucket.read(f"photos/{line['file']}")
        assert data == sim.world.content(image_id) and line["bytes"] == len(data)
        assert str(line["digest"]).startswith("crc32c:")
    served = sim.counters.storage_requests
    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, bucket.url(), whole_event=True)
    assert again.skipped == 12 and again.downloaded == 0 and again.complete
    assert sim.counters.storage_requests == served


async def test_a_cut_multipart_upload_leaves_no_object_and_is_aborted_then_retried(
    rsim: SimFactory, bucket: TestBucket, monkeypatch: pytest.MonkeyPatch, no_backoff_sleep: None
) -> None:
    monkeypatch.setattr(upload, "BUCKET_SINGLE_PUT_MAX_BYTES", 1024 * 1024)
    monkeypatch.setattr(upload, "BUCKET_PART_BYTES", 5 * 1024 * 1024)  # S3's smallest part
    sim = await rsim(photo_count=2, photo_size=12 * 1024 * 1024, seed=1212)
    cut = sorted(all_ids(sim))[0]
    # its first GET has no length and stops at 6 MiB: after a whole part went up, and a
    # truncation only the size probe can see
    sim.faults.storage_no_framing_cut_rate = 1e-12  # enabled, never drawn: only the forced time
    sim.faults.storage_fault_times = {cut: 1}
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, bucket.url(), whole_event=True, concurrency=1)
    assert report.complete and report.downloaded == 2
    assert sim.counters.storage_no_framing_cut == 1 and report.bytes == 30 * 1024 * 1024
    assert bucket.unfinished_uploads() == []  # the cut upload was aborted, not left behind
    for image_id, line in recorded(bucket).items():
        assert bucket.read(f"photos/{line['file']}") == sim.world.content(image_id)


async def test_concurrent_shards_into_one_prefix_never_share_a_name(
    rsim: SimFactory, bucket: TestBucket
) -> None:
    sim = await rsim(photo_count=16, seed=1213, storage_key_layout="shared_basenames")
    async with new_client(sim) as client:
        reports = await asyncio.gather(
            *(
                download_originals(client, sim.event_id, bucket.url(), whole_event=True, shard=Shard(k, 2))
                for k in range(2)
            )
        )
    assert all(r.complete for r in reports) and sum(r.downloaded for r in reports) == 16
    lines = recorded(bucket)
    assert {str(line["file"]) for line in lines.values()} == {
        k.removeprefix("photos/") for k in photo_keys(bucket)
    }
    assert len(photo_keys(bucket)) == 16
    for image_id, line in lines.items():
        assert bucket.read(f"photos/{line['file']}") == sim.world.content(image_id)
    assert {k.split("/")[3] for k in bucket.keys("photos/.ninepic/manifests/")} == {
        "manifest.0-of-2",
        "manifest.1-of-2",
    }


async def test_without_obstore_a_bucket_is_one_line_naming_the_extra(
    rsim: SimFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "obstore.store", None)
    with pytest.raises(DestinationError, match=r"needs obstore: pip install 'ninepic-async\[s3\]'"):
        open_bucket("s3://photos/2026")
    sim = await rsim(photo_count=2, seed=1214)
    code, _, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", "s3://photos/2026")
    assert code == 2 and "ninepic-async[s3]" in err and len(err.strip().splitlines()) == 1
    assert sim.counters.api_requests == 0


async def test_the_cli_downloads_into_a_bucket(
    rsim: SimFactory, bucket: TestBucket, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=5, seed=1215)
    code, out, err = await run_cli(capsys, "download", *conn(sim), "--all", "--out", bucket.url("cli"))
    assert code == 0, err
    assert "downloaded 5" in out + err and f"s3://{bucket.name}/cli/.ninepic/manifests/" in out + err
    assert len(photo_keys(bucket, "cli")) == 5


async def test_an_object_that_is_not_ours_is_never_overwritten(rsim: SimFactory, bucket: TestBucket) -> None:
    sim = await rsim(photo_count=4, seed=1216)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, bucket.url("probe"), whole_event=True)
    names = sorted(str(line["file"]) for line in recorded(bucket, "probe").values())
    foreign = b"someone else's file"
    bucket.client.put_object(Bucket=bucket.name, Key=f"photos/{names[0]}", Body=foreign)
    for _ in range(2):  # the second run has lost every manifest line, and still keeps off it
        for key in bucket.keys("photos/.ninepic/manifests/"):
            bucket.client.delete_object(Bucket=bucket.name, Key=key)
        async with new_client(sim) as client:
            report = await download_originals(client, sim.event_id, bucket.url(), whole_event=True)
        assert report.complete
        assert bucket.read(f"photos/{names[0]}") == foreign
    lines = recorded(bucket)
    assert names[0] not in {line["file"] for line in lines.values()}
    for image_id, line in lines.items():
        assert bucket.read(f"photos/{line['file']}") == sim.world.content(image_id)


async def test_check_rehashes_a_bucket_against_its_manifests(
    rsim: SimFactory, bucket: TestBucket, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=5, seed=1217)
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, bucket.url(), whole_event=True)
    code, out, err = await run_cli(capsys, "check", "--out", bucket.url())
    assert code == 0, err
    assert "checked 5 files: 5 ok, 0 missing, 0 changed, 0 extra" in out
    names = sorted(str(line["file"]) for line in recorded(bucket).values())
    same_size = bytes(len(bucket.read(f"photos/{names[0]}")))
    bucket.client.put_object(Bucket=bucket.name, Key=f"photos/{names[0]}", Body=same_size)
    bucket.client.delete_object(Bucket=bucket.name, Key=f"photos/{names[1]}")
    bucket.client.put_object(Bucket=bucket.name, Key="photos/stray.jpg", Body=b"not ours")
    code, out, err = await run_cli(capsys, "check", "--out", bucket.url())
    assert code == 1
    assert "checked 6 files: 3 ok, 1 missing, 1 changed, 1 extra" in out, out
    code, _, err = await run_cli(capsys, "check", "--out", bucket.url("nothing-here"))
    assert code != 0 and "there is no manifest" in err


async def test_a_name_template_makes_key_folders_and_a_rerun_transfers_nothing(
    rsim: SimFactory, bucket: TestBucket, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=4, seed=1218)
    template = "{event_id}/{image_id}{ext}"
    async with new_client(sim) as client:
        report = await download_originals(
            client, sim.event_id, bucket.url(), whole_event=True, name_template=template
        )
    assert report.complete
    lines = recorded(bucket)
    for image_id, line in lines.items():
        assert line["file"] == f"{sim.event_id}/{image_id}.jpg"
        assert bucket.read(f"photos/{line['file']}") == sim.world.content(image_id)
    served = sim.counters.storage_requests
    async with new_client(sim) as client:
        again = await download_originals(
            client, sim.event_id, bucket.url(), whole_event=True, name_template=template
        )
    assert again.skipped == 4 and sim.counters.storage_requests == served
    code, out, err = await run_cli(capsys, "check", "--out", bucket.url())
    assert code == 0 and "4 ok" in out, err
