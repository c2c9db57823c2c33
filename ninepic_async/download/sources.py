"""Selections become a lazy stream of jobs: what to fetch, under which name, or why not.

A selection is exactly one of a BIB, a selfie ``request_id``, a list of image ids, or the
whole event. :func:`iter_source` pages the API only as fast as its consumer pulls (the
pool's bounded queue), and yields :class:`Job` (a URL to fetch), :class:`Skip` (already
complete in the destination) or :class:`ApiFailure` (the API gave no URL). Image ids from a
list or from All Photos are checked against the manifest *before* asking for URLs, so a
rerun of a finished download makes no original-photos calls for them at all.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

import anyio.to_thread

from .._constants import (
    DOWNLOAD_URL_BATCHES_AHEAD,
    IMAGES_PAGE_SIZE,
    LISTING_OVERRUN_IDS,
    PART_SUFFIX,
    URL_REFRESH_BATCH,
)
from .._exceptions import FileWriteError, RequestValidationError, redact
from ..models import ImagePage, PresignedUrl
from ._types import DownloadClient
from .digests import DIGEST_BYTES, DigestSet
from .files import make_folders
from .manifest import ManifestState, regular_file_size
from .names import NameAllocator, NameTemplate
from .shard import Shard
from .urls import Resolved, image_id_from_url, object_key, resolve_urls

__all__ = [
    "ApiFailure",
    "Job",
    "Listing",
    "Planner",
    "Selection",
    "Skip",
    "SourceItem",
    "UrlJob",
    "aclose",
    "iter_source",
    "iter_url_jobs",
    "make_selection",
]

logger = logging.getLogger(__name__)

_SKIP_BATCH = 512
"""Ids checked against the destination per thread call (a stat each) on a rerun."""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

SelectionKind = Literal["bib", "selfie", "image_ids", "whole_event"]


@dataclass(frozen=True, slots=True)
class UrlJob:
    """A pre-resolved download for :func:`download_url_list` (no API, no refresh)."""

    url: str
    filename: str | None = None
    image_id: str | None = None


@dataclass(slots=True)
class Job:
    """Fetch ``url`` into ``<dest>/<filename>``; ``refreshable`` when the API can renew the URL."""

    image_id: str
    url: str | None
    """None until the refresher provides one (a file found changed on a ``verify`` rerun)."""
    filename: str
    refreshable: bool = True
    server_filename: str | None = None
    """The name the server suggested (to pick another one if ``filename`` is taken on disk)."""
    owned: bool = False
    """``filename`` was recorded for this id by an earlier run: a file there is ours to replace."""
    bib: str | None = None
    """The BIB the photo was listed under (for a name template's ``{bib}``)."""


@dataclass(slots=True)
class Skip:
    """Already complete in the destination (manifest ok and the file has that size)."""

    image_id: str
    filename: str
    size_bytes: int
    from_part: bool = False
    """The earlier run recorded it ok but died before renaming ``<filename>.part``: rename it now."""
    url: str | None = None
    """The URL the listing gave, if any: used when ``verify`` finds the file changed."""
    refreshable: bool = True
    recheck: bool = False
    """Its file may not have reached the disk before a crash (no ``synced`` line covers it):
    re-hash it before trusting it."""


@dataclass(frozen=True, slots=True)
class ApiFailure:
    """The API listed the photo but gave no URL for it (failed_urls, or a batch it refused)."""

    image_id: str
    error: str
    path: str | None = None
    filename: str | None = None


SourceItem = Job | Skip | ApiFailure

Offload = Callable[[Callable[[], list[int | None]]], Awaitable[list[int | None]]]
"""Runs a blocking function off the event loop: ``await offload(fn)`` is ``fn()``'s result."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Exactly one way of choosing photos; ``value`` is the BIB (a tuple for several BIBs),
    the request id or the id tuple."""

    kind: SelectionKind
    value: str | tuple[str, ...] | None = None


def make_selection(
    *, bib: object = None, selfie: object = None, image_ids: object = None, whole_event: object = False
) -> Selection:
    """Validate the selection keywords; raises :class:`RequestValidationError` naming the problem."""
    given = [
        name
        for name, present in (
            ("bib", bib is not None),
            ("selfie", selfie is not None),
            ("image_ids", image_ids is not None),
            ("whole_event", whole_event is not False and whole_event is not None),
        )
        if present
    ]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise RequestValidationError(
            "selection", f"give exactly one of bib=, selfie=, image_ids= or whole_event=True (got {found})"
        )
    if bib is not None:
        return _bib_selection(bib)
    if selfie is not None:
        if not isinstance(selfie, str) or not selfie.strip():
            raise RequestValidationError(
                "selfie", f"must be a Face Search request_id (non-empty string); got {type(selfie).__name__}"
            )
        return Selection("selfie", selfie.strip())
    if image_ids is not None:
        if isinstance(image_ids, (str, bytes)) or not isinstance(image_ids, Iterable):
            raise RequestValidationError("image_ids", "must be a list of image id strings")
        ids: list[str] = []
        seen: set[str] = set()
        for index, item in enumerate(image_ids):
            if not isinstance(item, str) or not item.strip():
                raise RequestValidationError(
                    f"image_ids[{index}]", f"must be a non-empty string; got {item!r}"
                )
            item = item.strip()
            if item not in seen:
                seen.add(item)
                ids.append(item)
        if not ids:
            raise RequestValidationError("image_ids", "must not be empty")
        return Selection("image_ids", tuple(ids))
    if whole_event is not True:
        raise RequestValidationError("whole_event", f"must be True or False; got {whole_event!r}")
    return Selection("whole_event")


def _one_bib(field: str, bib: object) -> str:
    if isinstance(bib, int) and not isinstance(bib, bool):
        bib = str(bib)
    if not isinstance(bib, str) or not bib.strip():
        raise RequestValidationError(field, f"must be a non-empty string; got {bib!r}")
    return bib.strip()


def _bib_selection(bib: object) -> Selection:
    """One BIB (a string), or several (a list: each listed in turn, repeats dropped)."""
    if isinstance(bib, (str, int)):
        return Selection("bib", _one_bib("bib", bib))
    if not isinstance(bib, Iterable):
        raise RequestValidationError("bib", f"must be a BIB string or a list of them; got {bib!r}")
    bibs = tuple(dict.fromkeys(_one_bib(f"bib[{index}]", item) for index, item in enumerate(bib)))
    if not bibs:
        raise RequestValidationError("bib", "must not be an empty list")
    return Selection("bib", bibs[0] if len(bibs) == 1 else bibs)


@dataclass(slots=True)
class Listing:
    """What a selection announced and what its listing delivered: the run's accounting.

    ``announced``: photos the selection said it holds (listing total, requested ids), None if
    unknown. ``missing``: announced photos the listing never delivered, after one re-walk.
    """

    announced: int | None = None
    missing: int = 0


class Planner:
    """Decides per image id: skip it, or fetch it under which name (stable across runs)."""

    def __init__(
        self,
        dest: Path | None,
        state: ManifestState,
        template: NameTemplate | None = None,
        shard: Shard | None = None,
    ) -> None:
        self.dest = dest
        self.state = state
        self.shard = shard
        self.owned = 0
        """Distinct photos this run's shard owns among those listed so far (all without a shard)."""
        self.allocator = NameAllocator(template=template)
        self.on_claim: Callable[[str, str], None] | None = None
        """Called with ``(image_id, name)`` when a sharded run claims a fresh name on disk."""
        for image_id, name in state.names():
            self.allocator.reserve(image_id, name)
        self._seen = DigestSet()
        """Digests of the ids seen: 32 bytes per photo, not the id strings themselves."""
        self.offload: Offload = _to_thread
        """Where :meth:`skips` stats the files (a run gives its file threads)."""

    def first_time(self, image_id: str) -> bool:
        """True the first time an id comes by in this run (duplicates across pages are dropped)."""
        return self._seen.add(hashlib.blake2b(image_id.encode(), digest_size=DIGEST_BYTES).digest())

    def mine(self, image_id: str) -> bool:
        """Whether this run's shard owns the (first-time) photo ``image_id``; counts it if so."""
        if self.shard is not None and not self.shard.owns(image_id):
            return False
        self.owned += 1
        return True

    def _claim(self, name: str) -> bool:
        """For a sharded run: True when ``name`` is in use on disk, else claim it by creating its
        ``.part`` exclusively, so a shard running at once in another process never picks it."""
        assert self.dest is not None
        part = self.dest / (name + PART_SUFFIX)
        try:
            make_folders(str(self.dest), name)
        except FileWriteError:
            return False  # no usable folder: the fetch fails this photo alone, saying why
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644))
        except FileExistsError:
            return True
        except OSError:
            return True  # unusable (too long, a directory...): the next candidate
        if os.path.lexists(self.dest / name):
            os.unlink(part)
            return True
        return False

    async def skips(self, wanted: Sequence[tuple[str, str | None, bool]]) -> list[Skip | None]:
        """For each ``(image_id, url, refreshable)``: a :class:`Skip` when an earlier run saved the
        photo whole (its file, or a ``.part`` recorded ``ok`` that awaits its rename), else None.
        Only the ``lstat`` calls run off the event loop: the thread holds the GIL briefly."""
        dest = self.dest
        if dest is None or not wanted:
            return [None] * len(wanted)
        prefix = os.path.join(dest, "")
        recorded = [self.state.recorded_ok(image_id) for image_id, _url, _refreshable in wanted]
        files = [prefix + ok[0] for ok in recorded if ok is not None]
        sizes = iter(await self.offload(lambda: [regular_file_size(path) for path in files]))
        found: list[Skip | None] = [None] * len(wanted)
        absent: list[tuple[int, tuple[str, int]]] = []
        for n, ok in enumerate(recorded):
            if ok is None:
                continue
            size = next(sizes)
            if size == ok[1]:
                found[n] = self._skip(wanted[n], ok, from_part=False)
            elif size is None:
                absent.append((n, ok))  # killed between the ok line and the rename?
        if absent:
            parts = [prefix + ok[0] + PART_SUFFIX for _n, ok in absent]
            part_sizes = await self.offload(lambda: [regular_file_size(path) for path in parts])
            for (n, ok), size in zip(absent, part_sizes, strict=True):
                if size == ok[1]:
                    found[n] = self._skip(wanted[n], ok, from_part=True)
        return found

    def _skip(self, wanted: tuple[str, str | None, bool], ok: tuple[str, int], *, from_part: bool) -> Skip:
        image_id, url, refreshable = wanted
        recheck = not self.state.on_disk_for_sure(image_id)
        return Skip(
            image_id, ok[0], ok[1], from_part=from_part, url=url, refreshable=refreshable, recheck=recheck
        )

    def refetch(self, skip: Skip) -> Job:
        """A :class:`Job` for a photo whose file on disk turned out changed: same name, replaced."""
        return Job(skip.image_id, skip.url, skip.filename, skip.refreshable, None, owned=True)

    def job(
        self,
        image_id: str,
        url: str | None,
        server_filename: str | None,
        *,
        refreshable: bool = True,
        bib: str | None = None,
    ) -> Job:
        """A :class:`Job` for ``url`` under the id's recorded name, else a fresh unique one."""
        owned = self.allocator.name_of(image_id) is not None
        if owned or self.shard is None or self.dest is None:
            filename = self.allocator.allocate(image_id, server_filename, bib)
        else:
            filename = self.allocator.relocate(image_id, server_filename, self._claim, bib)
            if self.on_claim is not None:
                self.on_claim(image_id, filename)
        return Job(image_id, url, filename, refreshable, server_filename, owned, bib)

    def relocate(self, job: Job) -> str:
        """A new name for ``job`` because its name holds a file that is not ours (free on disk too)."""
        dest = self.dest
        assert dest is not None

        def occupied(name: str) -> bool:
            return os.path.lexists(dest / name) or os.path.lexists(dest / (name + PART_SUFFIX))

        return self.allocator.relocate(
            job.image_id, job.server_filename, occupied if self.shard is None else self._claim, job.bib
        )

    def failure(self, image_id: str, error: str | None, path: str | None = None) -> ApiFailure:
        """An :class:`ApiFailure` for an id the API gave no URL for; ``error`` is redacted."""
        return ApiFailure(
            image_id, redact(error or "URL could not be generated"), path, self.allocator.name_of(image_id)
        )


