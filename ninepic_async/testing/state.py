"""State shared by the API app and the storage app of one simulator run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .config import FEATURE_FLAGS, SimulatorConfig
from .faults import Counters, Faults
from .signing import Signer
from .world import World

__all__ = ["HOSTILE_EVENT_NAMES", "EventMeta", "SimState", "VideoJob"]

HOSTILE_EVENT_NAMES: tuple[str, ...] = ("../../escape", "/etc", "", "CON", "a/../b\\c", "..")
"""Names and slugs of the extra events when ``hostile_filenames`` is on (folder-name tests)."""


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
    closing: bool = False
    """Set while the simulator shuts down: throttled bodies stop instead of finishing."""
    signer: Signer = field(init=False)
    _opaque_key: bytes = field(init=False, repr=False)
    _opaque_names: dict[int, dict[str, int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.signer = Signer(hashlib.sha256(f"ninepic-sim-secret:{cfg.seed}".encode()).digest())
        self._opaque_key = hashlib.sha256(f"ninepic-sim-keys:{cfg.seed}".encode()).digest()
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
            shared_basenames=cfg.storage_key_layout == "shared_basenames",
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
            world = World(
                seed=cfg.seed,
                event_id=event_id,
                photo_count=0 if n == 0 else cfg.extra_event_photos,  # the first: no photos yet
                photo_size=cfg.photo_size,
                hostile_filenames=cfg.hostile_filenames,
            )
            name, slug = f"Simulated Fun Run {n + 1}", f"simulated-fun-run-{n + 1}"
            if cfg.hostile_filenames:
                name = slug = HOSTILE_EVENT_NAMES[n % len(HOSTILE_EVENT_NAMES)]
            self.events[event_id] = EventMeta(
                event_id,
                name,
                slug,
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
        """The object key of an original, as failed_urls reports it (per ``storage_key_layout``).

        Ids that are no photo of the event get the "id" layout's key (storage answers 404).
        """
        return f"imgs/{event_id}/large/{self.object_name(event_id, image_id)}"

    def object_name(self, event_id: int, image_id: str) -> str:
        """The part of an original's key after ``large/``."""
        layout = self.config.storage_key_layout
        if layout == "opaque":
            return self._opaque_name(event_id, image_id) + ".jpg"
        if layout == "shared_basenames":
            event = self.events.get(event_id)
            index = event.world.index_of(image_id) if event is not None else None
            if index is not None:
                return f"{'ab'[index % 2]}/IMG_{index // 2:04d}.jpg"
        return f"{image_id}.jpg"

    def _opaque_name(self, event_id: int, image_id: str) -> str:
        label = f"{event_id}:{image_id}".encode()
        return hashlib.blake2b(label, key=self._opaque_key, digest_size=8).hexdigest()

    def resolve_object(self, event_id: int, name: str) -> int | None:
        """Gallery position of the photo whose key ends in ``large/{name}``; None if there is none."""
        event = self.events.get(event_id)
        if event is None:
            return None
        world = event.world
        layout = self.config.storage_key_layout
        if layout == "id":
            return world.index_of(name[:-4]) if name.endswith(".jpg") else None
        if layout == "opaque":
            names = self._opaque_names.get(event_id)
            if names is None:  # built on first use: one keyed hash per photo
                names = self._opaque_names[event_id] = {
                    self._opaque_name(event_id, world.image_id_at(i)) + ".jpg": i
                    for i in range(world.photo_count)
                }
            return names.get(name)
        folder, slash, base = name.partition("/")
        if not slash or folder not in ("a", "b") or not base.startswith("IMG_") or not base.endswith(".jpg"):
            return None
        digits = base[4:-4]
        if not digits.isascii() or not digits.isdigit():
            return None
        index = int(digits) * 2 + (folder == "b")
        if index >= world.photo_count or name != f"{folder}/IMG_{index // 2:04d}.jpg":
            return None
        return index

    def replace_object(self, image_id: str) -> None:
        """Replace the original of ``image_id`` (any event) with new bytes of the same size.

        Its content, MD5 and multipart ETag change (World.content()/md5() follow); calling it
        again replaces it again. KeyError if no event has that photo.
        """
        for event in self.events.values():
            index = event.world.index_of(image_id)
            if index is not None:
                event.world.replace_at(index)
                self.counters.objects_replaced += 1
                return
        raise KeyError(image_id)

    def presign(self, event_id: int, image_id: str, lifetime_s: float | None = None) -> str:
        """A presigned storage URL of an original, signed now (simulator clock)."""
        lifetime = self.config.url_lifetime_s if lifetime_s is None else lifetime_s
        return self.signer.presign(
            self.storage_url,
            "/raw-memories/" + self.object_path(event_id, image_id),
            lifetime_s=lifetime,
            now_s=self.faults.now_s(),
        )
