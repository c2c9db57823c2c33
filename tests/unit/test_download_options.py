"""DownloadOptions: the defaults a run gets, and a refusal that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from ninepic_async import DownloadOptions, RequestValidationError


def test_writes_run_on_the_loops_thread_unless_turned_off() -> None:
    assert DownloadOptions().write_on_loop is True
    assert DownloadOptions(write_on_loop=False).write_on_loop is False


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_write_on_loop_must_be_a_bool(value: Any) -> None:
    with pytest.raises(RequestValidationError, match="write_on_loop"):
        DownloadOptions(write_on_loop=value)
