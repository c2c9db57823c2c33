"""Hold a VM's free page reporting off while a benchmark runs, and say what was done.

With virtio-balloon free page reporting, the guest hands free memory back to the host a moment
after it is freed; the next write that lands on such a page (a page-cache page of a downloaded
file, say) takes a host fault. On the 2-core VM these benchmarks were written on, the same 1.6 GB
``dd`` to disk took 0.36-0.49 s of system time with reporting held off and 0.84-2.2 s after a
5 s pause with it on, so a contender's time depended on what ran before it and how long ago.
Raising ``page_reporting_order`` above the largest buddy order stops reporting (nothing freed is
that large); the previous value comes back when the run ends, and a run killed outright (no
``finally``) is undone by the next one from the value it wrote down first. Machines without the
module, or runs without root, are left as they are and the report says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

ORDER = Path("/sys/module/page_reporting/parameters/page_reporting_order")
MEMO = Path(__file__).resolve().parent / "work" / "page_reporting.before"
"""The order before the hold, kept on disk while it lasts."""
HELD_ORDER = 11
"""One above x86-64's largest buddy order (10): no free block qualifies for reporting."""


def order_to_restore(current: str, memo: Path = MEMO) -> str:
    """The order to restore: ``current``, or what a killed run's memo says if its hold is still on."""
    try:
        noted = memo.read_text().strip()
    except OSError:
        return current
    return noted if current == str(HELD_ORDER) and noted.isdigit() else current


@contextlib.contextmanager
def held(order_file: Path = ORDER, memo: Path = MEMO) -> Iterator[str]:
    """Hold reporting off inside the block; yields one line for the report's machine section."""
    try:
        current = order_file.read_text().strip()
    except OSError:
        yield "no free page reporting on this machine"
        return
    before = order_to_restore(current, memo)
    with contextlib.suppress(OSError):  # without it only a killed run's hold outlives it
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(f"{before}\n")
    try:
        order_file.write_text(f"{HELD_ORDER}\n")
    except OSError as exc:
        with contextlib.suppress(OSError):
            memo.unlink(missing_ok=True)
        yield (
            f"free page reporting (virtio-balloon) left on: page_reporting_order {current} "
            f"could not be raised ({exc.strerror or exc}); figures may vary with what ran before"
        )
        return
    try:
        yield (
            f"free page reporting (virtio-balloon) held off for the run: page_reporting_order "
            f"{before} -> {HELD_ORDER}, restored after (see benchmarks/page_reporting.py)"
        )
    finally:
        with contextlib.suppress(OSError):
            order_file.write_text(f"{before}\n")
            memo.unlink(missing_ok=True)


if __name__ == "__main__":  # run.sh: what to put back should the harness be killed outright
    with contextlib.suppress(OSError):
        print(order_to_restore(ORDER.read_text().strip()))
