"""State shared by the API app and the storage app of one simulator run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .config import FEATURE_FLAGS, SimulatorConfig
from .faults import Counters, Faults
from .signing import Signer
from .world import World

__all__ = ["EventMeta", "SimState", "VideoJob"]


@dataclass
class EventMeta:
    """One event of the organisation: metadata, feature flags and its photos."""

    event_id: int
    name: str
    slug: str
    date: str
    status: str
    flags: dict[str, bool]
    world: World


@dataclass
class VideoJob:
    """A video clipping job; its status advances with polls or time."""

    request_id: str
    started_s: float
    polls: int = 0


@dataclass
class SimState:
    """Everything the two apps share: config, events, knobs, counters, signer, jobs."""

    config: SimulatorConfig
    faults: Faults
    counters: Counters = field(default_factory=Counters)
    storage_url: str = ""
    events: dict[int, EventMeta] = field(default_factory=dict)
    video_jobs: dict[tuple[int, str], VideoJob] = field(default_factory=dict)
    request_seq: int = 0
    signer: Signer = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.signer = Signer(hashlib.sha256(f"ninepic-sim-secret:{cfg.seed}".encode()).digest())
        missing = max(cfg.missing_count, round(cfg.photo_count * cfg.missing_ratio))
        main = World(
            seed=cfg.seed,
            event_id=cfg.event_id,
            photo_count=cfg.photo_count,
            photo_size=cfg.photo_size,
            bib_count=cfg.bib_count,
            missing_count=missing,
            untimed_ratio=cfg.untimed_ratio,
            hostile_filenames=cfg.hostile_filenames,
        )
        flags = {name: name not in cfg.disabled_features for name in FEATURE_FLAGS}
        self.events[cfg.event_id] = EventMeta(
            cfg.event_id,
            f"Simulated City Marathon {main.event_date[:4]}",
            f"simulated-city-marathon-{main.event_date[:4]}",
            main.event_date,
            "published",
            flags,
            main,
        )
        for n in range(cfg.extra_events):
            event_id = cfg.event_id + 1 + n
            world = World(seed=cfg.seed, event_id=event_id, photo_count=0)
            self.events[event_id] = EventMeta(
                event_id,
                f"Simulated Fun Run {n + 1}",
                f"simulated-fun-run-{n + 1}",
                world.event_date,
                "draft" if n % 2 else "published",
                dict.fromkeys(FEATURE_FLAGS, True),
                world,
            )

    @property
    def world(self) -> World:
        """The big event's world."""
        return self.events[self.config.event_id].world

    def object_path(self, event_id: int, image_id: str) -> str:
        """The object key of an original, as failed_urls reports it."""
        return f"imgs/{event_id}/large/{image_id}.jpg"

    def presign(self, event_id: int, image_id: str, lifetime_s: float | None = None) -> str:
        """A presigned storage URL of an original, signed now (simulator clock)."""
        lifetime = self.config.url_lifetime_s if lifetime_s is None else lifetime_s
        return self.signer.presign(
            self.storage_url,
            "/raw-memories/" + self.object_path(event_id, image_id),
            lifetime_s=lifetime,
            now_s=self.faults.now_s(),
        )
