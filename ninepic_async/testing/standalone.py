"""Run the simulator as a standalone server (``python -m ninepic_async.testing``).

``run_standalone(argv)`` is what ``python -m ninepic_async.testing`` and the CLI's
``ninepic simulate`` call: it parses options, starts the simulator, writes its
coordinates as ``key: value`` lines to ``out`` and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .config import FEATURE_FLAGS, SimulatorConfig
from .faults import Faults

if TYPE_CHECKING:
    import asyncio

    from .server import Simulator

__all__ = ["build_arg_parser", "config_from_args", "read_coordinates", "run_standalone", "serve_forever"]

DEFAULT_STANDALONE_PORT = 8080


def _photo_size(text: str) -> int | tuple[int, int]:
    """argparse type of --photo-size: ``N`` bytes, or ``MIN-MAX`` (also ``MIN,MAX``, ``MIN:MAX``)."""
    try:
        for sep in ("-", ",", ":"):
            if sep in text:
                low, high = text.split(sep, 1)
                return int(low), int(high)
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected bytes per photo as N or MIN-MAX, got {text!r}") from None


def _port(text: str) -> int:
    """argparse type of a TCP port: 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0: any free one), got {value}")
    return value


def _number(kind: type[float] | type[int], low: float, high: float | None = None) -> Any:
    """argparse type of a ``kind`` number from ``low`` to ``high`` (inclusive; no upper bound if None)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            bounds = f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


_RATE = _number(float, 0.0, 1.0)
_NON_NEGATIVE = _number(float, 0.0)
_COUNT = _number(int, 0)


def build_arg_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the simulator's options to ``parser`` (or a new one) and return it."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m ninepic_async.testing", description="Local 9Pic simulator"
        )
    d = SimulatorConfig()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=_port, default=DEFAULT_STANDALONE_PORT, help="API port (0 = any free port)")
    add("--storage-port", type=_port, default=0, help="object store port (default: any free port)")
    add("--photos", type=_COUNT, default=d.photo_count, help="photos in the big event")
    add("--photo-size", type=_photo_size, default=d.photo_size, help="bytes per photo: N or MIN-MAX")
    add(
        "--url-lifetime",
        type=_number(float, 1.0),
        default=d.url_lifetime_s,
        help="presigned URL lifetime, seconds",
    )
    add("--seed", type=int, default=d.seed)
    add("--org-id", type=int, default=d.org_id)
    add("--event-id", type=int, default=d.event_id)
    add("--api-key", default=d.api_key)
    add("--bibs", type=_number(int, 1), default=None, help="distinct BIB numbers")
    add("--missing", type=_COUNT, default=0, help="photos missing from storage")
    add("--hostile-filenames", action="store_true")
    add("--legacy-flat", action="store_true", help="flat bodies and misspelled fields of old deployments")
    add("--etag-style", choices=("md5", "multipart"), default="md5")
    add("--storage-key-layout", choices=("id", "shared_basenames", "opaque"), default=d.storage_key_layout)
    add("--expired-code", choices=("AccessDenied", "ExpiredRequest"), default="AccessDenied")
    add("--disable", action="append", default=[], choices=FEATURE_FLAGS, help="turn a feature flag off")
    add("--video-polls", type=_COUNT, default=d.video_polls_to_complete)
    add("--api-latency", type=_NON_NEGATIVE, default=0.0, help="seconds added to every API response")
    add("--api-429-rate", type=_RATE, default=0.0)
    add("--retry-after", type=_NON_NEGATIVE, default=None, help="Retry-After seconds sent with 429s")
    add("--api-5xx-rate", type=_RATE, default=0.0)
    add("--storage-latency", type=_NON_NEGATIVE, default=0.0)
    add("--storage-5xx-rate", type=_RATE, default=0.0)
    add("--storage-cut-rate", type=_RATE, default=0.0)
    add("--storage-short-body-rate", type=_RATE, default=0.0)
    add("--storage-corrupt-rate", type=_RATE, default=0.0)
    add("--storage-ignore-range", action="store_true")
    add(
        "--storage-bytes-per-s", type=_NON_NEGATIVE, default=0.0, help="throttle object bodies (0 = no limit)"
    )
    add("--storage-bad-content-range", choices=("wrong_total", "star"), default=None)
    add("--storage-no-framing-cut-rate", type=_RATE, default=0.0)
    add("--storage-no-framing", action="store_true", help="close-delimited bodies (no length, no chunks)")
    add("--storage-content-encoding", default=None, help="e.g. gzip")
    add("--storage-html-200-rate", type=_RATE, default=0.0)
    add("--storage-empty-200-rate", type=_RATE, default=0.0)
    add("--storage-declared-length", type=_COUNT, default=None, help="Content-Length announced on 200s")
    add("--api-shuffle-image-ids", action="store_true")
    add("--listing-repeat-page", type=int, default=None, help="answer this page with the one before")
    add("--listing-repeat-budget", type=_COUNT, default=1)
    add("--listing-endless", action="store_true", help="All Photos never ends")
    add("--fault-seed", type=int, default=0)
    add("--log-level", default="WARNING")
    return parser


def config_from_args(ns: argparse.Namespace) -> SimulatorConfig:
    """A SimulatorConfig from options parsed by :func:`build_arg_parser`."""
    faults = Faults(
        api_latency_s=ns.api_latency,
        api_429_rate=ns.api_429_rate,
        api_retry_after_s=ns.retry_after,
        api_5xx_rate=ns.api_5xx_rate,
        storage_latency_s=ns.storage_latency,
        storage_5xx_rate=ns.storage_5xx_rate,
        storage_cut_rate=ns.storage_cut_rate,
        storage_short_body_rate=ns.storage_short_body_rate,
        storage_corrupt_rate=ns.storage_corrupt_rate,
        storage_ignore_range=ns.storage_ignore_range,
        storage_bytes_per_s=ns.storage_bytes_per_s,
        storage_bad_content_range=ns.storage_bad_content_range,
        storage_no_framing_cut_rate=ns.storage_no_framing_cut_rate,
        storage_no_framing=ns.storage_no_framing,
        storage_content_encoding=ns.storage_content_encoding,
        storage_html_200_rate=ns.storage_html_200_rate,
        storage_empty_200_rate=ns.storage_empty_200_rate,
        storage_declared_length=ns.storage_declared_length,
        api_shuffle_image_ids=ns.api_shuffle_image_ids,
        listing_repeat_page=ns.listing_repeat_page,
        listing_repeat_budget=ns.listing_repeat_budget,
        listing_endless=ns.listing_endless,
        seed=ns.fault_seed,
    )
    return SimulatorConfig(
        photo_count=ns.photos,
        photo_size=ns.photo_size,
        seed=ns.seed,
        url_lifetime_s=ns.url_lifetime,
        bib_count=ns.bibs,
        missing_count=ns.missing,
        hostile_filenames=ns.hostile_filenames,
        disabled_features=frozenset(ns.disable),
        etag_style=ns.etag_style,
        storage_key_layout=ns.storage_key_layout,
        legacy_flat=ns.legacy_flat,
        expired_error_code=ns.expired_code,
        api_key=ns.api_key,
        org_id=ns.org_id,
        event_id=ns.event_id,
        video_polls_to_complete=ns.video_polls,
        host=ns.host,
        port=ns.port,
        storage_port=ns.storage_port,
        faults=faults,
    )


EXAMPLE_COUNT = 3
"""How many BIBs and Face Search request ids that exist the start-up lines show."""


def describe(sim: Simulator) -> list[str]:
    """The lines printed on start: ``key: value`` coordinates (``photos`` is the last one readers
    wait for), values that exist in the event (BIBs, selfie request ids), and a ready-to-paste
    ``export`` line with ``ninepic`` commands to try."""
    bibs = [bib for bib, _ in sorted(sim.world.bibs.items(), key=lambda item: -len(item[1]))][:EXAMPLE_COUNT]
    request_ids = list(sim.world.selfie_request_ids)[:EXAMPLE_COUNT]
    lines = [
        f"base_url: {sim.base_url}",
        f"storage_url: {sim.storage_url}",
        f"org_id: {sim.org_id}",
        f"event_id: {sim.event_id}",
        f"api_key: {sim.api_key}",
        f"photos: {sim.world.photo_count}",
        f"bibs: {' '.join(bibs)}",
        f"selfie_request_ids: {' '.join(request_ids)}",
        "# paste into another shell:",
        f"export NINEPIC_BASE_URL={shlex.quote(sim.base_url)} NINEPIC_API_KEY={shlex.quote(sim.api_key)} "
        f"NINEPIC_ORG_ID={sim.org_id} NINEPIC_EVENT_ID={sim.event_id}",
    ]
    if bibs:
        lines.append(f"# then try: ninepic bib {shlex.quote(bibs[0])}")
        lines.append(f"#           ninepic download --bib {shlex.quote(bibs[0])} --out ./photos")
    if request_ids:
        lines.append(f"#           ninepic download --selfie {request_ids[0]} --out ./photos")
    lines.append("#           ninepic faces --selfie ANY_IMAGE_FILE   (any bytes match a few photos)")
    return lines


def read_coordinates(readline: Callable[[], str]) -> dict[str, str]:
    """The coordinates a starting simulator writes (the ``key: value`` lines of :func:`describe`,
    up to ``photos``), read with ``readline`` (a subprocess's ``stdout.readline``); RuntimeError
    when the output ends before them."""
    coordinates: dict[str, str] = {}
    while "photos" not in coordinates:
        line = readline()
        if not line:
            raise RuntimeError("the simulator exited before printing its coordinates")
        key, _, value = line.strip().partition(": ")
        coordinates[key] = value
    return coordinates


async def serve_forever(
    config: SimulatorConfig, *, out: TextIO | None = None, stop: asyncio.Event | None = None
) -> None:
    """Serve ``config`` until ``stop`` is set or SIGINT/SIGTERM arrives; write the coordinates to ``out``."""
    import asyncio  # here, not at the top: `ninepic --help` builds this parser without a loop

    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        from .server import Simulator  # here: building the option parser needs no server

        async with Simulator(config) as sim:
            if out is not None:
                out.write("\n".join(describe(sim)) + "\n")
                out.flush()
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_standalone(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point of ``python -m ninepic_async.testing``; returns the exit status."""
    ns = build_arg_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(ns.log_level).upper(), logging.WARNING))
    try:
        config = config_from_args(ns)
    except ValueError as exc:
        (out or sys.stderr).write(f"error: {exc}\n")
        return 2
    import asyncio

    try:
        asyncio.run(serve_forever(config, out=out if out is not None else sys.stdout))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0
