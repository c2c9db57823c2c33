"""Selections of several BIBs against the simulator: each photo fetched once, honest totals."""

from __future__ import annotations

import contextlib
import itertools
import logging
from pathlib import Path

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory, outcome

from ninepic_async import RequestValidationError
from ninepic_async.download import PlannedEvent, download_originals, iter_download_originals, plan_originals


async def test_several_bibs_fetch_each_shared_photo_once(
    sim_factory: SimFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await sim_factory(photo_count=150, bib_count=6, seed=3)
    bibs = sim.world.bibs
    first, second = next(
        (a, b)
        for a, b in itertools.combinations(bibs, 2)
        if set(bibs[a]) & set(bibs[b]) and len(bibs[a]) > 20
    )
    union = set(bibs[first]) | set(bibs[second])
    assert len(union) < len(bibs[first]) + len(bibs[second])  # some photos carry both BIBs
    totals: list[int | None] = []
    caplog.set_level(logging.WARNING)
    async with new_client(sim) as client:
        report = await download_originals(
            client,
            sim.event_id,
            tmp_path,
            bib=[first, second.lower(), first],
            concurrency=4,
            on_event=lambda e: totals.append(e.total_files) if isinstance(e, PlannedEvent) else None,
        )
        planned = [p async for p in plan_originals(client, sim.event_id, tmp_path, bib=[first, second])]
    assert report.complete and report.missing == 0
    assert report.downloaded == len(union) and report.announced == len(union)
    assert totals[0] == len(bibs[first]) and totals[-1] == len(
        union
    )  # an estimate at first, exact at the end
    assert {i for i, e in outcome(tmp_path).items() if e["status"] == "ok"} == union
    assert not [r for r in caplog.records if "walking it again" in r.getMessage()]
    assert sorted(p.image_id for p in planned) == sorted(union) and {p.action for p in planned} == {"skip"}


@pytest.mark.parametrize(
    ("bib", "field"),
    [([], "bib"), (["101", " "], "bib[1]"), ([None], "bib[0]"), (object(), "bib")],
)
async def test_bad_bib_lists_are_refused_before_any_request(
    sim_factory: SimFactory, tmp_path: Path, bib: object, field: str
) -> None:
    sim = await sim_factory(photo_count=3)
    async with new_client(sim) as client:
        with pytest.raises(RequestValidationError) as caught:
            await download_originals(client, sim.event_id, tmp_path / "d", bib=bib)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert sim.counters.api_requests == 0


async def test_leaving_a_several_bib_download_early_closes_its_listings(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory(photo_count=80, bib_count=3, seed=4)
    async with new_client(sim) as client:
        async with contextlib.aclosing(
            iter_download_originals(client, sim.event_id, tmp_path, bib=list(sim.world.bibs), concurrency=2)
        ) as results:
            async for _result in results:
                break
        report = await download_originals(client, sim.event_id, tmp_path, bib=list(sim.world.bibs))
    assert report.complete and report.downloaded + report.skipped == len(
        {i for ids in sim.world.bibs.values() for i in ids}
    )
