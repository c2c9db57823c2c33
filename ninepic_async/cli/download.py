"""``ninepic download`` and ``ninepic demo``: input checks, the progress wiring, the summary.

Both run the library's :func:`~ninepic_async.download.download_originals` with a
:class:`~ninepic_async.cli.output.DownloadProgress` as ``on_event``, then print one summary
line and list failures (exit 1 when any photo failed). ``--dry-run`` prints the plan
instead. ``demo`` first starts the simulator in-process. Ctrl-C is handled by
:mod:`.loop`: it cancels the download, whose ``.part`` files stay for the next run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._constants import CLI_MAX_CONCURRENCY, DEMO_PHOTO_SIZE
from .._exceptions import RequestValidationError
from .errors import EXIT_LOCAL_ERROR, EXIT_NOTHING_FOUND, EXIT_OK, EXIT_PARTIAL, CliError
from .events_json import JsonProgress, summary_event
from .network import limit_rate_bps
from .output import DownloadProgress, format_bytes, format_rate
from .runtime import Runtime
from .selections import SelfieImage, check_image_ids, read_image_ids, read_selfie, resolve_selfie

if TYPE_CHECKING:
    from ..client import NinePicClient
    from ..download import DownloadReport
    from ..download.shard import Shard

__all__ = [
    "check_download_args",
    "check_name_template",
    "checked_out",
    "checked_shard",
    "cmd_demo",
    "cmd_download",
    "download_status",
]

_OPTION_OF = {"bib": "--bib", "selfie": "--selfie", "image_ids": "--image-id/--image-ids-from"}
"""The option behind each selection field :func:`~ninepic_async.download.sources.make_selection` names."""


def checked_out(text: str) -> Path | str:
    """``--out`` as a directory, or a bucket URL whose extra is installed (checked before any request)."""
    from ..download.bucket import is_bucket_url

    if is_bucket_url(text):
        from .._exceptions import DestinationError
        from ..download.bucket import open_bucket

        try:
            open_bucket(text)
        except DestinationError as exc:
            raise CliError(f"--out: {exc}") from None
        return text
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        # a destination problem (exit 5, like an unwritable one), not a malformed value
        raise CliError(f"--out {text!r} exists and is not a directory", EXIT_LOCAL_ERROR)
    return out


def checked_shard(text: str) -> Shard:
    """``--shard K/N`` as a :class:`Shard`; one line naming the problem otherwise."""
    from ..download.shard import Shard

    try:
        return Shard.parse(text)
    except RequestValidationError as exc:
        raise CliError(f"--shard {str(exc).split(': ', 1)[-1]}") from None


def check_download_args(rt: Runtime) -> tuple[Path | str, dict[str, Any], str]:
    """Validate download input before anything is sent: (destination, selection kwargs, description)."""
    args = rt.args
    if not 1 <= args.concurrency <= CLI_MAX_CONCURRENCY:
        raise CliError(f"--concurrency must be from 1 to {CLI_MAX_CONCURRENCY}, got {args.concurrency}")
    limit_rate_bps(rt)  # a bad --limit-rate is refused before anything is sent
    out = checked_out(args.out)
    if getattr(args, "dry_run", False) and isinstance(out, str):
        raise CliError("--dry-run needs a directory --out, not a bucket")
    selection: dict[str, Any] = {}
    if getattr(args, "shard", None) is not None:
        selection["shard"] = checked_shard(args.shard)
    what: str
    bibs = getattr(args, "bib", None)
    if bibs is not None:
        bibs = [bibs] if isinstance(bibs, str) else bibs
        selection["bib"] = bibs[0] if len(bibs) == 1 else bibs
        what = ("BIB " if len(bibs) == 1 else "BIBs ") + ", ".join(repr(b.strip()) for b in bibs)
    elif getattr(args, "selfie", None) is not None:
        selfie = read_selfie(args.selfie)
        selection["selfie"] = selfie
        what = f"face search request_id {selfie!r}" if isinstance(selfie, str) else "the selfie's matches"
    elif getattr(args, "image_ids", None) or getattr(args, "image_ids_from", None) is not None:
        ids = check_image_ids(args.image_ids) if args.image_ids else read_image_ids(args.image_ids_from)
        selection["image_ids"] = ids
        what = f"{len(dict.fromkeys(i.strip() for i in ids))} image id(s)"
    else:
        selection["whole_event"], what = True, "the whole event"
    if "shard" in selection:
        what += f", shard {selection['shard']}"
    check_name_template(args, bib_ok="bib" in selection)
    from ..download.sources import make_selection  # the one check of a selection, the library's

    try:
        make_selection(
            **{k: "-" if isinstance(v, SelfieImage) else v for k, v in selection.items() if k != "shard"}
        )
    except RequestValidationError as exc:
        option = _OPTION_OF.get(exc.field.split("[")[0], exc.field)
        raise CliError(f"{option} {str(exc).split(': ', 1)[-1]}") from None
    return out, selection, what


def check_name_template(args: Any, *, bib_ok: bool) -> None:
    """``--name-template`` parsed by the library's rules; ``{bib}`` only with ``--bib``."""
    text = getattr(args, "name_template", None)
    if text is None:
        return
    from ..download.names import NameTemplate

    try:
        template = NameTemplate.parse(text)
    except RequestValidationError as exc:
        raise CliError(f"--name-template {str(exc).split(': ', 1)[-1]}") from None
    if "bib" in template.fields and not bib_ok:
        raise CliError(f"--name-template {text!r}: {{bib}} needs --bib")


