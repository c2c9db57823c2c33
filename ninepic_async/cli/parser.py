"""The ``ninepic`` argument parser: every command, its options, its ``--help`` example.

:func:`build_parser` is the whole tree. Options that name the connection (``--org``,
``--event``, ``--base-url``, ...) are accepted after the command name and default to
SUPPRESS, so an option absent from argv is absent from the namespace and the command
falls back to the environment (see :class:`~ninepic_async.cli.runtime.Runtime`).
Values are only parsed here; range checks that need an option's name in the message
(``--page-size``, ``--concurrency``) happen in the command.
"""

from __future__ import annotations

import argparse
import re
import typing
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import __version__
from .._constants import (
    BIBS_PAGE_SIZE,
    CLI_MAX_CONCURRENCY,
    DEFAULT_CHECK_CONCURRENCY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_RETRIES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    DEMO_PHOTO_COUNT,
    DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    DOWNLOAD_LOW_SPEED_TIME_S,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_EVENT_ID,
    ENV_ORG_ID,
    EVENTS_PAGE_SIZE,
    FACES_PAGE_SIZE,
    IMAGES_PAGE_SIZE,
    TIMELINE_PAGE_SIZE,
    VIDEO_POLL_INTERVAL_S,
    VIDEO_POLL_TIMEOUT_S,
)
from ..download.names import TEMPLATE_FIELDS
from .errors import EXIT_STATUSES, CliError

__all__ = ["NinepicArgumentParser", "build_parser", "non_empty", "parse_time_s"]

_EXIT_HELP = "exit statuses:\n" + "\n".join(f"  {code:<4}{text}" for code, text in EXIT_STATUSES.items())
_EXIT_HELP_COMMANDS = frozenset({"download", "demo", "check", "archive"})
"""Commands whose --help ends with the exit status table (the top-level help has it too)."""


class NinepicArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose bad input is one ``error:`` line and exit 2, like every other bad value.

    :meth:`error` raises :class:`~ninepic_async.cli.errors.CliError` instead of printing the
    usage block, so ``main`` reports it the way it reports a bad ``--concurrency`` found later;
    the line ends with where the full usage is (``ninepic download --help``). Subcommand parsers
    inherit the class (argparse's ``add_subparsers`` uses the parent's).
    """

    def error(self, message: str) -> typing.NoReturn:
        raise CliError(f"{_option_first(message)} (see `{self.prog} --help`)")


def _option_first(message: str) -> str:
    """argparse's ``argument --out/-o: ...`` as ``--out: ...`` (the option the user typed)."""
    match = re.match(r"argument ([^:]+): (.*)", message, re.DOTALL)
    if match is None:
        return message
    names, rest = match.groups()
    return f"{names.split('/')[0]}: {rest}"


# --- value types -----------------------------------------------------------------------


def non_empty(what: str) -> Callable[[str], str]:
    """argparse type: a string that is not empty or blank (an unset ``$DEST`` must not mean ``.``)."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{what} must not be empty (is a shell variable unset?)")
        return text

    return parse


def _whole_number(minimum: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer, at least ``minimum`` when given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


def _seconds(*, zero_ok: bool) -> Callable[[str], float]:
    """argparse type: a number of seconds, > 0 (or >= 0 with ``zero_ok``); NaN is refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if zero_ok and not value >= 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        if not zero_ok and not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    return parse


_int_arg = _whole_number()  # range checked by the command, so the error names the option
_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)
_positive_seconds = _seconds(zero_ok=False)
_non_negative_seconds = _seconds(zero_ok=True)


def parse_time_s(text: str) -> int:
    """Unix seconds from ``text``: an integer, or an ISO 8601 date/time (UTC when no offset)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected Unix seconds or an ISO 8601 time like 2024-05-01T08:00:00Z, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


# --- option groups shared by several commands ----------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples of the epilogs as written."""


