"""The error tree of ninepic_async.

```
NinePicError
├── ConfigurationError            bad client set-up (no API key, bad base URL)
├── RequestValidationError        a request we refuse to send (also a ValueError); .field
├── APIError                      something went wrong talking to the 9Pic API
│   ├── APIStatusError            the API answered 4xx/5xx; .status .message .request_id
│   │   ├── BadRequestError           400
│   │   ├── AuthenticationError       401
│   │   ├── PermissionDeniedError     403
│   │   ├── NotFoundError             404
│   │   ├── UnprocessableEntityError  422
│   │   ├── RateLimitError            429
│   │   └── InternalServerError       5xx
│   ├── APIConnectionError        no usable HTTP exchange (DNS, refused, reset, truncated)
│   │   ├── APITimeoutError       the request timed out
│   │   ├── TLSCertificateError   a host's certificate was refused (not retried); .host
│   │   └── ProxyError            the proxy was unreachable or refused; .proxy
│   └── APIResponseDecodeError    the body was not the JSON we expect
├── PollTimeoutError              a polled job did not finish in time (also a TimeoutError)
└── DownloadError                 one file could not be fetched from object storage
    ├── StorageStatusError        the store answered an error status; .status
    │   └── URLExpiredError           403 saying the presigned URL expired
    ├── IntegrityError            size, range or checksum mismatch, or not a photo; not kept
    ├── FileWriteError            this one file cannot be written at its name (the run goes on)
    └── DestinationError          the whole destination cannot be written (disk full, gone,
                                  read-only, locked by another run): the run stops
```

No message in this tree ever contains the API key: every constructor passes its text
through :func:`redact` before storing it.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = [
    "REDACTED",
    "APIConnectionError",
    "APIError",
    "APIResponseDecodeError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DestinationError",
    "DownloadError",
    "FileWriteError",
    "IntegrityError",
    "InternalServerError",
    "NinePicError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "ProxyError",
    "RateLimitError",
    "RequestValidationError",
    "StorageStatusError",
    "TLSCertificateError",
    "URLExpiredError",
    "UnprocessableEntityError",
    "forget_secret",
    "redact",
    "register_secret",
]

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""
_KEY_PATTERN = re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)")
_FEW_SECRETS = 16
"""Up to this many secrets, :func:`redact` simply looks for each one in turn."""


class _SecretRegistry:
    """The secrets :func:`redact` masks, each counted once per holder (two clients, one key).

    Finding thousands of keys in a text stays cheap: every occurrence of a key lies inside a run
    of characters that occur in some key, so one regular expression (rebuilt only when that
    character set or the shortest key length changes) finds the runs, and each run is checked
    by set lookups of its slices of the registered lengths. Reads need no lock (writes take one).
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lengths: dict[int, int] = {}
        self._chars: dict[str, int] = {}
        self._runs: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def __contains__(self, secret: object) -> bool:
        return secret in self._counts

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, secret: str) -> None:
        with self._lock:
            count = self._counts.get(secret, 0)
            self._counts[secret] = count + 1
            if count == 0:
                self._tally(secret, 1)

    def discard(self, secret: str) -> None:
        with self._lock:
            count = self._counts.get(secret, 0)
            if count > 1:
                self._counts[secret] = count - 1
            elif count == 1:
                del self._counts[secret]
                self._tally(secret, -1)

    def _tally(self, secret: str, step: int) -> None:
        """Count the new (or forgotten) secret's length and characters; drop the pattern if they changed."""
        changed = _bump(self._lengths, len(secret), step)
        for char in set(secret):
            changed = _bump(self._chars, char, step) or changed
        if changed:
            self._runs = None

    def _pattern(self) -> re.Pattern[str]:
        runs = self._runs
        if runs is None:
            chars = "".join(re.escape(c) for c in sorted(tuple(self._chars)))
            shortest = min(tuple(self._lengths), default=1)
            runs = self._runs = re.compile(f"[{chars}]{{{shortest},}}")
        return runs

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``[REDACTED]``."""
        secrets = self._counts
        if len(secrets) <= _FEW_SECRETS:
            for secret in tuple(secrets):
                if secret in text:
                    text = text.replace(secret, REDACTED)
            return text
        lengths = sorted(tuple(self._lengths), reverse=True)
        spans: list[tuple[int, int]] = []
        for match in self._pattern().finditer(text):
            run, start = match.group(), match.start()
            if run in secrets:
                spans.append((start, start + len(run)))
                continue
            for length in lengths:
                for i in range(len(run) - length + 1):
                    if run[i : i + length] in secrets:
                        spans.append((start + i, start + i + length))
        if not spans:
            return text
        merged: list[list[int]] = []
        for begin, end in sorted(spans):
            if merged and begin < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([begin, end])
        pieces: list[str] = []
        done = 0
        for begin, end in merged:
            pieces += (text[done:begin], REDACTED)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)


def _bump(counts: dict[Any, int], key: Any, step: int) -> bool:
    """Add ``step`` to ``counts[key]`` (dropping zeros); True when ``key`` appeared or vanished."""
    count = counts.get(key, 0) + step
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)
    return (count > 0) != (count - step > 0)


_SECRETS = _SecretRegistry()


def register_secret(secret: str | None) -> None:
    """Remember a secret (an API key) so that :func:`redact` removes it everywhere.

    Registrations are counted: each :func:`forget_secret` undoes one (a client registers its
    key when made and forgets it when closed).
    """
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def forget_secret(secret: str | None) -> None:
    """Undo one :func:`register_secret`; the secret is no longer masked once nobody holds it."""
    if secret:
        _SECRETS.discard(secret)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and any ``X-API-Key: value`` masked."""
    text = _SECRETS.redact(text)
    return _KEY_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)