async def cmd_download(rt: Runtime) -> int:
    """Download originals: a selection to a directory, with progress, resume and a manifest."""
    out, selection, what = check_download_args(rt)
    event = rt.event_id()
    async with rt.client() as client:
        if isinstance(selection.get("selfie"), SelfieImage):
            request_id = await resolve_selfie(rt, client, event, selection["selfie"])
            selection["selfie"], what = request_id, f"face search request_id {request_id!r}"
        if "whole_event" in selection:
            rt.about_event(event, client)
        else:
            rt.ctx.subject = f"{what} in event {event}"
        if rt.args.dry_run:
            return await _dry_run(rt, client, event, out, selection)
        return await _download(rt, client, event, out, selection, label=f"event {event}")


async def cmd_demo(rt: Runtime) -> int:
    """Start the simulator in-process and download its synthetic event with the real pipeline."""
    from ..client import NinePicClient
    from ..testing import Simulator, SimulatorConfig

    out, _, _ = check_download_args(rt)
    # The in-process simulator is an implementation detail of the demo: on Ctrl-C its server
    # logs every connection the cancelled downloads dropped. Keep those tracebacks off the screen.
    with _silenced("aiohttp.server", "aiohttp.web", "ninepic_async.testing"):
        config = SimulatorConfig(photo_count=rt.args.photos, photo_size=DEMO_PHOTO_SIZE, seed=rt.args.seed)
        async with Simulator(config) as sim:
            if rt.args.storage_latency:
                sim.faults.storage_latency_s = rt.args.storage_latency
            rt.output.note(
                f"simulator: {sim.base_url} (org {sim.org_id}, event {sim.event_id}, "
                f"{rt.args.photos} synthetic photos)"
            )
            rt.ctx.base_url, rt.ctx.org_id, rt.ctx.event_id = sim.base_url, sim.org_id, sim.event_id
            # The in-process simulator is on this machine: no proxy variable may route it away.
            async with NinePicClient(
                sim.api_key, org_id=sim.org_id, base_url=sim.base_url, trust_env=False
            ) as client:
                return await _download(
                    rt, client, sim.event_id, out, {"whole_event": True}, label=f"demo event {sim.event_id}"
                )


def transfer_keywords(rt: Runtime) -> dict[str, Any]:
    """The download keywords of the transfer flags: --concurrency (capped by the open-file limit,
    said in a note), --verify, --low-speed-limit/--low-speed-time and --limit-rate."""
    from ..download.options import max_concurrency

    concurrency = rt.args.concurrency
    cap = max_concurrency()
    if cap is not None and concurrency > cap:
        rt.output.note(
            f"--concurrency {concurrency} is more than the open-file limit allows; using {cap} "
            "(raise the limit with `ulimit -n` to go higher)"
        )
        concurrency = cap
    return {
        "concurrency": concurrency,
        "verify": rt.args.verify,
        "low_speed_limit_bps": rt.args.low_speed_limit,
        "low_speed_time_s": rt.args.low_speed_time,
        "limit_rate_bps": limit_rate_bps(rt),
    }


