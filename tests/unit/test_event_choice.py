"""Which events an archive takes is checked the same way, before any request, by both archivers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ninepic_async import RequestValidationError
from ninepic_async.download.archive import EventChoice, check_event_template
from ninepic_async.download.cluster import ApiAccess, archive_on_dask


def test_an_event_choice_reads_ids_and_dates_and_refuses_an_inverted_window() -> None:
    choice = EventChoice.of([7, 3, 7], False, "2025-05-01", date(2025, 5, 31))
    assert choice == EventChoice((7, 3), date(2025, 5, 1), date(2025, 5, 31))
    assert EventChoice.of(None, True, None, None) == EventChoice(None, None, None)
    with pytest.raises(RequestValidationError, match="must not be before since"):
        EventChoice.of(None, True, "2025-06-01", "2025-05-01")
    with pytest.raises(RequestValidationError, match="exactly one"):
        EventChoice.of([1], True, None, None)


def test_an_archive_refuses_a_bib_template() -> None:
    check_event_template("{event_id}/{filename}")
    with pytest.raises(RequestValidationError, match="needs a BIB selection"):
        check_event_template("{bib}/{filename}")


async def test_the_dask_archiver_refuses_an_inverted_window_before_touching_the_cluster(
    tmp_path: Path,
) -> None:
    no_cluster: Any = None
    with pytest.raises(RequestValidationError, match="must not be before since"):
        await archive_on_dask(
            no_cluster,
            ApiAccess("key", 1),
            tmp_path,
            all_events=True,
            since="2025-06-01",
            until="2025-05-01",
        )
    assert list(tmp_path.iterdir()) == []
