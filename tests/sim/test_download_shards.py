"""``--shard K/N``: N runs share one destination without overlap, each with its own manifest;
reading the destination (resume, check) reads every manifest; the lock admits one run per shard."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.clients import new_client
from helpers.sim import SimFactory, all_ids

from ninepic_async import DestinationError, RequestValidationError
from ninepic_async._constants import LOCK_NAME, MANIFEST_NAME
from ninepic_async.download import download_originals
from ninepic_async.download.check import check_destination
from ninepic_async.download.integrity import Announced
from ninepic_async.download.lock import DestinationLock
from ninepic_async.download.manifest import Manifest, ManifestState
from ninepic_async.download.shard import Shard, is_own_name, manifest_paths
from ninepic_async.download.sources import Planner

pytestmark = pytest.mark.usefixtures("clean_env")


def shard_lines(dest: Path) -> dict[str, list[dict[str, object]]]:
    """Every manifest file's photo lines, by file name."""
    found: dict[str, list[dict[str, object]]] = {}
    for path in manifest_paths(dest):
        if path.exists():
            lines = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
            found[path.name] = [line for line in lines if line["image_id"]]
    return found


def test_a_photo_s_shard_is_a_fixed_hash_of_its_id() -> None:
    # zlib.crc32(b"a44e2f1c") == 0xEFE8F363: changing the hash would re-shard every destination
    assert [k for k in range(4) if Shard(k, 4).owns("a44e2f1c")] == [0xEFE8F363 % 4]
    ids = [f"id-{n}" for n in range(400)]
    owners = [[k for k in range(3) if Shard(k, 3).owns(i)] for i in ids]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [k]) for k in range(3)]
    assert min(sizes) > 100  # every shard gets a fair part


@pytest.mark.parametrize(
    ("text", "problem"),
    [("3/3", "K must be in 0..2"), ("-1/3", "must be K/N"), ("1/0", "count must be >= 1"), ("x", "K/N")],
)
def test_a_bad_shard_is_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(RequestValidationError, match=problem):
        Shard.parse(text)


def test_shard_manifests_and_locks_are_never_photo_names() -> None:
    assert is_own_name("manifest.2-of-3.jsonl") and is_own_name("MANIFEST.0-OF-1.JSONL")
    assert is_own_name(f"{LOCK_NAME}.0-of-2") and is_own_name(f"{LOCK_NAME}.of-2")
    assert not is_own_name("manifest.2-of-3.jpg")


async def test_concurrent_shards_share_one_destination_and_a_rerun_transfers_nothing(
    rsim: SimFactory, tmp_path: Path
) -> None:
    # shared basenames: photos 2n and 2n+1 are both IMG_n.jpg, often in different shards at once
    sim = await rsim(photo_count=24, seed=1201, storage_key_layout="shared_basenames")
    async with new_client(sim) as client:
        reports = await asyncio.gather(
            *(
                download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=Shard(k, 3))
                for k in range(3)
            )
        )
    assert all(r.complete for r in reports)
    assert sum(r.downloaded for r in reports) == 24
    assert sum(r.announced or 0 for r in reports) == 24
    lines = shard_lines(tmp_path)
    assert sorted(lines) == [f"manifest.{k}-of-3.jsonl" for k in range(3)]
    per_shard = [{str(line["image_id"]) for line in lines[f"manifest.{k}-of-3.jsonl"]} for k in range(3)]
    assert set.union(*per_shard) == all_ids(sim)
    assert sum(len(ids) for ids in per_shard) == 24  # no photo in two shards
    for k, ids in enumerate(per_shard):
        assert all(Shard(k, 3).owns(i) for i in ids)
        claims = [
            line["image_id"]
            for line in lines[f"manifest.{k}-of-3.jsonl"]
            if line["status"] == "partial" and line.get("bytes") is None
        ]
        assert set(claims) == ids  # each name was recorded as claimed before its photo arrived
    state = ManifestState.load_dest(tmp_path)
    names = dict(state.names())
    assert len(set(names.values())) == 24
    for image_id, name in names.items():
        assert (tmp_path / name).read_bytes() == sim.world.content(image_id)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
    check = await check_destination(tmp_path)
    assert check.clean and check.ok == 24 and check.extra == 0

    served = sim.counters.storage_requests
    async with new_client(sim) as client:
        again = [
            await download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=Shard(k, 3))
            for k in range(3)
        ]
        whole = await download_originals(client, sim.event_id, tmp_path, whole_event=True)
    assert [r.skipped for r in again] == [len(ids) for ids in per_shard]
    assert whole.skipped == 24 and whole.downloaded == 0  # an unsharded run reads every manifest
    assert sim.counters.storage_requests == served


