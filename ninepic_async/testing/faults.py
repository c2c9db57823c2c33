"""Run-time fault knobs and traffic counters of the simulator.

Both are plain mutable objects: tests flip knobs while a simulator runs and assert on
the counters afterwards. Faults draw from their own RNG (seeded by ``Faults.seed``) so a
run with the same traffic order injects the same faults.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, fields
from typing import Literal

__all__ = ["API_ENDPOINTS", "Counters", "Faults"]

API_ENDPOINTS: tuple[str, ...] = (
    "ping",
    "events",
    "details",
    "images",
    "bibs",
    "faces_post",
    "faces_get",
    "timeline_days",
    "timeline_images",
    "video_start",
    "video_status",
    "original_photos",
)
"""Keys of ``Counters.api_requests_by_endpoint`` (and of ``Faults.api_fault_endpoints``)."""


@dataclass
class Faults:
    """Fault knobs, all off by default; mutable while the simulator runs.

    Rates are probabilities in [0, 1] drawn per request. ``*_fault_budget`` caps how many
    faults of that side are injected in total (``None`` = unlimited), which makes
    "fail the first N requests" tests deterministic with a rate of 1.0.

    Storage knobs that are not rates (``storage_bad_content_range``, ``storage_no_framing``,
    ``storage_content_encoding``, ``storage_declared_length``) apply to every answer they fit,
    also only to ``storage_fault_image_ids`` when set, and each injection also spends one
    unit of ``storage_fault_budget`` (without drawing from the RNG).
    """

    # API side
    api_latency_s: float = 0.0
    api_429_rate: float = 0.0
    api_retry_after_s: float | None = None
    """Retry-After value sent with injected 429s; ``None`` sends no header."""
    api_5xx_rate: float = 0.0
    api_5xx_status: int = 500
    api_fault_endpoints: set[str] | None = None
    """Restrict API faults (429/5xx) to these endpoint keys; ``None`` = every endpoint."""
    api_fault_budget: int | None = None
    api_shuffle_image_ids: bool = False
    """original-photos with method=image_ids answers its presigned_urls (and failed_urls) reversed."""
    # listings
    listing_repeat_page: int | None = None
    """A request for this page (>= 2) of All Photos, BIB search or paginated original-photos
    (bib/selfie) gets the items of the page before it, with page N's own pagination block."""
    listing_repeat_budget: int = 1
    """How many more times ``listing_repeat_page`` is injected (decremented per injection)."""
    listing_endless: bool = False
    """All Photos never ends: hasNextPage always true, totalPages = page + 1, pages past the
    real photos filled with image ids that exist nowhere (total stays the real count)."""
    # storage side
    storage_latency_s: float = 0.0
    storage_5xx_rate: float = 0.0
    storage_5xx_status: int = 503
    storage_cut_rate: float = 0.0
    """Close the connection after part of the body (the client sees a truncated body)."""
    storage_short_body_rate: float = 0.0
    """Send fewer bytes than Content-Length (all but the last few), then close."""
    storage_corrupt_rate: float = 0.0
    """Flip one byte of the body; the length stays right so only a checksum notices."""
    storage_ignore_range: bool = False
    """Answer Range requests with 200 and the whole body."""
    storage_bytes_per_s: float = 0.0
    """Throttle each object body to about this many bytes per second (0 = no limit; 1.0 works,
    in 1-byte steps), so a download can be caught mid-body (added for the reliability tests)."""
    storage_bad_content_range: Literal["wrong_total", "star"] | None = None
    """206 answers send half the remaining bytes and a Content-Range that agrees with that body
    but not with the object: ``bytes S-E'/E'+1`` ("wrong_total") or ``bytes S-E'/*`` ("star")."""
    storage_no_framing_cut_rate: float = 0.0
    """Answer 200 without Content-Length or chunking (close-delimited), send about half, close."""
    storage_no_framing: bool = False
    """Answer 200 without Content-Length or chunking: the whole body, then close the connection."""
    storage_content_encoding: str | None = None
    """Serve objects with this Content-Encoding ("gzip"/"deflate" compress; other tokens lie)."""
    storage_html_200_rate: float = 0.0
    """Answer 200 text/html with a small error page (captive portal / CDN) instead of the object."""
    storage_empty_200_rate: float = 0.0
    """Answer 200 with Content-Length: 0 and an empty body (ETag as usual)."""
    storage_declared_length: int | None = None
    """Announce this Content-Length on 200 answers (and HEAD), send the real bytes, then close."""
    storage_fault_image_ids: set[str] | None = None
    """Restrict storage faults to these image ids; ``None`` = every object."""
    storage_fault_budget: int | None = None
    storage_fault_times: dict[str, int | None] = field(default_factory=dict)
    """Image id -> how many more of its requests get the first enabled rate knob (rate > 0)
    whatever its rate (``None``: every request); other ids keep drawing at the rates. Forced
    faults draw nothing from the RNG and spend no budget: "fail these ids N times"."""
    # clock
    clock_skew_s: float = 0.0
    """Added to the simulator's clock when signing and checking URLs (advance it to expire URLs)."""
    seed: int = 0
    """Seed of the fault RNG; setting it restarts the random sequence."""

    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False, compare=False)
    _rng_seed: int | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "seed":
            object.__setattr__(self, "_rng_seed", None)
        object.__setattr__(self, name, value)

    def _random(self) -> float:
        if self._rng_seed != self.seed:
            self._rng.seed(self.seed)
            self._rng_seed = self.seed
        return self._rng.random()

    def randint(self, low: int, high: int) -> int:
        """A number in [low, high] from the fault RNG (where to cut, which byte to flip)."""
        if self._rng_seed != self.seed:
            self._rng.seed(self.seed)
            self._rng_seed = self.seed
        return self._rng.randint(low, high)

    def api_roll(self, rate: float, endpoint: str) -> bool:
        """Whether to inject an API fault of probability ``rate`` on ``endpoint`` (consumes budget)."""
        if rate <= 0.0 or self.api_fault_budget == 0:
            return False
        if self.api_fault_endpoints is not None and endpoint not in self.api_fault_endpoints:
            return False
        if self._random() >= rate:
            return False
        if self.api_fault_budget is not None:
            self.api_fault_budget -= 1
        return True

    def storage_roll(self, rate: float, image_id: str) -> bool:
        """Whether to inject a storage fault of probability ``rate`` on ``image_id`` (consumes budget)."""
        if rate <= 0.0:
            return False
        if image_id in self.storage_fault_times:
            times = self.storage_fault_times[image_id]
            if times is None:
                return True
            if times > 0:
                self.storage_fault_times[image_id] = times - 1
                return True
        if self.storage_fault_budget == 0:
            return False
        if self.storage_fault_image_ids is not None and image_id not in self.storage_fault_image_ids:
            return False
        if self._random() >= rate:
            return False
        if self.storage_fault_budget is not None:
            self.storage_fault_budget -= 1
        return True

    def storage_hit(self, image_id: str) -> bool:
        """Whether a non-rate storage knob applies to ``image_id`` (consumes budget, draws nothing)."""
        if self.storage_fault_budget == 0:
            return False
        if self.storage_fault_image_ids is not None and image_id not in self.storage_fault_image_ids:
            return False
        if self.storage_fault_budget is not None:
            self.storage_fault_budget -= 1
        return True

    def now_s(self) -> float:
        """The simulator's clock: wall time plus ``clock_skew_s``."""
        return time.time() + self.clock_skew_s

    def clear(self) -> None:
        """Turn every fault off again (the seed and clock skew stay)."""
        defaults = Faults()
        for f in fields(self):
            if f.init and f.name not in ("seed", "clock_skew_s"):
                setattr(self, f.name, getattr(defaults, f.name))


