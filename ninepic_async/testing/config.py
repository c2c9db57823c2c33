"""Fixed-per-run configuration of the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .faults import Faults

__all__ = ["FEATURE_FLAGS", "SimulatorConfig"]

FEATURE_FLAGS: tuple[str, ...] = (
    "event_enabled",
    "bib_search",
    "selfie_search",
    "name_search",
    "video_search",
    "video_selfie_search",
    "timeline_search",
)
"""Flag names of Event Details; any of them may be listed in ``SimulatorConfig.disabled_features``."""


@dataclass
class SimulatorConfig:
    """Everything about a simulator run that does not change while it runs.

    The defaults make a small event (120 photos of 2-20 KB) suitable for unit tests.
    """

    photo_count: int = 120
    photo_size: int | tuple[int, int] = (2_000, 20_000)
    """Bytes per photo: a fixed size or an inclusive (min, max) range."""
    seed: int = 1
    url_lifetime_s: float = 3600.0
    """X-Amz-Expires of presigned URLs."""
    bib_count: int | None = None
    """Distinct BIB numbers in the event; ``None`` picks about one per 6 photos."""
    missing_count: int = 0
    """Photos listed by the API whose objects are missing from storage (failed_urls)."""
    missing_ratio: float = 0.0
    """Same as ``missing_count`` as a share of photo_count; the larger of the two wins."""
    untimed_ratio: float = 0.05
    """Share of photos without a capture timestamp (listed last)."""
    hostile_filenames: bool = False
    """Give some photos filenames like ``../../x.jpg``, ``CON``, NUL bytes, duplicates."""
    disabled_features: frozenset[str] = frozenset()
    """Event Details flags (see FEATURE_FLAGS) that are false; their endpoints answer 403."""
    etag_style: Literal["md5", "multipart"] = "md5"
    storage_key_layout: Literal["id", "shared_basenames", "opaque"] = "id"
    """Object keys: ``large/{image_id}.jpg`` ("id"), ``large/{a|b}/IMG_{index // 2:04d}.jpg`` with
    that basename as the API filename ("shared_basenames"), or ``large/{keyed hash}.jpg`` ("opaque")."""
    legacy_flat: bool = False
    """Old deployments: success bodies without the envelope and misspelled image fields."""
    expired_error_code: Literal["AccessDenied", "ExpiredRequest"] = "AccessDenied"
    api_key: str = "sim-key-5f0c9e2d7a41b38e"
    org_id: int = 903
    event_id: int = 456
    extra_events: int = 3
    """Small events listed beside the big one (each on its own date, with its own name)."""
    extra_event_photos: int = 4
    """Photos in each extra event but the first, which has none yet (same ``photo_size``)."""
    video_polls_to_complete: int = 2
    """Status polls after which a video job is completed (first poll: queued, then processing)."""
    video_complete_after_s: float | None = None
    """If set, a video job completes this many seconds after it started (instead of polls)."""
    video_outcome: Literal["completed", "failed"] = "completed"
    unknown_method_status: int = 422
    """Status for an original-photos ``method`` that is a string but not one of the four."""
    page_size_error_status: int = 422
    """Status for page/page_size out of range (FastAPI-style query validation)."""
    storage_chunk_size: int = 512 * 1024
    """Bytes written per step when streaming an object."""
    host: str = "127.0.0.1"
    port: int = 0
    """API port; 0 picks a free one."""
    storage_port: int = 0
    faults: Faults = field(default_factory=Faults)
    """Initial fault knobs (the running simulator exposes them as ``sim.faults``)."""

    def __post_init__(self) -> None:
        if self.photo_count < 0:
            raise ValueError("photo_count must be >= 0")
        if self.extra_events < 0 or self.extra_event_photos < 0:
            raise ValueError("extra_events and extra_event_photos must be >= 0")
        if isinstance(self.photo_size, tuple):
            low, high = self.photo_size
            if low < 0 or high < low:
                raise ValueError("photo_size must be (min, max) with 0 <= min <= max")
        elif self.photo_size < 0:
            raise ValueError("photo_size must be >= 0")
        if self.storage_key_layout not in ("id", "shared_basenames", "opaque"):
            raise ValueError(f"unknown storage_key_layout: {self.storage_key_layout!r}")
        unknown = set(self.disabled_features) - set(FEATURE_FLAGS)
        if unknown:
            raise ValueError(f"unknown feature flags: {sorted(unknown)}")
        self.disabled_features = frozenset(self.disabled_features)
