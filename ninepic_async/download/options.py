"""The options of a download run: one typed, validated object behind every download function."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from .._constants import (
    DEFAULT_CONCURRENCY,
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_FDS_PER_WORKER,
    DOWNLOAD_LOW_SPEED_LIMIT_BPS,
    DOWNLOAD_LOW_SPEED_TIME_S,
    DOWNLOAD_RESERVED_FDS,
)
from .._exceptions import RequestValidationError
from .._network import NetworkOptions
from .events import EventCallback
from .integrity import DIGEST_NAMES, DigestName
from .names import NameTemplate
from .policy import FilePolicy
from .shard import Shard

if TYPE_CHECKING:
    import aiohttp

    from .stats import DownloadMonitor

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

__all__ = ["DownloadKwargs", "DownloadOptions", "max_concurrency"]

logger = logging.getLogger(__name__)


def max_concurrency() -> int | None:
    """The most workers the process's open-file limit (soft ``RLIMIT_NOFILE``) allows, or None."""
    if resource is None:  # pragma: no cover - Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, (soft - DOWNLOAD_RESERVED_FDS) // DOWNLOAD_FDS_PER_WORKER)


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestValidationError(name, f"must be an integer >= 1; got {value!r}")


def _non_negative(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise RequestValidationError(name, f"must be a number >= 0; got {value!r}")


@dataclass(frozen=True, slots=True)
class DownloadOptions:
    """How a run downloads; validated on creation (:class:`RequestValidationError` names the field).

    - ``concurrency``: files in flight; capped (with a warning) by the open-file limit.
    - ``verify``: check each body against its plain-MD5 ETag while streaming, and re-hash files
      already on disk against the manifest's SHA-256 before skipping them.
    - ``chunk_size``: bytes collected per write to disk.
    - ``low_speed_limit_bps`` / ``low_speed_time_s``: a body slower than the limit over the
      window is abandoned and resumed (curl's ``--low-speed-limit``/``--low-speed-time``); a
      limit of 0 turns this off.
    - ``fsync``: sync each file before its ``ok`` line (off by default: the run syncs the file
      system every ``DOWNLOAD_SYNC_INTERVAL_S`` instead and a rerun re-hashes what the last sync
      did not cover, see :mod:`.manifest`; either way a power cut never leaves a trusted file
      whose bytes were lost). On, every ``ok`` file is durable the moment it is recorded.
    - ``digest``: what the manifest records of each file, ``crc32c`` (default, chosen by measured
      cost) or ``sha256`` (see :mod:`.integrity`).
    - ``name_template``: how files are named, e.g. ``"{bib}/{filename}"`` (``/`` makes folders;
      fields in :data:`~.names.TEMPLATE_FIELDS`); None keeps the server's names, made safe.
      Names an earlier run recorded in the destination's manifest are kept.
    - ``policy``: the per-file retry budgets (:class:`~.policy.FilePolicy`).
    - ``on_event``: progress callback (see :mod:`.events`).
    - ``shard``: download only this shard's photos, with its own manifest (see :mod:`.shard`).
    - ``limit_rate_bps``: a cap on the bytes per second of the whole run, shared by every worker
      (curl's ``--limit-rate``, rclone's ``--bwlimit``); None: no cap.
    - ``network``: proxy and TLS settings of the storage session; None: the client's
      (``client.network``), else the defaults (environment proxies, system CAs).
    - ``write_on_loop``: append received bytes to their file from the event loop's own thread
      while such writes stay under ``DOWNLOAD_SLOW_LOOP_WRITE_S`` (after a slower one, on threads
      for a pause that doubles while writes stay slow): half the CPU of handing each write to a
      thread over HTTPS (:class:`~.lanes.LoopWrites`). False: every file call on a thread, for a
      host whose loop must never wait on a disk. Creating, closing and renaming files always run
      on a thread.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    verify: bool = False
    chunk_size: int = DOWNLOAD_CHUNK_SIZE
    low_speed_limit_bps: float = DOWNLOAD_LOW_SPEED_LIMIT_BPS
    low_speed_time_s: float = DOWNLOAD_LOW_SPEED_TIME_S
    fsync: bool = False
    digest: DigestName = "crc32c"
    policy: FilePolicy = field(default_factory=FilePolicy)
    on_event: EventCallback | None = None
    shard: Shard | None = None
    name_template: str | None = None
    limit_rate_bps: float | None = None
    network: NetworkOptions | None = None
    write_on_loop: bool = True

    def __post_init__(self) -> None:
        _positive_int("concurrency", self.concurrency)
        _positive_int("chunk_size", self.chunk_size)
        _non_negative("low_speed_limit_bps", self.low_speed_limit_bps)
        _non_negative("low_speed_time_s", self.low_speed_time_s)
        if self.low_speed_limit_bps and not self.low_speed_time_s:
            raise RequestValidationError("low_speed_time_s", "must be > 0 when low_speed_limit_bps is set")
        if self.digest not in DIGEST_NAMES:
            raise RequestValidationError(
                "digest", f"must be one of {', '.join(DIGEST_NAMES)}; got {self.digest!r}"
            )
        if not isinstance(self.policy, FilePolicy):
            raise RequestValidationError("policy", f"must be a FilePolicy; got {type(self.policy).__name__}")
        if self.on_event is not None and not callable(self.on_event):
            raise RequestValidationError("on_event", "must be callable")
        if self.shard is not None and not isinstance(self.shard, Shard):
            raise RequestValidationError("shard", f"must be a Shard; got {type(self.shard).__name__}")
        if self.name_template is not None:
            NameTemplate.parse(self.name_template)
        if self.limit_rate_bps is not None:
            rate = self.limit_rate_bps
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < float("inf"):
                raise RequestValidationError("limit_rate_bps", f"must be a number > 0 or None; got {rate!r}")
        if not isinstance(self.write_on_loop, bool):
            raise RequestValidationError(
                "write_on_loop", f"must be True or False; got {self.write_on_loop!r}"
            )
        if self.network is not None and not isinstance(self.network, NetworkOptions):
            raise RequestValidationError(
                "network", f"must be a NetworkOptions; got {type(self.network).__name__}"
            )

    def with_network_of(self, client: object) -> DownloadOptions:
        """These options with ``client.network`` (its proxy/TLS settings) when they name none:
        storage requests then go the API's way."""
        network = getattr(client, "network", None)
        if self.network is None and isinstance(network, NetworkOptions):
            return dataclasses.replace(self, network=network)
        return self

    def effective_concurrency(self) -> int:
        """``concurrency``, capped by the open-file limit (logged once when it is)."""
        cap = max_concurrency()
        if cap is not None and self.concurrency > cap:
            logger.warning(
                "concurrency %d exceeds what the open-file limit allows; using %d "
                "(raise it with `ulimit -n` to go higher)",
                self.concurrency,
                cap,
            )
            return cap
        return self.concurrency


class DownloadKwargs(TypedDict, total=False):
    """The keywords of :func:`~.api.download_originals` after ``dest``, as one type: what
    ``NinePicClient.download_originals(**kwargs)`` accepts (so a misspelt keyword is a type error)."""

    bib: str | Sequence[str] | None
    selfie: str | None
    image_ids: Iterable[str] | None
    whole_event: bool
    concurrency: int
    verify: bool
    on_event: EventCallback | None
    chunk_size: int
    low_speed_limit_bps: float
    low_speed_time_s: float
    fsync: bool
    digest: DigestName
    shard: Shard | None
    name_template: str | None
    limit_rate_bps: float | None
    options: DownloadOptions | None
    storage_session: aiohttp.ClientSession | None
    monitor: DownloadMonitor | None