def _shared_parent(*, event: bool = True) -> argparse.ArgumentParser:
    """Connection options every API command accepts after its name (``--event`` shown only where it
    is used); defaults SUPPRESSed so nesting never clobbers."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (after the command name)")
    sup = argparse.SUPPRESS
    group.add_argument(
        "--org",
        type=_int_arg,
        metavar="ORG_ID",
        default=sup,
        help=f"organisation id (default: ${ENV_ORG_ID})",
    )
    group.add_argument(  # accepted everywhere, so one set of connection options fits every command
        "--event",
        type=_int_arg,
        metavar="EVENT_ID",
        default=sup,
        help=f"event id (default: ${ENV_EVENT_ID})" if event else sup,
    )
    group.add_argument(
        "--base-url",
        type=non_empty("the URL"),
        metavar="URL",
        default=sup,
        help=f"API base URL (default: ${ENV_BASE_URL}, else https://api.9pic.ai)",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=sup,
        help=f"API key (default: ${ENV_API_KEY}; prefer the variable: others can see argv)",
    )
    group.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="S",
        default=sup,
        help=f"seconds per API request attempt (default: {DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--max-retries",
        type=_non_negative_int,
        metavar="N",
        default=sup,
        help=f"retries of a 5xx/failed API request (default: {DEFAULT_MAX_RETRIES})",
    )
    group.add_argument(
        "--max-rate-limit-retries",
        type=_non_negative_int,
        metavar="N",
        default=sup,
        help=f"retries of a 429 answer (default: {DEFAULT_MAX_RATE_LIMIT_RETRIES})",
    )
    _add_network_options(parent)
    return parent


def _add_network_options(parent: argparse.ArgumentParser) -> None:
    """--proxy/--ca-bundle/--insecure and --config/--profile (see :mod:`.config`)."""
    group = parent.add_argument_group(
        "network and profiles (after the command name)",
        "HTTP_PROXY/HTTPS_PROXY/NO_PROXY are honoured as curl does. A profile's keys are the\n"
        "defaults of the options of the same name; a flag, then a NINEPIC_* variable, wins.",
    )
    sup = argparse.SUPPRESS
    group.add_argument(
        "--proxy",
        metavar="URL",
        default=sup,
        help="send API and storage requests through this proxy, e.g. http://proxy.example:3128 "
        "(default: $HTTPS_PROXY / $HTTP_PROXY; hosts in $NO_PROXY always go direct)",
    )
    group.add_argument(
        "--ca-bundle",
        metavar="FILE",
        default=sup,
        help="trust the CA certificates in this PEM file instead of the system's, for the API "
        "and storage (e.g. a company's TLS-inspecting proxy)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=sup,
        help="do not verify TLS certificates (warns on every run; prefer --ca-bundle)",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        default=sup,
        help="TOML file of profiles (default: $NINEPIC_CONFIG, else ~/.config/ninepic/config.toml)",
    )
    group.add_argument(
        "--profile",
        metavar="NAME",
        default=sup,
        help="the config file's profile to use (default: $NINEPIC_PROFILE, else [default] if present)",
    )


def _output_parent(
    json_help: str = "print the decoded data as JSON (JSON Lines with --all-pages)",
    verbose_help: str = "log every request line to stderr (the key is never shown)",
) -> argparse.ArgumentParser:
    """--json, -v/--verbose, -q/--quiet and --log-file: what a command prints, and where its logs go."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output")
    sup = argparse.SUPPRESS
    group.add_argument("--json", action="store_true", default=sup, help=json_help)
    group.add_argument("-v", "--verbose", action="store_true", default=sup, help=verbose_help)
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=sup,
        help="no progress bar, notes or retry messages on stderr: only errors, and the data or "
        "summary on stdout (not with -v)",
    )
    group.add_argument(
        "--log-file",
        type=non_empty("the log file"),
        metavar="PATH",
        default=sup,
        help="append the library's DEBUG log to PATH (the key is never written), whatever -q/-v say",
    )
    return parent


def _paging_parent(limits: tuple[int, int]) -> argparse.ArgumentParser:
    """--page/--page-size/--all-pages for a listing whose page size is ``limits`` (default, max)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("pages")
    group.add_argument("--page", type=_positive_int, default=1, metavar="N", help="page number (default: 1)")
    group.add_argument(
        "--page-size",
        type=_int_arg,
        default=None,
        metavar="N",
        help=f"items per page, 1-{limits[1]} (default: {limits[0]})",
    )
    group.add_argument(
        "--all-pages",
        action="store_true",
        help="fetch every page from --page on (JSON Lines of items with --json)",
    )
    parent.set_defaults(page_limits=limits)
    return parent


def _video_wait_parent() -> argparse.ArgumentParser:
    """--wait/--wait-timeout/--interval of the video commands."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("waiting")
    group.add_argument("--wait", action="store_true", help="poll until the job reaches a terminal status")
    group.add_argument(
        "--wait-timeout",
        type=_positive_seconds,
        default=VIDEO_POLL_TIMEOUT_S,
        metavar="S",
        help=f"give up waiting after S seconds (default: {VIDEO_POLL_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--interval",
        type=_positive_seconds,
        default=VIDEO_POLL_INTERVAL_S,
        metavar="S",
        help=f"seconds between status polls (default: {VIDEO_POLL_INTERVAL_S:g})",
    )
    clips = parent.add_argument_group("clips")
    clips.add_argument(
        "--out",
        type=non_empty("the destination"),
        metavar="DIR",
        help="download the finished job's clips into DIR (streamed, resumable, checked like photos; "
        "with a manifest)",
    )
    return parent