async def _download(
    rt: Runtime, client: NinePicClient, event: int, out: Path | str, selection: dict[str, Any], *, label: str
) -> int:
    """Run the download with a progress display, then print the summary and the failures."""
    from ..download import download_originals

    transfer = transfer_keywords(rt)
    started = time.monotonic()
    progress: DownloadProgress | JsonProgress
    if rt.opt("progress") == "json":
        progress = JsonProgress(rt.output, label=label, command=rt.args.command)
        rt.retry_listener = progress.api_retry
    else:
        progress = DownloadProgress(rt.output, label=label)
    try:
        with progress:
            report = await download_originals(
                client,
                event,
                out,
                on_event=progress,
                name_template=getattr(rt.args, "name_template", None),
                **transfer,
                **selection,
            )
    finally:
        rt.retry_listener = None
    if not report.elapsed_s:
        report.elapsed_s = time.monotonic() - started
    status = download_status(report)
    extra = ""
    if report.missing:
        extra += f", missing {report.missing} (announced but never listed)"
    if rt.args.verify and report.unverified:
        extra += f", unverified {report.unverified} (no MD5 ETag to check against)"
    resumed = report.stats.bytes_resumed
    kept = f" (and {format_bytes(resumed)} already in resumed .part files)" if resumed else ""
    rt.show(
        report,
        lambda: rt.output.line(
            f"downloaded {report.downloaded}, skipped {report.skipped} (already on disk), "
            f"failed {report.failed}{extra}; "
            f"{format_bytes(report.bytes)}{kept} in {report.elapsed_s:.1f} s "
            f"({format_rate(report.bytes, report.elapsed_s)}); manifest: {report.manifest_path}"
        ),
    )
    # Each failure was listed as it happened (by the bar or the plain lines); here only what to do.
    retryable = report.failed - report.not_found
    if report.not_found:
        rt.output.error(
            f"{report.not_found} photo(s) do not exist (the API or the store said not found; listed in "
            f"{report.manifest_path}): running again will not fetch them"
        )
    if retryable:
        rt.output.error(
            f"{retryable} photo(s) failed (listed in {report.manifest_path}); run the same "
            "command again to retry them, finished files are skipped"
        )
    if report.missing:
        rt.output.error(
            f"{report.missing} of the {report.announced} photo(s) the selection announced never "
            "appeared in its listing, even on a second walk; run the same command again later"
        )
    if isinstance(progress, JsonProgress):
        rt.output.event(summary_event(report, status))
    return status


def download_status(report: DownloadReport) -> int:
    """The exit status of a download: 0 complete, 6 when nothing selected exists (and nothing is on
    disk), else 1 (partial: a rerun may finish it)."""
    if report.complete:
        return EXIT_OK
    nothing_on_disk = report.downloaded == 0 and report.skipped == 0 and report.missing == 0
    if nothing_on_disk and report.failed == report.not_found:
        return EXIT_NOTHING_FOUND
    return EXIT_PARTIAL


async def _dry_run(
    rt: Runtime, client: NinePicClient, event: int, out: Path | str, selection: dict[str, Any]
) -> int:
    """List what a download would fetch (and what is already on disk); write nothing."""
    from ..download import plan_originals

    template = rt.args.name_template
    planned = [p async for p in plan_originals(client, event, out, name_template=template, **selection)]
    counts = {a: sum(1 for p in planned if p.action == a) for a in ("download", "skip", "failed")}
    if rt.opt("json"):
        for item in planned:
            rt.output.json(item)
    else:
        words = {"download": "would download", "skip": "already on disk", "failed": "unavailable"}
        rows = [
            (
                p.image_id,
                p.filename,
                words[p.action]
                + (f" (resume from {p.resume_from_bytes} bytes)" if p.resume_from_bytes else ""),
                p.error,
            )
            for p in planned
        ]
        rt.output.table(("image_id", "filename", "action", "error"), rows, title=f"dry run: {out}")
    rt.output.note(
        f"dry run: {counts['download']} photo(s) would be downloaded to {out}, {counts['skip']} already on "
        f"disk, {counts['failed']} unavailable; nothing was written",
        essential=True,
    )
    return EXIT_OK


@contextlib.contextmanager
def _silenced(*names: str) -> Iterator[None]:
    """Drop every record of the named loggers while the block runs."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.setLevel(level)
            lg.propagate = propagate