async def test_a_shard_rerun_with_the_same_or_another_count_resumes(rsim: SimFactory, tmp_path: Path) -> None:
    sim = await rsim(photo_count=12, seed=1202)
    mine = {i for i in all_ids(sim) if Shard(1, 2).owns(i)}
    async with new_client(sim) as client:
        first = await download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=Shard(1, 2))
        second = await download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=Shard(1, 2))
        other = await download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=Shard(0, 3))
    assert first.announced == len(mine) == first.downloaded and first.complete
    assert second.skipped == len(mine) and second.downloaded == 0
    of_three = {i for i in all_ids(sim) if Shard(0, 3).owns(i)}
    assert other.skipped == len(of_three & mine) and other.downloaded == len(of_three - mine)
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_the_lock_admits_one_run_per_shard_and_shards_of_one_count_only(tmp_path: Path) -> None:
    with DestinationLock(tmp_path, Shard(0, 2)), DestinationLock(tmp_path, Shard(1, 2)):
        with pytest.raises(DestinationError, match=r"shard 0/2 is already being downloaded"):
            DestinationLock(tmp_path, Shard(0, 2)).acquire()
        with pytest.raises(DestinationError, match=r"another download is already running.*shards"):
            DestinationLock(tmp_path).acquire()
        with pytest.raises(DestinationError, match=r"shards of 2 .* the same count, not 3"):
            DestinationLock(tmp_path, Shard(0, 3)).acquire()
        assert "shard 1/2: pid" in (tmp_path / f"{LOCK_NAME}.1-of-2").read_text()
    with (
        DestinationLock(tmp_path),
        pytest.raises(DestinationError, match=r"another download is already running.*pid"),
    ):
        DestinationLock(tmp_path, Shard(0, 2)).acquire()
    with DestinationLock(tmp_path, Shard(2, 3)):  # all released: another count may start now
        pass


async def test_check_refuses_a_destination_a_shard_is_downloading(tmp_path: Path) -> None:
    (tmp_path / "manifest.0-of-2.jsonl").write_text("")
    with (
        DestinationLock(tmp_path, Shard(0, 2)),
        pytest.raises(DestinationError, match=r"a download \(--shard\) is running"),
    ):
        await check_destination(tmp_path)
    assert (await check_destination(tmp_path)).clean


async def test_the_cli_downloads_a_shard_and_refuses_a_bad_one_before_any_request(
    rsim: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=10, seed=1203)
    code, _, err = await run_cli(
        capsys, "download", *conn(sim), "--all", "--shard", "2/2", "--out", str(tmp_path)
    )
    assert (
        code == 2 and "--shard K must be in 0..1 for K/2; got 2" in err and len(err.strip().splitlines()) == 1
    )
    assert sim.counters.api_requests == 0 and not tmp_path.joinpath("manifest.2-of-2.jsonl").exists()
    for k in range(2):
        code, out, err = await run_cli(
            capsys, "download", *conn(sim), "--all", "--shard", f"{k}/2", "--out", str(tmp_path)
        )
        assert code == 0, err
        assert f"manifest.{k}-of-2.jsonl" in out + err
    code, out, err = await run_cli(capsys, "check", "--out", str(tmp_path))
    assert code == 0 and "10 ok" in out + err


def test_reading_several_manifests_the_latest_line_per_photo_wins(tmp_path: Path) -> None:
    def line(image_id: str, status: str, at: float, file: str) -> str:
        return json.dumps({"v": 1, "image_id": image_id, "status": status, "time": at, "file": file}) + "\n"

    (tmp_path / MANIFEST_NAME).write_text(line("a", "ok", 10.0, "a.jpg") + line("b", "failed", 30.0, "b.jpg"))
    (tmp_path / "manifest.0-of-2.jsonl").write_text(line("a", "failed", 20.0, "a.jpg"))
    (tmp_path / "manifest.1-of-2.jsonl").write_text(
        line("b", "ok", 5.0, "b.jpg") + line("c", "ok", 1.0, "c.jpg")
    )
    state = ManifestState.load_dest(tmp_path)
    assert {i: s for i, s, *_ in state.entries()} == {"a": "failed", "b": "failed", "c": "ok"}