async def _to_thread(fn: Callable[[], list[int | None]]) -> list[int | None]:
    return await anyio.to_thread.run_sync(fn)


def _id_for(item: PresignedUrl) -> str:
    """The image id a URL item names: the URL's stem, else the filename's, else a hash of the path."""
    found = image_id_from_url(item.url)
    if found:
        return found
    if item.filename:
        stem = PurePosixPath(item.filename.replace("\\", "/")).stem
        if stem and stem not in (".", ".."):
            return stem
    return hashlib.sha1(item.url.split("?", 1)[0].encode(), usedforsecurity=False).hexdigest()[:32]


class _UrlIdentities:
    """Image ids of listed URLs, one per object KEY: a second key with the same stem as an
    earlier one (``a/IMG_1.jpg``, ``b/IMG_1.jpg``) is a second photo, identified by its key."""

    def __init__(self) -> None:
        self._key_of: dict[str, str] = {}

    def of(self, item: PresignedUrl) -> tuple[str, str, bool]:
        """``(key, image_id, refreshable)``: refreshable when the id has the shape of the API's
        image ids (UUIDs), so an ``image_ids`` call can renew its URL."""
        key = object_key(item.url)
        image_id = _id_for(item)
        owner = self._key_of.setdefault(image_id, key)
        if owner == key:
            return key, image_id, _UUID.fullmatch(image_id) is not None
        return key, key, False


