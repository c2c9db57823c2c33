"""The run's job queue: a bounded stream of jobs for the workers, and the index of what waits in it.

The producer :meth:`~JobQueue.put`\\ s jobs (waiting while the queue is full: back-pressure
on the API paging), workers :meth:`~JobQueue.get` them. The index of waiting jobs is the
queue's own: the URL refresher asks it which waiting jobs expire by a time
(:meth:`~JobQueue.expiring_by`) and hands renewed URLs back through :meth:`~JobQueue.renew`,
so a page of URLs that went stale while queued is renewed in one call.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Generic, Protocol, TypeVar

import anyio

from .urls import parse_url_expiry

__all__ = ["JobQueue", "Queued"]


class Queued(Protocol):
    """What the queue needs of a job: its id and its (renewable) URL."""

    image_id: str
    url: str | None


J = TypeVar("J", bound=Queued)


class JobQueue(Generic[J]):
    """A bounded FIFO of jobs (``size`` waiting at most) with an index by image id."""

    def __init__(self, size: int) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[J](size)
        self._waiting: dict[str, J] = {}

    async def put(self, job: J) -> None:
        """Queue ``job``, waiting for room (no loop turn per job while there is room)."""
        self._waiting[job.image_id] = job
        try:
            self._send.send_nowait(job)
        except anyio.WouldBlock:
            await self._send.send(job)

    def close_input(self) -> None:
        """No more jobs: workers drain what is queued, then :meth:`get` returns None."""
        self._send.close()

    async def get(self) -> J | None:
        """The next job, or None once the input is closed and the queue is empty."""
        try:
            job = self._receive.receive_nowait()  # the download itself yields to the loop
        except anyio.WouldBlock:
            try:
                job = await self._receive.receive()
            except anyio.EndOfStream:
                return None
        except anyio.EndOfStream:
            return None
        self._waiting.pop(job.image_id, None)
        return job

    def close(self) -> None:
        """Release both ends (the run is over)."""
        self._send.close()
        self._receive.close()
        self._waiting.clear()

    def expiring_by(self, horizon_s: float, limit: int, exclude: Container[str]) -> list[J]:
        """Up to ``limit`` waiting jobs whose URLs expire by ``horizon_s`` (Unix seconds)."""
        found: list[J] = []
        for image_id, job in self._waiting.items():
            if len(found) >= limit:
                break
            if image_id in exclude or job.url is None:
                continue
            expiry = parse_url_expiry(job.url)
            if expiry is not None and expiry.expires_at_s <= horizon_s:
                found.append(job)
        return found

    def renew(self, job: J, url: str) -> None:
        """Give a waiting (or just taken) job the fresh ``url`` the refresher obtained for it."""
        job.url = url
