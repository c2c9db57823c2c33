"""The benchmark's hold on free page reporting: raised for the run, restored after, reported."""

from __future__ import annotations

from pathlib import Path

import page_reporting
import pytest


def test_order_is_raised_inside_and_restored_after(tmp_path: Path) -> None:
    order = tmp_path / "page_reporting_order"
    order.write_text("9\n")
    with page_reporting.held(order, tmp_path / "before") as line:
        assert order.read_text().strip() == str(page_reporting.HELD_ORDER)
        assert "held off" in line and "9 -> 11" in line
    assert order.read_text().strip() == "9"


def test_order_is_restored_when_the_run_fails(tmp_path: Path) -> None:
    order = tmp_path / "page_reporting_order"
    order.write_text("7\n")
    with pytest.raises(KeyboardInterrupt), page_reporting.held(order, tmp_path / "before"):
        raise KeyboardInterrupt
    assert order.read_text().strip() == "7"


def test_a_machine_without_reporting_is_left_alone(tmp_path: Path) -> None:
    with page_reporting.held(tmp_path / "absent", tmp_path / "before") as line:
        assert line == "no free page reporting on this machine"
    assert not (tmp_path / "absent").exists()


class _ReadOnly(type(Path())):  # type: ignore[misc]
    """A sysfs file this user may read but not write (non-root)."""

    def write_text(self, *_args: object, **_kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")


def test_an_unwritable_order_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "page_reporting_order").write_text("9\n")
    order = _ReadOnly(tmp_path / "page_reporting_order")
    with page_reporting.held(order, tmp_path / "before") as line:
        assert "left on" in line and "page_reporting_order 9" in line and "Permission denied" in line
    assert (tmp_path / "page_reporting_order").read_text() == "9\n"
    assert not (tmp_path / "before").exists()


def test_the_order_before_the_hold_is_kept_on_disk_while_it_lasts(tmp_path: Path) -> None:
    order, memo = tmp_path / "page_reporting_order", tmp_path / "before"
    order.write_text("9\n")
    with page_reporting.held(order, memo):
        assert memo.read_text().strip() == "9"
    assert not memo.exists()


def test_a_hold_left_by_a_killed_run_is_undone_by_the_next(tmp_path: Path) -> None:
    order, memo = tmp_path / "page_reporting_order", tmp_path / "before"
    order.write_text(f"{page_reporting.HELD_ORDER}\n")
    memo.write_text("9\n")
    with page_reporting.held(order, memo) as line:
        assert "9 -> 11" in line
    assert order.read_text().strip() == "9"
    assert not memo.exists()


def test_a_memo_is_ignored_when_the_order_was_changed_since(tmp_path: Path) -> None:
    order, memo = tmp_path / "page_reporting_order", tmp_path / "before"
    order.write_text("8\n")
    memo.write_text("9\n")
    with page_reporting.held(order, memo):
        pass
    assert order.read_text().strip() == "8"