async def aclose(iterator: object) -> None:
    """Close ``iterator`` when it can be closed (an async generator: its ``finally`` runs now)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


T = TypeVar("T")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Done-callback: mark a look-ahead task's outcome as seen (no "never retrieved" log)."""
    if not task.cancelled():
        task.exception()


def _ahead(awaitable: Awaitable[T]) -> asyncio.Future[T]:
    """Start ``awaitable`` now, as a look-ahead task of the current generator."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(_retrieve)
    return task


async def _drop(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel look-ahead tasks and wait until they are gone."""
    waiting = [t for t in tasks if not t.done()]
    for task in waiting:
        task.cancel()
    if waiting:
        await asyncio.wait(waiting)


def _plan_batch(ids: list[str], resolved: dict[str, Resolved], planner: Planner) -> list[SourceItem]:
    """Jobs and failures for one resolved batch (in id order, so names are allocated stably)."""
    items: list[SourceItem] = []
    for image_id in ids:
        found = resolved[image_id]
        if found.item is not None:
            items.append(planner.job(image_id, found.item.url, found.item.filename))
        else:
            items.append(planner.failure(image_id, found.error, found.path))
    return items


async def _by_ids(
    client: DownloadClient, event_id: int, ids: AsyncIterator[list[str]], planner: Planner
) -> AsyncIterator[SourceItem]:
    # Up to DOWNLOAD_URL_BATCHES_AHEAD original-photos requests run while earlier jobs download
    # (bounded, so URLs are not fetched long before use); results are planned in batch order.
    batch: list[str] = []
    pending: collections.deque[tuple[list[str], asyncio.Future[dict[str, Resolved]]]]
    pending = collections.deque()
    try:
        async for chunk in ids:
            skips = await planner.skips([(image_id, None, True) for image_id in chunk])
            for image_id, done in zip(chunk, skips, strict=True):
                if done is not None:
                    yield done
                    continue
                batch.append(image_id)
                if len(batch) >= URL_REFRESH_BATCH:
                    pending.append((batch, _ahead(resolve_urls(client, event_id, batch))))
                    batch = []
                    while pending and (pending[0][1].done() or len(pending) > DOWNLOAD_URL_BATCHES_AHEAD):
                        head, task = pending.popleft()
                        for item in _plan_batch(head, await task, planner):
                            yield item
        if batch:
            pending.append((batch, _ahead(resolve_urls(client, event_id, batch))))
        while pending:
            head, task = pending.popleft()
            for item in _plan_batch(head, await task, planner):
                yield item
    finally:
        await _drop(task for _, task in pending)
        await aclose(ids)


