"""Map exceptions to one-line messages and documented exit statuses.

Every expected failure of the command line ends as one line on stderr (``error: ...``)
naming the problem and what to do about it, and one of the exit statuses below. The API
key never appears: every message passes through :func:`ninepic_async._exceptions.redact`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .._constants import ENV_API_KEY, ENV_BASE_URL
from .._exceptions import (
    APIConnectionError,
    APIResponseDecodeError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DestinationError,
    DownloadError,
    InternalServerError,
    NinePicError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    ProxyError,
    RateLimitError,
    RequestValidationError,
    TLSCertificateError,
    UnprocessableEntityError,
    redact,
)

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL_ERROR",
    "EXIT_NOTHING_FOUND",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_PIPE_CLOSED",
    "EXIT_SOFTWARE",
    "EXIT_STATUSES",
    "EXIT_TERMINATED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CliError",
    "ErrorContext",
    "describe_error",
    "leaf_errors",
]

EXIT_OK = 0
"""Everything asked for was done (every matched photo is on disk)."""
EXIT_PARTIAL = 1
"""The command ran but not everything succeeded: some downloads failed (see the manifest),
a video job ended in a failure status, or waiting for it timed out, or ``check`` found
missing, changed or extra files."""
EXIT_USAGE = 2
"""Bad command-line input or configuration (argparse errors, concurrency 0, no API key,
unreadable selfie); no request was sent."""
EXIT_API_ERROR = 3
"""The API refused the request: 400, 401, 403, 404, 422 (wrong key, unknown event, ...)."""
EXIT_UNAVAILABLE = 4
"""The API could not be used right now: connection refused, timeout, 429 or 5xx after
every retry, or a response that is not the 9Pic API's. Retrying later may work."""
EXIT_LOCAL_ERROR = 5
"""The download destination cannot be written (permissions, disk full, ``--out`` names a file), or
another download is running in it (it holds ``<dest>/.ninepic.lock``)."""
EXIT_NOTHING_FOUND = 6
"""A download found nothing it could ever fetch: every selected photo was refused as not found
(unknown ``--image-id`` values, objects missing from the store) and none is on disk. Running
the same command again will not change that, unlike a partial run (1)."""
EXIT_SOFTWARE = 70
"""An unexpected internal error (a bug): please report it with the ``--verbose`` output."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C (SIGINT); partial ``.part`` files are kept for resume."""
EXIT_TERMINATED = 143
"""Stopped by SIGTERM (``docker stop``, ``timeout``, systemd): cleaned up like Ctrl-C (128 + 15)."""
EXIT_PIPE_CLOSED = 141
"""Whoever read stdout stopped early (``ninepic photos --all-pages --json | head``): the
command stops quietly, like a tool killed by SIGPIPE (128 + 13)."""

EXIT_STATUSES: dict[int, str] = {
    EXIT_OK: "success: everything asked for was done",
    EXIT_PARTIAL: "partial: some downloads failed (listed, and in the manifest) or announced photos never "
    "appeared, or a video job failed, or `check` found missing, changed or extra files",
    EXIT_USAGE: "bad command-line input or configuration; nothing was sent",
    EXIT_API_ERROR: "the API refused the request (400/401/403/404/422)",
    EXIT_UNAVAILABLE: "the API is unreachable or kept failing (connection, timeout, 429/5xx after retries)",
    EXIT_LOCAL_ERROR: "the destination cannot be written, or another download is using it",
    EXIT_NOTHING_FOUND: "nothing to download: none of the selected photos exists (e.g. every --image-id "
    "is unknown); a rerun will not help",
    EXIT_SOFTWARE: "internal error (a bug)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_PIPE_CLOSED: "stdout was closed early (e.g. `| head`); the command stopped quietly",
    EXIT_TERMINATED: "stopped by SIGTERM (docker stop, timeout): cleaned up as for Ctrl-C",
}
"""Every exit status of ``ninepic`` and what it means (the README's table is built from the same words)."""


class CliError(Exception):
    """A failure the command line detected itself; ``message`` is the whole line, ``exit_status`` the code."""

    def __init__(self, message: str, exit_status: int = EXIT_USAGE) -> None:
        self.message = redact(message)
        self.exit_status = exit_status
        super().__init__(self.message)


@dataclass
class ErrorContext:
    """What the failing command was about, so a message can say what was not found or denied."""

    org_id: int | None = None
    event_id: int | None = None
    base_url: str | None = None
    subject: str | None = None
    """Human words for the thing looked up, e.g. ``"BIB '1234'"`` (404 messages name it)."""
    max_retries: int | None = None
    max_rate_limit_retries: int | None = None


