"""The synthetic event: deterministic, compact, with the shapes the other parts rely on."""

from __future__ import annotations

import hashlib
import uuid

from ninepic_async.testing import HOSTILE_FILENAMES, Simulator, SimulatorConfig, World
from ninepic_async.testing.state import SimState


def test_same_seed_same_world() -> None:
    a, b = World(seed=5), World(seed=5)
    assert list(a.photos) == list(b.photos)
    assert all(a.content(p.image_id) == b.content(p.image_id) for p in a.photos[:10])
    assert a.selfie_request_ids == b.selfie_request_ids
    c = World(seed=6)
    assert a.photos[0].image_id != c.photos[0].image_id
    assert a.content(a.photos[0].image_id) != c.content(c.photos[0].image_id)


def test_photo_shape() -> None:
    world = World(photo_count=200, photo_size=(1000, 5000))
    assert len(world.photos) == 200
    ids = [p.image_id for p in world.photos]
    assert len(set(ids)) == 200
    for photo in world.photos:
        assert uuid.UUID(photo.image_id).version == 4
        assert 1000 <= photo.size <= 5000
        assert len(photo.bibs) <= 3
        assert photo.filename == f"{photo.image_id}.jpg"
        assert world.photo(photo.image_id) == photo
        assert world.index_of(photo.image_id) == photo.index
    assert any(len(p.bibs) == 0 for p in world.photos) and any(len(p.bibs) == 3 for p in world.photos)
    assert world.photos[-1] == world.photos[199]
    assert world.photos[1:3] == [world.photos[1], world.photos[2]]


def test_unknown_ids() -> None:
    world = World()
    assert world.index_of("a4402318-0cf4-4e1e-b8e8-ac8e8f2fc244") is None
    assert world.index_of("not-a-uuid") is None
    assert World(seed=2).index_of(world.photos[0].image_id) is None


def test_timestamps_over_two_days_untimed_last() -> None:
    world = World(photo_count=400, untimed_ratio=0.1)
    stamps = [p.captured_at_s for p in world.photos]
    assert stamps[-40:] == [None] * 40
    timed = [s for s in stamps if s is not None]
    assert len(timed) == 360 and timed == sorted(timed)
    assert len({s // 86_400 for s in timed}) == 2
    days = world.timeline_days()
    assert sum(total for _, total, _ in days) == 360


def test_content_and_md5() -> None:
    world = World(photo_size=(100, 3_000_000), photo_count=5)
    for photo in world.photos:
        data = world.content(photo.image_id)
        assert len(data) == photo.size and data[:3] == b"\xff\xd8\xff"
        assert world.md5(photo.image_id) == hashlib.md5(data).hexdigest()
        pieces = b"".join(world.iter_content(photo.index, 7, photo.size - 3, chunk_bytes=4096))
        assert pieces == data[7:-3]
    tiny = World(photo_size=10, photo_count=1)
    assert len(tiny.content(tiny.photos[0].image_id)) == 10


def test_large_event_is_lazy() -> None:
    world = World(photo_count=100_000, photo_size=(1_000_000, 5_000_000))
    last = world.photos[99_999]
    assert world.photo(last.image_id) == last
    assert world.index_of(last.image_id) == 99_999
    assert world._lazy.bib_index is None and world._lazy.pool is None


def test_bibs_and_selfies() -> None:
    world = World(photo_count=120)
    assert world.bibs
    for bib, ids in world.bibs.items():
        assert all(bib in world.photo(i).bibs for i in ids)
        assert world.bib_indices(bib.lower()) == [world.index_of(i) for i in ids]
    assert len(world.selfie_request_ids) == 2
    for request_id, ids in world.selfie_request_ids.items():
        assert ids
        assert world.match_selfie(world.selfies[request_id]).request_id == request_id
    assert world.match_selfie(b"noface").indices == []
    assert world.match_selfie(b"abc") == world.match_selfie(b"abc")


def test_missing_and_hostile() -> None:
    state = SimState(SimulatorConfig(missing_ratio=0.05, hostile_filenames=True), SimulatorConfig().faults)
    world = state.world
    assert len(world.missing_ids) == 6
    names = [p.filename for p in world.photos]
    assert set(HOSTILE_FILENAMES) <= set(names)


async def test_simulator_properties() -> None:
    async with Simulator(photo_count=10, org_id=7, event_id=8, api_key="k-123456") as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.storage_url.startswith("http://127.0.0.1:") and sim.storage_url != sim.base_url
        assert (sim.org_id, sim.event_id, sim.api_key) == (7, 8, "k-123456")
        assert len(sim.world.photos) == 10
        assert sim.event_ids[0] == 8
        assert "k-123456" not in repr(sim)
    await sim.close()