async def _listed_ids(ids: tuple[str, ...], planner: Planner) -> AsyncIterator[list[str]]:
    """The listed ids this run's shard owns, in batches of ``_SKIP_BATCH`` (duplicates dropped)."""
    for start in range(0, len(ids), _SKIP_BATCH):
        chunk = [i for i in ids[start : start + _SKIP_BATCH] if planner.first_time(i) and planner.mine(i)]
        if chunk:
            yield chunk


def _short(listing: Listing, delivered: int) -> int:
    """How many announced photos a walk of the listing did not deliver."""
    return max(0, (listing.announced or 0) - delivered)


def _walk_complete(
    listing: Listing, delivered: int, on_total: Callable[[int | None], Any], what: str, *, last: bool
) -> bool:
    """After a walk of a listing that delivered ``delivered`` distinct photos: whether it is done
    (nothing announced is missing, or this was the ``last`` walk: then ``listing.missing`` says
    how many never came)."""
    if listing.announced is None:
        listing.announced = delivered
        on_total(delivered)
    short = _short(listing, delivered)
    if not short:
        return True
    if last:
        listing.missing = short
        logger.warning("%d announced photos never appeared in %s, even on a second walk", short, what)
    else:
        logger.warning(
            "%s delivered %d of the %d photos it announced; walking it again",
            what,
            delivered,
            listing.announced,
        )
    return last


