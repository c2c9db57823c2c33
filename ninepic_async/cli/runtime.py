"""One command run's state: its parsed options, output streams and error context.

:class:`Runtime` is what every command function receives. It resolves the org id, event id
and API key from the options or the environment (``NINEPIC_*``) and builds the client, noting
in its :class:`~ninepic_async.cli.errors.ErrorContext` what the error messages should name.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._constants import (
    DEFAULT_MAX_RATE_LIMIT_RETRIES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_EVENT_ID,
    ENV_ORG_ID,
)
from .._exceptions import register_secret
from .errors import CliError, ErrorContext
from .network import client_network
from .output import Output

if TYPE_CHECKING:
    from ..client import NinePicClient
    from ..retry_notice import RetryNotice

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """One command's parsed options, output streams and error context."""

    args: argparse.Namespace
    output: Output
    ctx: ErrorContext = field(default_factory=ErrorContext)
    retry_listener: Callable[[RetryNotice], None] | None = None
    """Who hears the API's retries instead of a stderr line (the JSON events while a download runs)."""

    def api_retry(self, notice: RetryNotice) -> None:
        """Say on stderr that the API is being retried ("API unreachable, retry 2/5 in 1.6 s").

        Silent with -q; with --verbose the library's own log line already says it.
        """
        if self.retry_listener is not None:
            self.retry_listener(notice)
        elif not self.opt("verbose"):
            self.output.note(notice.describe())

    def opt(self, name: str, default: Any = None) -> Any:
        """A shared option's value (SUPPRESSed options are absent from the namespace)."""
        return getattr(self.args, name, default)

    def show(self, data: Any, human: Callable[[], None]) -> None:
        """Print ``data`` as one JSON document with --json, else call ``human()`` to print it for people."""
        if self.opt("json"):
            self.output.json(data)
        else:
            human()

    def _id_from(self, option: str, env: str, what: str) -> int:
        value = self.opt(option)
        if value is not None:
            return int(value)
        raw = os.environ.get(env, "").strip()
        if not raw:
            raise CliError(f"no {what}: pass --{option} {what.upper().replace(' ', '_')} or set {env}")
        try:
            return int(raw)
        except ValueError:
            raise CliError(f"{env}={raw!r} is not a number; set it to the {what}") from None

    def org_id(self) -> int:
        """--org, else $NINEPIC_ORG_ID; CliError (exit 2) when neither is set."""
        org = self._id_from("org", ENV_ORG_ID, "org id")
        self.ctx.org_id = org
        return org

    def event_id(self) -> int:
        """--event, else $NINEPIC_EVENT_ID; CliError (exit 2) when neither is set."""
        event = self._id_from("event", ENV_EVENT_ID, "event id")
        self.ctx.event_id = event
        return event

    def client(self) -> NinePicClient:
        """A NinePicClient from the options and environment (nothing is sent yet)."""
        from ..client import NinePicClient

        key = self.opt("api_key") or os.environ.get(ENV_API_KEY, "")
        key = key.strip()
        if not key:
            raise CliError(
                f"no API key: pass --api-key KEY or set {ENV_API_KEY} (created in the 9Pic "
                "dashboard's Developer Zone)"
            )
        register_secret(key)
        org = self.org_id()
        base_url = self.opt("base_url") or os.environ.get(ENV_BASE_URL) or None
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise CliError(f"--base-url {base_url!r} is not an http(s) URL")
        retries = self.opt("max_retries")
        max_retries = DEFAULT_MAX_RETRIES if retries is None else int(retries)
        self.ctx.max_retries = max_retries
        throttled = self.opt("max_rate_limit_retries")
        max_rate_limit_retries = DEFAULT_MAX_RATE_LIMIT_RETRIES if throttled is None else int(throttled)
        self.ctx.max_rate_limit_retries = max_rate_limit_retries
        network = client_network(self)
        client = NinePicClient(
            key,
            org_id=org,
            base_url=base_url,
            timeout_s=float(self.opt("timeout") or DEFAULT_TIMEOUT_S),
            max_retries=max_retries,
            max_rate_limit_retries=max_rate_limit_retries,
            **network,
        )
        self.ctx.base_url = client.base_url
        return client

    def about_event(self, event: int, client: NinePicClient) -> None:
        """Make a 404 name ``event`` of the client's organisation."""
        self.ctx.subject = f"event {event} in org {client.org_id}"