class NinePicError(Exception):
    """Base class of every error raised by ninepic_async."""

    def __init__(self, message: str = "") -> None:
        self.message = redact(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return redact(super().__str__())


class ConfigurationError(NinePicError):
    """The client is set up wrongly (missing API key, malformed base URL, ...)."""


class RequestValidationError(NinePicError, ValueError):
    """A request that would be rejected by the API; nothing was sent. ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class APIError(NinePicError):
    """Something went wrong talking to the 9Pic API."""


class APIStatusError(APIError):
    """The API answered with an error status.

    ``message`` is the server's human-readable text (never branch on it), ``request_id``
    the response's request-id header when one was sent, ``body`` the decoded JSON if any.
    """

    status: int = 0

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str = "",
        url: str = "",
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = redact(url)
        self.request_id = request_id
        self.body = body
        server_message = message or "(no message)"
        where = f" ({method} {self.url})" if method else ""
        super().__init__(f"HTTP {status}: {server_message}{where}")
        self.message = redact(server_message)


class BadRequestError(APIStatusError):
    """400: the request failed validation on the server."""


class AuthenticationError(APIStatusError):
    """401: the X-API-Key header is missing."""


class PermissionDeniedError(APIStatusError):
    """403: key invalid or inactive, org/event not owned, host not approved, or feature off."""


class NotFoundError(APIStatusError):
    """404: the event, its configuration, the BIB or the request_id does not exist."""


class UnprocessableEntityError(APIStatusError):
    """422: the body failed schema validation; ``message`` lists ``field.path: problem``."""


class RateLimitError(APIStatusError):
    """429: the gateway throttled us; ``retry_after_s`` holds Retry-After when sent."""

    retry_after_s: float | None = None


class InternalServerError(APIStatusError):
    """5xx: the server failed; safe to retry."""


class APIConnectionError(APIError):
    """No usable HTTP exchange happened (connection refused or reset, truncated body)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class TLSCertificateError(APIConnectionError):
    """A host's TLS certificate was refused; not retried. ``host`` names it, ``reason`` says why.

    A host signed by a private CA needs that CA: ``NinePicClient(ca_bundle=...)`` (CLI ``--ca-bundle``).
    """

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = redact(reason)
        super().__init__(
            f"the TLS certificate of {host} was refused ({self.reason}); not retried. If a private CA "
            "signed it, pass that CA's certificate as ca_bundle"
        )


class ProxyError(APIConnectionError):
    """The proxy could not be reached or refused the request; ``proxy`` is its URL without credentials."""

    def __init__(self, proxy: str, reason: str) -> None:
        self.proxy = proxy
        self.reason = redact(reason)
        super().__init__(f"proxy {proxy} failed: {self.reason}")


class APIResponseDecodeError(APIError):
    """The response body was not the JSON shape we expect."""

    def __init__(self, message: str, *, status: int = 0, body_excerpt: str = "") -> None:
        self.status = status
        self.body_excerpt = redact(body_excerpt[:200])
        detail = f" (body starts: {self.body_excerpt!r})" if self.body_excerpt else ""
        super().__init__(f"{message}{detail}")


class PollTimeoutError(NinePicError, TimeoutError):
    """A polled job (video clipping) did not reach a terminal status in time."""


class DownloadError(NinePicError):
    """One file could not be fetched from object storage."""


class StorageStatusError(DownloadError):
    """The object store answered an error status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"storage answered HTTP {status}: {message}")


class URLExpiredError(StorageStatusError):
    """The presigned URL has expired (403 with an S3 expired-request error)."""


class IntegrityError(DownloadError):
    """The body did not match its Content-Length or checksum; it was not kept."""


class FileWriteError(DownloadError):
    """One file cannot be written or renamed at its name (a directory or an immutable file there,
    a name the file system refuses); that photo fails or moves to another name, the run goes on."""


class DestinationError(DownloadError):
    """The destination cannot be written: permissions, disk full, not a directory."""


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status, APIStatusError)