def _overrun(listing: Listing, delivered: int) -> bool:
    """Whether a listing delivered so many more photos than announced that it must be endless."""
    return listing.announced is not None and delivered > listing.announced + LISTING_OVERRUN_IDS


async def _event_ids(
    client: DownloadClient,
    event_id: int,
    planner: Planner,
    listing: Listing,
    on_total: Callable[[int | None], Any],
) -> AsyncIterator[list[str]]:
    """The event's distinct image ids from All Photos, a page at a time; walked a second time if
    it came up short."""
    delivered = 0
    for walk in range(2):
        pages = client.all_photos(event_id, page_size=IMAGES_PAGE_SIZE[1]).pages()

        async def next_page(pages: Any = pages) -> ImagePage | None:
            try:
                page: ImagePage = await pages.__anext__()
            except StopAsyncIteration:
                return None
            return page

        ahead: asyncio.Future[ImagePage | None] | None = None
        try:
            ahead = _ahead(next_page())
            while True:
                page = await ahead
                ahead = None
                if page is None:
                    break
                ahead = _ahead(next_page())  # the next listing page loads while this one is used
                if walk == 0 and listing.announced is None:
                    listing.announced = page.pagination.total if page.pagination is not None else None
                    on_total(listing.announced)
                fresh: list[str] = []
                for image in page.images:
                    if planner.first_time(image.image_id):
                        delivered += 1
                        if planner.mine(image.image_id):
                            fresh.append(image.image_id)
                if fresh:
                    yield fresh
                if _overrun(listing, delivered):
                    logger.warning(
                        "the listing of event %s goes on past the %s photos it announced; stopped it",
                        event_id,
                        listing.announced,
                    )
                    return
        finally:
            if ahead is not None:
                await _drop([ahead])
            await aclose(pages)
        if _walk_complete(listing, delivered, on_total, f"the listing of event {event_id}", last=walk == 1):
            return


async def _by_method(
    client: DownloadClient,
    event_id: int,
    method: str,
    identifier: str,
    planner: Planner,
    listing: Listing,
    on_total: Callable[[int | None], Any],
    first_time: Callable[[str], bool] | None = None,
) -> AsyncIterator[SourceItem]:
    """A BIB or selfie selection: its original-photos pages (walked again if they came up short).

    With ``first_time`` (one listing of several, see :func:`_by_bibs`) this listing's photos
    are counted against its own announcement, and only those no earlier listing gave are yielded.
    """
    identities = _UrlIdentities()
    bib = identifier if method == "bib" else None
    own = first_time or planner.first_time
    shared = first_time is not None
    delivered = 0
    for walk in range(2):
        pages = client.iter_original_photos(event_id, method, identifier, page_size=URL_REFRESH_BATCH)
        try:
            async for page in pages:
                if walk == 0 and listing.announced is None:
                    total = page.total_images
                    if total is None and page.pagination is not None:
                        total = page.pagination.total
                    listing.announced = total
                    on_total(total)
                fresh: list[tuple[str, PresignedUrl, bool]] = []
                for item in page.presigned_urls:
                    key, image_id, refreshable = identities.of(item)
                    if not own(key):
                        continue
                    delivered += 1
                    if shared and not planner.first_time(key):
                        continue  # an earlier listing of the selection gave it
                    if not planner.mine(image_id):
                        continue
                    fresh.append((image_id, item, refreshable))
                skips = await planner.skips([(i, item.url, r) for i, item, r in fresh])
                for (image_id, item, refreshable), done in zip(fresh, skips, strict=True):
                    yield done or planner.job(
                        image_id, item.url, item.filename, refreshable=refreshable, bib=bib
                    )
                for entry in page.failed_urls:
                    failed_key = entry.path or entry.image_id
                    if own(failed_key):
                        delivered += 1
                        if (not shared or planner.first_time(failed_key)) and planner.mine(entry.image_id):
                            yield planner.failure(entry.image_id, entry.error, entry.path)
                if _overrun(listing, delivered):
                    logger.warning("the %s listing goes on past the photos it announced; stopped it", method)
                    return
        finally:
            await aclose(pages)
        if _walk_complete(listing, delivered, on_total, f"the {method} listing", last=walk == 1):
            return