def leaf_errors(exc: BaseException) -> Iterator[BaseException]:
    """Yield the leaves of an exception group (anyio task groups wrap errors), or ``exc`` itself."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (tuple, list)) and inner:
        for sub in inner:
            if isinstance(sub, BaseException):
                yield from leaf_errors(sub)
        return
    yield exc


def _pick(exc: BaseException) -> BaseException:
    """The most telling leaf of ``exc``: the first ninepic error if any, else the first leaf."""
    leaves = list(leaf_errors(exc))
    for leaf in leaves:
        if isinstance(leaf, (NinePicError, CliError)):
            return leaf
    return leaves[0] if leaves else exc


def _server_says(exc: APIStatusError) -> str:
    message = (exc.message or "").strip()
    return f" (server said: {message})" if message and message != "(no message)" else ""


def _where(ctx: ErrorContext) -> str:
    parts = []
    if ctx.event_id is not None:
        parts.append(f"event {ctx.event_id}")
    if ctx.org_id is not None:
        parts.append(f"org {ctx.org_id}")
    return " of ".join(parts) if parts else "the requested resource"


def describe_error(exc: BaseException, ctx: ErrorContext | None = None) -> tuple[str, int] | None:
    """One line (without the ``error:`` prefix) and an exit status for an expected failure.

    Returns ``None`` for exceptions that are not expected (bugs), which the caller reports
    as an internal error.
    """
    ctx = ctx or ErrorContext()
    exc = _pick(exc)
    base = ctx.base_url or "the API"
    line: str
    status: int
    if isinstance(exc, CliError):
        line, status = exc.message, exc.exit_status
    elif isinstance(exc, RequestValidationError):
        line, status = f"invalid request, nothing was sent: {exc}", EXIT_USAGE
    elif isinstance(exc, ConfigurationError):
        line, status = f"{exc} (use --api-key or {ENV_API_KEY}, --base-url or {ENV_BASE_URL})", EXIT_USAGE
    elif isinstance(exc, AuthenticationError):
        line = (
            f"the API says the key is missing (401){_server_says(exc)}: "
            f"pass --api-key KEY or set {ENV_API_KEY}"
        )
        status = EXIT_API_ERROR
    elif isinstance(exc, PermissionDeniedError):
        line = (
            f"access denied (403){_server_says(exc)}: check that the API key is valid and active, "
            f"that {_where(ctx)} belongs to the key's organisation (--org/--event), "
            "and that this feature is enabled for the event (`ninepic event`)"
        )
        status = EXIT_API_ERROR
    elif isinstance(exc, NotFoundError):
        subject = ctx.subject or _where(ctx)
        line = f"not found (404): {subject}{_server_says(exc)}; check --org, --event and the identifier"
        status = EXIT_API_ERROR
    elif isinstance(exc, UnprocessableEntityError):
        line = f"the API rejected the request (422): {exc.message}"
        status = EXIT_API_ERROR
    elif isinstance(exc, BadRequestError):
        line = f"bad request (400): {exc.message}"
        status = EXIT_API_ERROR
    elif isinstance(exc, RateLimitError):
        limit = ctx.max_rate_limit_retries
        retries = f" after {limit} retries" if limit is not None else " after retries"
        line = (
            f"rate limited by the API (429){retries}: slow down (lower --concurrency, "
            "fewer parallel runs) and try again later"
        )
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, InternalServerError):
        line = f"the API failed with HTTP {exc.status}{_server_says(exc)} after retries: try again later"
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, APIStatusError):
        line = f"the API answered HTTP {exc.status}{_server_says(exc)}"
        status = EXIT_API_ERROR
    elif isinstance(exc, TLSCertificateError):
        line = (
            f"the TLS certificate of {exc.host} was refused ({exc.reason}); not retried. If a private "
            "CA signed it (a company proxy, a test server), pass that CA's certificate with --ca-bundle FILE"
        )
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, ProxyError):
        line = f"{exc}: check --proxy (or HTTPS_PROXY/HTTP_PROXY; NO_PROXY lists hosts that go direct)"
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, APITimeoutError):
        line = f"{base} did not answer in time: check --base-url (or {ENV_BASE_URL}) and your network"
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, APIConnectionError):
        line = f"cannot reach {base} ({exc}): check --base-url (or {ENV_BASE_URL}) and your network"
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, APIResponseDecodeError):
        line = f"unexpected response from {base} ({exc}): is --base-url a 9Pic API?"
        status = EXIT_UNAVAILABLE
    elif isinstance(exc, PollTimeoutError):
        line = f"{exc}; check again later with `ninepic video status` and the job's request_id"
        status = EXIT_PARTIAL
    elif isinstance(exc, DestinationError):
        line = f"destination problem: {exc}"
        status = EXIT_LOCAL_ERROR
    elif isinstance(exc, DownloadError):
        line = f"download failed: {exc}"
        status = EXIT_PARTIAL
    elif isinstance(exc, NinePicError):
        line, status = str(exc), EXIT_API_ERROR
    else:
        return None
    return redact(" ".join(line.split())), status