def _add_download_options(p: argparse.ArgumentParser) -> None:
    """--out/--concurrency/--verify of ``download`` and ``demo``."""
    group = p.add_argument_group("download")
    group.add_argument(
        "--out",
        type=non_empty("the destination"),
        required=True,
        metavar="DIR",
        help="destination directory (created if needed)",
    )
    group.add_argument(
        "--concurrency",
        type=_int_arg,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"parallel downloads, 1-{CLI_MAX_CONCURRENCY} (default: {DEFAULT_CONCURRENCY})",
    )
    group.add_argument(
        "--verify",
        action="store_true",
        help="check each file's MD5 against the store's ETag (when it is a plain MD5) and re-hash "
        "files already on disk against the manifest before skipping them",
    )
    group.add_argument(
        "--progress",
        choices=("auto", "json"),
        default="auto",
        help="auto: a live bar on a terminal, a line every few seconds otherwise; json: JSON Lines "
        "events on stderr for programs (see the README's `--progress json`)",
    )
    group.add_argument(
        "--low-speed-limit",
        type=_non_negative_int,
        default=DOWNLOAD_LOW_SPEED_LIMIT_BPS,
        metavar="BYTES_PER_S",
        help="abandon and resume a photo slower than this over --low-speed-time; 0 turns it off "
        f"(default: {DOWNLOAD_LOW_SPEED_LIMIT_BPS})",
    )
    group.add_argument(
        "--low-speed-time",
        type=_positive_seconds,
        default=DOWNLOAD_LOW_SPEED_TIME_S,
        metavar="SECONDS",
        help=f"window of --low-speed-limit (default: {DOWNLOAD_LOW_SPEED_TIME_S:g})",
    )
    group.add_argument(
        "--shard",
        metavar="K/N",
        help="download only shard K of N (K counted from 0: 0/4 .. 3/4), chosen by a stable hash of "
        "each photo's id; N runs, on one machine or several, can share --out at once",
    )
    _add_limit_rate(group)


def _add_limit_rate(group: argparse._ArgumentGroup) -> None:
    """--limit-rate: the run's total bandwidth cap (checked by the command, so the error names it)."""
    group.add_argument(
        "--limit-rate",
        metavar="RATE",
        default=None,
        help="cap the whole run at RATE bytes per second, shared by all downloads; K, M, G suffixes "
        "are powers of 1024, as in curl (e.g. 20M, 512K; default: no cap)",
    )


def _add_command(
    sub: argparse._SubParsersAction[Any],
    name: str,
    help_text: str,
    example: str,
    parents: Sequence[argparse.ArgumentParser],
    *,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """One (sub)command with its help line, description and ``example:`` epilog."""
    epilog = "example:\n" + example + ("\n\n" + _EXIT_HELP if name in _EXIT_HELP_COMMANDS else "")
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        parents=parents,
        epilog=epilog,
        formatter_class=_Formatter,
    )
    return parser