class _FirstSeen:
    """A "first time this key comes by" test of its own (32-byte digests, not the keys)."""

    def __init__(self) -> None:
        self._seen = DigestSet()

    def __call__(self, key: str) -> bool:
        return self._seen.add(hashlib.blake2b(key.encode(), digest_size=DIGEST_BYTES).digest())


async def _by_bibs(
    client: DownloadClient,
    event_id: int,
    bibs: tuple[str, ...],
    planner: Planner,
    listing: Listing,
    on_total: Callable[[int | None], Any],
) -> AsyncIterator[SourceItem]:
    """Several BIBs: each one's listing in turn, a photo of two BIBs fetched once (for the first).

    The total is re-announced as each BIB's listing announces itself (photos given so far plus
    that BIB's total: shared photos are counted twice until the end, when it is exact);
    ``listing`` ends with the distinct photos plus those missing.
    """
    given = 0
    missing = 0
    for bib in bibs:
        sub = Listing()
        before = given

        def sub_total(total: int | None, before: int = before) -> None:
            on_total(before + (total or 0))

        listed = _by_method(client, event_id, "bib", bib, planner, sub, sub_total, _FirstSeen())
        try:
            async for item in listed:
                given += 1
                yield item
        finally:
            await aclose(listed)
        missing += sub.missing
    listing.missing = missing
    listing.announced = given + missing
    on_total(listing.announced)


async def iter_source(
    client: DownloadClient,
    event_id: int,
    selection: Selection,
    planner: Planner,
    on_total: Callable[[int | None], Any] = lambda total: None,
    listing: Listing | None = None,
) -> AsyncIterator[SourceItem]:
    """Every photo of ``selection`` as a Job, Skip or ApiFailure, fetched lazily page by page.

    ``listing`` receives what the selection announced and how many photos it never delivered.
    """
    listing = listing if listing is not None else Listing()
    if selection.kind == "bib" and isinstance(selection.value, tuple):
        source = _by_bibs(client, event_id, selection.value, planner, listing, on_total)
    elif selection.kind in ("bib", "selfie"):
        assert isinstance(selection.value, str)
        source = _by_method(client, event_id, selection.kind, selection.value, planner, listing, on_total)
    elif selection.kind == "image_ids":
        assert isinstance(selection.value, tuple)
        listing.announced = len(selection.value)
        on_total(len(selection.value))
        source = _by_ids(client, event_id, _listed_ids(selection.value, planner), planner)
    else:
        source = _by_ids(client, event_id, _event_ids(client, event_id, planner, listing, on_total), planner)
    try:
        async for item in source:
            yield item
    finally:
        await aclose(source)


async def iter_url_jobs(jobs: Iterable[UrlJob], planner: Planner) -> AsyncIterator[SourceItem]:
    """Pre-resolved URL jobs as source items (skips what the manifest says is complete)."""
    fresh: list[tuple[str, UrlJob]] = []
    for url_job in jobs:
        image_id = url_job.image_id or _id_for(PresignedUrl(url=url_job.url, filename=url_job.filename))
        if planner.first_time(image_id) and planner.mine(image_id):
            fresh.append((image_id, url_job))
        if len(fresh) >= _SKIP_BATCH:
            for item in await _url_items(fresh, planner):
                yield item
            fresh = []
    for item in await _url_items(fresh, planner):
        yield item


async def _url_items(fresh: list[tuple[str, UrlJob]], planner: Planner) -> list[SourceItem]:
    skips = await planner.skips([(image_id, url_job.url, False) for image_id, url_job in fresh])
    items: list[SourceItem] = []
    for (image_id, url_job), done in zip(fresh, skips, strict=True):
        filename = url_job.filename
        if filename is None:
            filename = os.path.basename(url_job.url.split("?", 1)[0]) or None
        items.append(done or planner.job(image_id, url_job.url, filename, refreshable=False))
    return items