async def test_the_cli_archives_by_shards_and_refuses_bad_cluster_input_before_any_request(
    rsim: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await rsim(photo_count=6, extra_events=2, extra_event_photos=3, seed=1204)
    archive = ["archive", *conn(sim), "--all-events", "--out", str(tmp_path)]
    for bad, problem in [
        (["--cluster", "local:0"], "--cluster local:N needs N from 1 to 64, got 0"),
        (["--cluster", "dask.example:8786"], "is neither local:N nor tcp://HOST:PORT"),
        (["--cluster", "local:2", "--shard", "0/2"], "--shard and --cluster do not go together"),
        (["--cluster", "local:2", "--shards", "0"], "--shards must be 1 or more, got 0"),
    ]:
        code, _, err = await run_cli(capsys, *archive, *bad)
        assert code == 2 and problem in err and len(err.strip().splitlines()) == 1, (bad, err)
    assert sim.counters.api_requests == 0
    for k in range(2):
        code, _, err = await run_cli(capsys, *archive, "--shard", f"{k}/2")
        assert code == 0, err
    for event_id, state in sim.state.events.items():
        folders = [p for p in tmp_path.iterdir() if p.name.split("-")[0] == str(event_id)]
        if not state.world.photos:
            continue
        (folder,) = folders
        assert sorted(p.name for p in folder.glob("manifest.*-of-2.jsonl")) == [
            "manifest.0-of-2.jsonl",
            "manifest.1-of-2.jsonl",
        ]
        check = await check_destination(folder)
        assert check.clean and check.ok == len(state.world.photos)


async def test_without_distributed_the_cluster_option_is_one_line_naming_the_extra(
    rsim: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    sim = await rsim(photo_count=2, seed=1205)
    argv = ["archive", *conn(sim), "--all-events", "--cluster", "local:2", "--out", str(tmp_path)]
    code, _, err = await run_cli(capsys, *argv)
    assert code == 2 and "pip install 'ninepic-async[dask]'" in err and len(err.strip().splitlines()) == 1
    assert sim.counters.api_requests == 0


def test_shard_locks_hold_across_processes(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib\n"
            "from ninepic_async.download.lock import DestinationLock\n"
            "from ninepic_async.download.shard import Shard\n"
            "with DestinationLock(pathlib.Path(sys.argv[1]), Shard(0, 2)):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DestinationError, match=r"shard 0/2 is already being downloaded.*pid"):
            DestinationLock(tmp_path, Shard(0, 2)).acquire()
        with DestinationLock(tmp_path, Shard(1, 2)):  # another shard of the same count: admitted
            pass
    finally:
        holder.communicate("", timeout=30)
    with DestinationLock(tmp_path, Shard(0, 2)):  # released with its process
        pass


async def test_a_name_a_killed_shard_had_claimed_is_that_photo_s_on_the_rerun(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=6, seed=1206)
    shard = Shard(0, 2)
    mine = sorted(i for i in all_ids(sim) if shard.owns(i))
    photo = next(p for p in sim.world.photos if p.image_id == mine[0])
    # what a run killed right after claiming the name leaves: the claim's line and an empty .part
    manifest = Manifest(tmp_path, shard.manifest_name)
    manifest.open()
    planner = Planner(tmp_path, ManifestState(), None, shard)
    planner.on_claim = lambda image_id, name: manifest.partial(image_id, name, Announced(None, None))
    claimed = planner.job(photo.image_id, None, photo.filename).filename
    manifest.close()
    assert (tmp_path / (claimed + ".part")).stat().st_size == 0
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, tmp_path, whole_event=True, shard=shard)
    assert report.complete and report.downloaded == len(mine)
    assert (tmp_path / claimed).read_bytes() == sim.world.content(photo.image_id)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