def _zero_endpoints() -> dict[str, int]:
    return dict.fromkeys(API_ENDPOINTS, 0)


@dataclass
class Counters:
    """What the simulator served; plain ints and dicts, reset with :meth:`reset`."""

    api_requests: int = 0
    api_requests_by_endpoint: dict[str, int] = field(default_factory=_zero_endpoints)
    api_requests_without_key: int = 0
    api_responses_by_status: dict[int, int] = field(default_factory=dict)
    original_photos_by_method: dict[str, int] = field(default_factory=dict)
    responses_429: int = 0
    responses_5xx: int = 0
    face_matching_runs: int = 0
    """Face Search POSTs that ran matching (cached request_ids do not)."""
    video_jobs_started: int = 0
    storage_requests: int = 0
    storage_bytes_served: int = 0
    storage_bytes_by_image: dict[str, int] = field(default_factory=dict)
    storage_requests_by_image: dict[str, int] = field(default_factory=dict)
    storage_expired: int = 0
    storage_bad_signature: int = 0
    storage_not_found: int = 0
    storage_ranged: int = 0
    storage_requests_with_api_key: int = 0
    storage_5xx: int = 0
    storage_cut: int = 0
    storage_short_body: int = 0
    storage_corrupted: int = 0
    storage_range_ignored: int = 0
    storage_client_aborted: int = 0
    """Downloads the client abandoned mid-body."""
    storage_if_range_requests: int = 0
    """Object requests that carried an If-Range header."""
    storage_if_range_mismatch: int = 0
    """Ranged requests whose If-Range did not match, answered 200 with the whole object."""
    storage_bad_content_range: int = 0
    storage_no_framing: int = 0
    """Close-delimited answers (complete or cut)."""
    storage_no_framing_cut: int = 0
    storage_content_encoded: int = 0
    storage_html_200: int = 0
    storage_empty_200: int = 0
    storage_declared_length: int = 0
    objects_replaced: int = 0
    api_shuffled_image_ids: int = 0
    listing_pages_repeated: int = 0
    listing_endless_images: int = 0
    """Made-up image ids handed out by ``listing_endless``."""

    def reset(self) -> None:
        """Zero every counter."""
        fresh = Counters()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))