# --- the tree -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole ``ninepic`` argument parser (subcommands, shared options, examples)."""
    output = _output_parent()
    shared = _shared_parent()
    parser = NinepicArgumentParser(
        prog="ninepic",
        description="Command line for the 9Pic external API: look up events and photos, search by "
        "BIB or selfie, and download original photos concurrently with resume.",
        epilog="examples:\n"
        "  export NINEPIC_API_KEY=...  NINEPIC_ORG_ID=903  NINEPIC_EVENT_ID=456\n"
        "  ninepic ping\n"
        "  ninepic download --bib 107 --out ./photos\n"
        "  ninepic check --out ./photos            # re-hash the files against the manifest\n"
        "  ninepic demo --out ./demo-photos        # no account needed: built-in simulator\n\n" + _EXIT_HELP,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ninepic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str,
        help_text: str,
        example: str,
        parents: Sequence[argparse.ArgumentParser] = (),
        *,
        connection: argparse.ArgumentParser | None = shared,
    ) -> argparse.ArgumentParser:
        first = [] if connection is None else [connection]
        return _add_command(sub, name, help_text, example, [*first, output, *parents])

    add(
        "ping",
        "check the key, host and event mapping in one round trip",
        "  ninepic ping --org 903 --event 456",
    )
    add(
        "events",
        "list the organisation's events",
        "  ninepic events --org 903 --page-size 50",
        [_paging_parent(EVENTS_PAGE_SIZE)],
        connection=_shared_parent(event=False),
    )
    add(
        "event",
        "show an event's details and which searches are enabled",
        "  ninepic event --org 903 --event 456",
    )
    add(
        "photos",
        "list every photo of an event",
        "  ninepic photos --org 903 --event 456 --all-pages --json | jq -r .image_id",
        [_paging_parent(IMAGES_PAGE_SIZE)],
    )
    p = add(
        "bib",
        "find photos by BIB number (9Pic BibTrack)",
        "  ninepic bib 107 --org 903 --event 456",
        [_paging_parent(BIBS_PAGE_SIZE)],
    )
    p.add_argument("bib", metavar="BIB", help="the participant's BIB number (case-insensitive)")

    p = add(
        "faces",
        "find photos by selfie (9Pic FaceFind): upload one, or page a previous search",
        "  ninepic faces --selfie me.jpg --org 903 --event 456\n"
        "  ninepic faces --request-id 41f20e9e-1cb8-4407-8f33-3bae4ef22882 --page 2",
        [_paging_parent(FACES_PAGE_SIZE)],
    )
    p.add_argument("--selfie", metavar="FILE", help="selfie image to upload (starts a search)")
    p.add_argument(
        "--request-id",
        metavar="ID",
        help="an earlier search's request_id (with --selfie: reuse it, cached server-side)",
    )

    _add_timeline(
        add(
            "timeline",
            "browse photos by capture time",
            "  ninepic timeline days --org 903 --event 456\n"
            "  ninepic timeline images --from 2024-05-01T08:00:00Z --to 2024-05-01T09:00:00Z",
        ),
        [shared, output],
    )

    video_wait = _video_wait_parent()
    p = add(
        "video",
        "start a personalised video clipping job (9Pic Motion), or check one",
        "  ninepic video --request-id 41f20e9e-1cb8-4407-8f33-3bae4ef22882 --wait\n"
        "  ninepic video --selfie me.jpg --org 903 --event 456\n"
        "  ninepic video status 5f0c... --wait --out ./clips      # then download the clips",
        [video_wait],
    )
    p.add_argument("--selfie", metavar="FILE", help="selfie image to upload")
    p.add_argument("--request-id", metavar="ID", help="reuse a Face Search request_id instead of uploading")
    vsub = p.add_subparsers(dest="video_command", metavar="{status}")
    vs = _add_command(
        vsub,
        "status",
        "show (or wait for) a job's status",
        "  ninepic video status REQUEST_ID --wait --org 903 --event 456",
        [shared, output, video_wait],
        description="show a video clipping job's status and clips",
    )
    vs.add_argument("request_id", metavar="REQUEST_ID", help="the job's request_id")

    p = add(
        "download",
        "download original photos concurrently, resumably, with a manifest",
        "  ninepic download --org 903 --event 456 --bib 107 --out ./photos\n"
        "  ninepic download --all --out ./event-456 -q --log-file ninepic.log   # summary line only\n"
        "  ninepic download --all --out ./event-456 --progress json 2> events.jsonl   # for programs\n"
        "  ninepic download --selfie 41f20e9e-1cb8-4407-8f33-3bae4ef22882 --out ./photos --verify\n"
        "  ninepic download --all --out ./event-456 --concurrency 32 --dry-run\n"
        "  ninepic download --bib 107 --bib 108 --out ./photos\n"
        "  ninepic download --selfie me.jpg --out ./photos          # face search, then its photos\n"
        "  cat me.jpg | ninepic download --selfie - --out ./photos\n"
        "  ninepic download --image-ids-from ids.txt --out ./photos  # one id a line; - reads stdin\n"
        "  ninepic download --bib 107 --bib 108 --name-template '{bib}/{filename}' --out ./photos\n"
        "  ninepic download --all --out ./event-456 --profile lab --limit-rate 20M",
    )
    _add_download_selection(p)
    _add_download_options(p)
    _add_name_template(p, bib=True)
    p.add_argument("--dry-run", action="store_true", help="list what would be fetched; write nothing")

    _add_archive(
        add(
            "archive",
            "download every photo of whole events, each into <out>/<event_id>-<slug>/",
            "  ninepic archive --out ./archive --all-events\n"
            "  ninepic archive --out ./archive --events 456,457 --concurrency 32\n"
            "  ninepic archive --out ./archive --all-events --since 2025-01-01 --until 2025-06-30\n"
            "  ninepic archive --out ./archive --all-events --name-template '{image_id}{ext}'\n"
            "  ninepic archive --out ./archive --all-events --dry-run   # what a run would fetch",
            connection=_shared_parent(event=False),  # its events are --events/--all-events
        )
    )

    p = add(
        "demo",
        "download a synthetic event from the built-in simulator (no account needed)",
        "  ninepic demo --out ./demo-photos\n"
        "  ninepic demo --out ./demo-photos --photos 500 --storage-latency 0.2   # watch the bar",
        connection=None,  # it serves and uses its own simulator
    )
    p.add_argument(
        "--photos",
        type=_positive_int,
        default=DEMO_PHOTO_COUNT,
        metavar="N",
        help=f"photos in the synthetic event (default: {DEMO_PHOTO_COUNT})",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic event (default: 1)")
    p.add_argument(
        "--storage-latency",
        type=_non_negative_seconds,
        default=0.0,
        metavar="S",
        help="simulated delay per storage request, in seconds (default: 0)",
    )
    _add_download_options(p)

    p = _add_command(
        sub,
        "check",
        "re-hash a download's files against its manifest (no API key needed)",
        "  ninepic check --out ./photos\n  ninepic check --out ./photos --json | jq .problems",
        [
            _output_parent(
                json_help="print the report as one JSON document",
                verbose_help="log what the library does to stderr",
            )
        ],
        description="Re-hash every file of a download destination against its manifest and list "
        "the missing, changed and extra files. Works offline: no API key, org or event.",
    )
    group = p.add_argument_group("check")
    group.add_argument(
        "--out",
        type=non_empty("the destination"),
        required=True,
        metavar="DIR",
        help="the download destination to check",
    )
    group.add_argument(
        "--concurrency",
        type=_int_arg,
        default=DEFAULT_CHECK_CONCURRENCY,
        metavar="N",
        help=f"files hashed in parallel, 1-{CLI_MAX_CONCURRENCY} (default: {DEFAULT_CHECK_CONCURRENCY})",
    )

    _add_simulate(sub)
    _add_completion(sub)
    return parser


def _add_download_selection(p: argparse.ArgumentParser) -> None:
    """What ``download`` downloads: exactly one of these (read and checked by the command)."""
    selection = p.add_argument_group("what to download (exactly one)").add_mutually_exclusive_group(
        required=True
    )
    selection.add_argument(
        "--bib",
        metavar="BIB",
        action="append",
        help="every photo of this BIB number (repeat for more BIBs: a photo of several is fetched once)",
    )
    selection.add_argument(
        "--selfie",
        metavar="REQUEST_ID|FILE|-",
        help="every photo of a Face Search request_id, or of a selfie image FILE (- reads it from "
        "stdin): the face search runs first and the request_id it used is printed",
    )
    selection.add_argument(
        "--image-id",
        metavar="ID",
        action="append",
        dest="image_ids",
        help="this photo (repeat the option for more)",
    )
    selection.add_argument(
        "--image-ids-from",
        metavar="FILE",
        help="the photos listed in FILE, one id a line (- reads stdin; blank lines are ignored)",
    )
    selection.add_argument("--all", action="store_true", dest="whole_event", help="every photo of the event")


def _add_name_template(p: argparse.ArgumentParser, *, bib: bool) -> None:
    """--name-template of ``download`` (``{bib}`` allowed) and ``archive``."""
    fields = "; ".join(f"{{{name}}} {text}" for name, text in TEMPLATE_FIELDS.items() if bib or name != "bib")
    p.add_argument_group("file names").add_argument(
        "--name-template",
        metavar="TEMPLATE",
        help="name each file by TEMPLATE, '/' making folders, e.g. "
        + ("'{bib}/{filename}' or " if bib else "")
        + "'{event_id}/{image_id}{ext}'; every part is made a safe name; names an earlier run "
        f"recorded are kept. Fields: {fields}",
    )


def _add_archive(p: argparse.ArgumentParser) -> None:
    """``archive``: which events (checked by the command, so bad input is one line), then the
    options of ``download``."""
    group = p.add_argument_group("which events (exactly one of --events, --all-events)")
    group.add_argument(
        "--events",
        metavar="ID[,ID...]",
        action="append",
        help="these event ids, comma-separated or the option repeated (e.g. 456,457)",
    )
    group.add_argument("--all-events", action="store_true", help="every event of the organisation")
    group.add_argument(
        "--since",
        metavar="DATE",
        help="only events dated on or after DATE (YYYY-MM-DD; undated ones are left out)",
    )
    group.add_argument("--until", metavar="DATE", help="only events dated on or before DATE (YYYY-MM-DD)")
    _add_download_options(p)
    cluster = p.add_argument_group("running on Dask (the extra ninepic-async[dask])")
    cluster.add_argument(
        "--cluster",
        metavar="local:N|tcp://HOST:PORT",
        help="run one task per event and shard on Dask: local:N starts N worker processes here, "
        "tcp://HOST:8786 uses a running scheduler (its workers need --out at the same path, "
        "or a bucket)",
    )
    cluster.add_argument(
        "--shards",
        type=_int_arg,
        metavar="N",
        help="shards per event with --cluster (default: the cluster's worker threads)",
    )
    _add_name_template(p, bib=False)
    p.add_argument(
        "--dry-run", action="store_true", help="list, per event, what would be fetched; write nothing"
    )


def _add_timeline(p: argparse.ArgumentParser, shared: Sequence[argparse.ArgumentParser]) -> None:
    """``timeline days`` and ``timeline images --from S --to S`` under ``p``."""
    tsub = p.add_subparsers(dest="timeline_command", metavar="{days,images}", required=True)
    _add_command(
        tsub,
        "days",
        "photo counts per UTC day and hour",
        "  ninepic timeline days --org 903 --event 456",
        list(shared),
    )
    ti = _add_command(
        tsub,
        "images",
        "photos captured in [--from, --to)",
        "  ninepic timeline images --from 1714550400 --to 1714554000 --org 903 --event 456",
        [*shared, _paging_parent(TIMELINE_PAGE_SIZE)],
        description="photos captured in the window [--from, --to)",
    )
    ti.add_argument(
        "--from",
        dest="start_s",
        type=parse_time_s,
        required=True,
        metavar="S",
        help="window start: Unix seconds or ISO 8601 (UTC unless an offset is given)",
    )
    ti.add_argument(
        "--to",
        dest="end_s",
        type=parse_time_s,
        required=True,
        metavar="S",
        help="window end (exclusive): Unix seconds or ISO 8601",
    )


def _add_completion(sub: argparse._SubParsersAction[Any]) -> None:
    """``completion bash|zsh``: print a shell completion script (no connection options)."""
    p = sub.add_parser(
        "completion",
        help="print a bash or zsh completion script",
        description="Print a tab-completion script for the ninepic commands and options.",
        epilog="examples:\n"
        "  ninepic completion bash > ~/.local/share/bash-completion/completions/ninepic\n"
        "  ninepic completion zsh > ~/.zfunc/_ninepic   # with fpath+=(~/.zfunc) before compinit\n"
        '  eval "$(ninepic completion bash)"              # this shell only',
        formatter_class=_Formatter,
    )
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")


def _add_simulate(sub: argparse._SubParsersAction[Any]) -> None:
    """``simulate``: the standalone simulator's own options (no connection options)."""
    from ..testing import build_arg_parser as add_simulator_options

    simulate = sub.add_parser(
        "simulate",
        help="run the 9Pic simulator in the foreground (Ctrl-C stops it)",
        description="Serve a local 9Pic API and object store with a synthetic event until Ctrl-C; "
        "prints its base URL, org id, event id and API key, a ready-to-paste export line, and BIBs "
        "and Face Search request ids that exist in its event.",
        epilog="example:\n  ninepic simulate --port 8080 --photos 200\n"
        "  # in another shell, paste the export line it prints:\n"
        "  export NINEPIC_BASE_URL=http://127.0.0.1:8080 NINEPIC_API_KEY=sim-key-5f0c9e2d7a41b38e \\\n"
        "         NINEPIC_ORG_ID=903 NINEPIC_EVENT_ID=456\n"
        "  ninepic ping\n"
        "  ninepic download --bib 107 --out ./photos   # a BIB it lists as existing",
        formatter_class=_Formatter,
    )
    add_simulator_options(simulate)
