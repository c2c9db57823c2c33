"""``ninepic simulate``: serve the 9Pic simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import errno

from .._constants import ENV_API_KEY, ENV_BASE_URL, ENV_EVENT_ID, ENV_ORG_ID
from .errors import EXIT_OK, CliError
from .runtime import Runtime

__all__ = ["cmd_simulate"]


def cmd_simulate(rt: Runtime) -> int:
    """Serve the simulator with its standalone runner (its own event loop) until Ctrl-C; exit 0.

    A port already in use (or a host that cannot be bound) is a usage error (exit 2).
    """
    from ..testing import config_from_args, serve_forever

    try:
        config = config_from_args(rt.args)
    except ValueError as exc:
        raise CliError(f"bad simulator option: {exc}") from None
    rt.output.note(
        f"9Pic simulator: use the values below as --base-url/--org/--event/--api-key (or {ENV_BASE_URL}, "
        f"{ENV_ORG_ID}, {ENV_EVENT_ID}, {ENV_API_KEY}: paste the export line); Ctrl-C stops it"
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(config, out=rt.output.stdout))
    except OSError as exc:  # the port is taken, or the host cannot be bound
        problem = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            problem = "address already in use"
        raise CliError(
            f"cannot serve the simulator on {config.host}:{config.port} ({problem}): pick another --port "
            "(--port 0 takes any free one) or --host"
        ) from None
    return EXIT_OK
