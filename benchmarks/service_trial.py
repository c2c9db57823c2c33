#!/usr/bin/env python3
"""The service trial: one shared client in an aiohttp service, driven hard, on uvloop and asyncio.

    python -X dev -W error benchmarks/service_trial.py service --loop uvloop
    python -X dev -W error benchmarks/service_trial.py errors --loop asyncio
    python -X dev -W error benchmarks/service_trial.py ping429 --loop uvloop
    python -X dev -W error benchmarks/service_trial.py small-part --loop asyncio

``service``: the README's service (one ``NinePicClient``, background jobs with a
``DownloadMonitor`` each, OpenTelemetry on an in-memory exporter) gets 200 concurrent requests:
90 jobs started (at most 40 downloads at once), 50 of them cancelled at random points, the rest
status and metrics reads. Then every destination is checked, rerun to completion and checked
again; the client's and the monitors' counters are compared with the simulator's and the files';
spans and log records are searched for the key and presigned queries; peak threads and RSS,
cancel latency, leaked tasks, sessions, threads and unraisable errors are reported.
``errors``: what a caller sees when a thread cannot start, an ``on_event`` callback raises, the
client is used from a second event loop, the destination is locked by another run.
``ping429``: a ping through ``with_options(deadline_s=2, respect_shared_pause=False)`` beside a
download a ``Retry-After: 8`` 429 paused. ``small-part``: a photo under 1 MiB cancelled halfway
keeps its ``.part`` and the rerun resumes it by Range. The simulator runs in a child process
(``sim``, this script's own mode, so faults the command line lacks can be set). One JSON line each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import psutil
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ninepic_async import NinePicClient, NinePicError
from ninepic_async.download import (
    BytesReceived,
    DownloadEvent,
    DownloadMonitor,
    DownloadReport,
    check_destination,
)
from ninepic_async.otel import instrument
from ninepic_async.testing.standalone import build_arg_parser, config_from_args, describe

T = TypeVar("T")
JOBS = 90
CANCELS = 50
AT_ONCE = 40
REQUESTS = 200


def run_on(loop_name: str, main: Awaitable[T]) -> T:
    """``main`` on a new uvloop or asyncio loop, in debug mode as ``-X dev`` sets it."""
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(main)  # type: ignore[arg-type]
    return asyncio.run(main)  # type: ignore[arg-type]


# --- the simulator in a child process ---------------------------------------------------------


def serve_sim(argv: list[str]) -> None:
    """This script's ``sim`` mode: the standalone simulator with extra faults (JSON), printing its
    counters as one JSON line when stopped."""
    parser = build_arg_parser()
    parser.add_argument("--faults-json", default="{}")
    ns = parser.parse_args(argv)
    config = config_from_args(ns)
    for name, value in json.loads(ns.faults_json).items():
        setattr(config.faults, name, set(value) if isinstance(value, list) else value)
    counters: dict[str, Any] = {}

    async def serve() -> None:
        from ninepic_async.testing import Simulator

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with Simulator(config) as sim:
            print("\n".join(describe(sim)), flush=True)
            await stop.wait()
            counters.update(api_requests=sim.counters.api_requests, responses_429=sim.counters.responses_429)

    asyncio.run(serve())
    print(json.dumps({"counters": counters}), flush=True)


@dataclass
class SimProcess:
    coords: dict[str, str]
    proc: subprocess.Popen[str]

    def client(self) -> NinePicClient:
        return NinePicClient(
            self.coords["api_key"], org_id=int(self.coords["org_id"]), base_url=self.coords["base_url"]
        )

    @property
    def event_id(self) -> int:
        return int(self.coords["event_id"])

    def stop(self) -> dict[str, Any]:
        """Stop it and return its counters."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("{"):
                return dict(json.loads(line)["counters"])
        return {}


def start_simulator(*args: str, faults: dict[str, Any] | None = None) -> SimProcess:
    command = [sys.executable, __file__, "sim", "--port", "0", *args]
    if faults:
        command += ["--faults-json", json.dumps(faults)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    sim = SimProcess({}, proc)
    assert proc.stdout is not None
    while "photos" not in sim.coords:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise RuntimeError("the simulator exited")
        key, _, value = line.strip().partition(": ")
        sim.coords[key] = value
    return sim


@contextlib.asynccontextmanager
async def simulator(*args: str, faults: dict[str, Any] | None = None) -> AsyncIterator[SimProcess]:
    """The simulator child, started and stopped in a thread (this script's own blocking work
    never counts as the library's)."""
    sim = await asyncio.to_thread(start_simulator, *args, faults=faults)
    try:
        yield sim
    finally:
        if sim.proc.poll() is None:
            sim.proc.kill()
            await asyncio.to_thread(sim.proc.wait)
        if sim.proc.stdout is not None:
            sim.proc.stdout.close()


# --- what the trial watches -------------------------------------------------------------------


class Records(logging.Handler):
    """Every record of the package loggers, as handed to handlers (after the redaction filter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Peaks:
    """Peak OS threads and RSS of this process, sampled every 10 ms, and how late each sample
    ran (the event loop's lag under the load)."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.threads = 0
        self.rss = 0
        self.lateness: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            self.threads = max(self.threads, self.me.num_threads())
            self.rss = max(self.rss, self.me.memory_info().rss)
            asked = loop.time()
            await asyncio.sleep(0.01)
            self.lateness.append(loop.time() - asked - 0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def unraisable_collector() -> list[str]:
    seen: list[str] = []

    def hook(info: Any) -> None:
        seen.append(f"{info.exc_type.__name__}: {info.exc_value} ({info.object!r})")

    sys.unraisablehook = hook
    return seen


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "n": len(values),
        "median_ms": round(values[len(values) // 2] * 1000, 1),
        "p95_ms": round(values[int(len(values) * 0.95)] * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1),
    }


# --- the service ------------------------------------------------------------------------------


@dataclass
class Job:
    task: asyncio.Task[DownloadReport]
    monitor: DownloadMonitor
    dest: Path


CLIENT = web.AppKey("client", NinePicClient)
JOB_TABLE = web.AppKey("jobs", dict)
ROOT = web.AppKey("root", Path)
SLOTS = web.AppKey("slots", asyncio.Semaphore)
CANCEL_LATENCY = web.AppKey("cancel_latency", list)


def make_app(sim: SimProcess, root: Path, provider: TracerProvider) -> web.Application:
    async def ninepic_client(app: web.Application) -> Any:
        client = sim.client()
        instrument(client, tracer_provider=provider)
        app[CLIENT], app[JOB_TABLE], app[ROOT] = client, {}, root
        app[SLOTS], app[CANCEL_LATENCY] = asyncio.Semaphore(AT_ONCE), []
        yield
        jobs: dict[str, Job] = app[JOB_TABLE]
        for job in jobs.values():
            job.task.cancel()
        await asyncio.gather(*(job.task for job in jobs.values()), return_exceptions=True)
        await client.close()

    async def run_job(app: web.Application, dest: Path, monitor: DownloadMonitor) -> DownloadReport:
        async with app[SLOTS]:
            return await app[CLIENT].download_originals(
                sim.event_id, dest, whole_event=True, concurrency=8, monitor=monitor
            )

    async def start_job(request: web.Request) -> web.Response:
        name = f"job{len(request.app[JOB_TABLE]):03d}"
        monitor = DownloadMonitor()
        dest = request.app[ROOT] / name
        task = asyncio.create_task(run_job(request.app, dest, monitor))
        request.app[JOB_TABLE][name] = Job(task, monitor, dest)
        return web.json_response({"job": name}, status=202)

    async def job_status(request: web.Request) -> web.Response:
        job: Job = request.app[JOB_TABLE][request.match_info["name"]]
        stats = job.monitor.snapshot()
        return web.json_response({"done": job.task.done(), "ok": stats.files_ok})

    async def cancel_job(request: web.Request) -> web.Response:
        job: Job = request.app[JOB_TABLE][request.match_info["name"]]
        started = time.perf_counter()
        job.task.cancel()
        await asyncio.gather(job.task, return_exceptions=True)
        request.app[CANCEL_LATENCY].append(time.perf_counter() - started)
        return web.json_response({"cancelled": job.task.cancelled()})

    async def metrics(request: web.Request) -> web.Response:
        api = request.app[CLIENT].stats
        return web.Response(text=f"ninepic_api_calls_total {api.calls}\n")

    app = web.Application()
    app.cleanup_ctx.append(ninepic_client)
    app.add_routes(
        [
            web.post("/jobs", start_job),
            web.get("/jobs/{name}", job_status),
            web.delete("/jobs/{name}", cancel_job),
            web.get("/metrics", metrics),
        ]
    )
    return app


async def drive(base: str, rng: random.Random) -> dict[str, Any]:
    """200 concurrent requests: 90 job starts (50 cancelled after a random 0-3 s), the rest reads."""
    started_jobs: list[str] = []
    async with aiohttp.ClientSession(base) as http:

        async def start_then_maybe_cancel(cancel: bool) -> None:
            async with http.post("/jobs") as answer:
                name = (await answer.json())["job"]
            started_jobs.append(name)
            if cancel:
                await asyncio.sleep(rng.uniform(0.0, 3.0))
                async with http.delete(f"/jobs/{name}") as answer:
                    await answer.read()

        async def read(n: int) -> None:
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            if n % 2 or not started_jobs:
                async with http.get("/metrics") as answer:
                    await answer.read()
            else:
                async with http.get(f"/jobs/{rng.choice(started_jobs)}") as answer:
                    await answer.read()

        cancels = set(rng.sample(range(JOBS), CANCELS))
        requests: list[Awaitable[None]] = [start_then_maybe_cancel(n in cancels) for n in range(JOBS)]
        requests += [read(n) for n in range(REQUESTS - JOBS)]
        outcomes = await asyncio.gather(*requests, return_exceptions=True)
    return {"driver_errors": [repr(o) for o in outcomes if isinstance(o, BaseException)]}


def _job_outcome(job: Job) -> str:
    if job.task.cancelled():
        return "cancelled"
    error = job.task.exception()
    if error is not None:
        return f"error:{type(error).__name__}"
    return "complete" if job.task.result().complete else "incomplete"


async def service_trial(args: argparse.Namespace) -> dict[str, Any]:
    unraisable = unraisable_collector()
    records = Records()
    package = logging.getLogger("ninepic_async")
    package.addHandler(records)
    package.setLevel(logging.DEBUG)
    asyncio_errors = Records()
    logging.getLogger("asyncio").addHandler(asyncio_errors)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    root = Path(tempfile.mkdtemp(prefix="service-trial-"))
    threads_before = threading.active_count()
    result: dict[str, Any] = {"measure": "service", "loop": args.loop}
    try:
        async with simulator(
            "--photos", "60", "--photo-size", "2000-900000", "--storage-bytes-per-s", str(args.rate)
        ) as sim:
            peaks = Peaks()
            peaks.start()
            app = make_app(sim, root, provider)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            t0 = time.perf_counter()
            result.update(await drive(f"http://{host}:{port}", random.Random(args.seed)))
            jobs: dict[str, Job] = app[JOB_TABLE]
            await asyncio.gather(*(job.task for job in jobs.values()), return_exceptions=True)
            result["service_s"] = round(time.perf_counter() - t0, 1)
            client: NinePicClient = app[CLIENT]
            outcomes: dict[str, int] = {}
            for job in jobs.values():
                outcomes[_job_outcome(job)] = outcomes.get(_job_outcome(job), 0) + 1
            result["jobs"] = outcomes
            result["cancel_latency"] = _ms(app[CANCEL_LATENCY])
            result["stats_mismatches"] = monitor_mismatches(jobs)
            result["check_after_service"] = await checks(jobs)
            await peaks.stop()
            result["threads_peak"] = peaks.threads
            result["rss_peak_mb"] = round(peaks.rss / 2**20)
            result["loop_lag"] = _ms(peaks.lateness)
            result["cpu_s"] = round(sum(psutil.Process().cpu_times()[:2]), 1)
            # the rerun: every destination finished by the same shared client
            reruns = await asyncio.gather(
                *(
                    client.download_originals(sim.event_id, job.dest, whole_event=True, concurrency=8)
                    for job in jobs.values()
                ),
                return_exceptions=True,
            )
            result["rerun_incomplete"] = [
                repr(r) if isinstance(r, BaseException) else r.failed
                for r in reruns
                if isinstance(r, BaseException) or not r.complete
            ]
            result["check_after_rerun"] = await checks(jobs)
            client_calls = client.stats.calls
            client_stats = client.stats
            await runner.cleanup()
            counters = await asyncio.to_thread(sim.stop)
        result["api_calls_client"] = client_calls
        result["api_requests_simulator"] = counters.get("api_requests")
        result["client_stats"] = {
            "calls_ok": client_stats.calls_ok,
            "calls_failed": client_stats.calls_failed,
            "in_flight": client_stats.calls_in_flight,
            "retries": dict(client_stats.retries),
        }
        await asyncio.sleep(0.5)  # file threads end with the runs, after a short linger
        gc.collect()
        result["leaked_tasks"] = [
            repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
        ]
        result["open_sessions"] = sum(
            1 for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed
        )
        result["threads_before_after"] = [threads_before, threading.active_count()]
        result["thread_names_after"] = sorted(
            t.name for t in threading.enumerate() if t is not threading.main_thread()
        )
        result["unraisable"] = unraisable
        result["asyncio_log_errors"] = [
            r.getMessage()[:300] for r in asyncio_errors.records if r.levelno >= logging.ERROR
        ]
        result["slow_callbacks"] = [
            r.getMessage()[:600] for r in asyncio_errors.records if "took" in r.getMessage()
        ]
        result["spans"] = span_leaks(exporter, sim.coords["api_key"])
        result["log_records"] = record_findings(records.records, sim.coords["api_key"])
    finally:
        package.removeHandler(records)
        await asyncio.to_thread(shutil.rmtree, root, True)
    return result


def monitor_mismatches(jobs: dict[str, Job]) -> list[str]:
    """Where a finished job's monitor, its report and its destination disagree."""
    wrong: list[str] = []
    for name, job in jobs.items():
        snap = job.monitor.snapshot()
        if snap.files_active and job.task.done():
            wrong.append(f"{name}: {snap.files_active} files active after the run ended")
        if snap.running and job.task.done():
            wrong.append(f"{name}: monitor still running after the run ended")
        if job.task.cancelled() or job.task.exception() is not None:
            continue
        report = job.task.result()
        stats = report.stats
        if (stats.files_ok, stats.files_skipped, stats.files_failed) != (
            report.downloaded,
            report.skipped,
            report.failed,
        ):
            wrong.append(f"{name}: report.stats {stats} vs report {report.downloaded}/{report.skipped}")
        if snap != stats:
            wrong.append(f"{name}: the monitor's last snapshot differs from report.stats")
        if stats.bytes_downloaded + stats.bytes_resumed != report.bytes:
            wrong.append(
                f"{name}: bytes_downloaded {stats.bytes_downloaded} + resumed {stats.bytes_resumed}"
                f" != report.bytes {report.bytes}"
            )
        on_disk = sum(p.stat().st_size for p in job.dest.iterdir() if p.suffix == ".jpg")
        if report.bytes != on_disk:
            wrong.append(f"{name}: report.bytes {report.bytes} != {on_disk} on disk")
    return wrong


async def checks(jobs: dict[str, Job]) -> dict[str, Any]:
    unclean: list[str] = []
    for name, job in jobs.items():
        if not job.dest.exists():
            continue
        try:
            report = await check_destination(job.dest)
        except NinePicError as exc:
            unclean.append(f"{name}: {exc}")
            continue
        if not report.clean:
            unclean.append(f"{name}: {report.problems[:3]}")
    return {"destinations": len(jobs), "unclean": unclean}


def span_leaks(exporter: InMemorySpanExporter, api_key: str) -> dict[str, Any]:
    spans = exporter.get_finished_spans()
    leaks: list[str] = []
    for span in spans:
        texts = [span.name, *(f"{k}={v!s}" for k, v in (span.attributes or {}).items())]
        for event in span.events:
            texts += [event.name, *(f"{k}={v!s}" for k, v in (event.attributes or {}).items())]
        for text in texts:
            if api_key in text or "X-Amz-" in text or "Signature" in text or "?" in text:
                leaks.append(f"{span.name}: {text[:120]}")
    return {"spans": len(spans), "leaks": leaks[:5], "leak_count": len(leaks)}


def record_findings(records: list[logging.LogRecord], api_key: str) -> dict[str, Any]:
    with_args = [r for r in records if r.args]
    flattened = [r for r in records if r.args is None and "%" in str(r.msg)]
    return {
        "records": len(records),
        "with_args": len(with_args),
        "flattened": len(flattened),
        "key_in_message": sum(api_key in r.getMessage() for r in records),
    }


# --- what a caller sees -----------------------------------------------------------------------


async def outcome_of(call: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(call(), 60)
    except asyncio.TimeoutError:
        return "HUNG (60 s)"
    except BaseException as exc:  # reporting exactly what arrived
        library = isinstance(exc, NinePicError)
        return f"{type(exc).__module__}.{type(exc).__qualname__}{' [library]' if library else ''}: {exc}"
    return "no error"


async def error_trial(args: argparse.Namespace) -> dict[str, Any]:
    from ninepic_async.download import _types  # noqa: F401 - downloader imported before patching

    result: dict[str, Any] = {"measure": "errors", "loop": args.loop}
    root = Path(tempfile.mkdtemp(prefix="service-errors-"))
    try:
        async with simulator("--photos", "30", "--photo-size", "2000-300000") as sim:
            async with sim.client() as client:
                original_start = threading.Thread.start

                def refuse(self: threading.Thread) -> None:
                    raise RuntimeError("can't start new thread")

                threading.Thread.start = refuse  # type: ignore[method-assign]
                try:
                    result["thread_start_fails"] = await outcome_of(
                        lambda: client.download_originals(sim.event_id, root / "a", whole_event=True)
                    )
                finally:
                    threading.Thread.start = original_start  # type: ignore[method-assign]

                def on_event(event: DownloadEvent) -> None:
                    if isinstance(event, BytesReceived):
                        raise ValueError("the callback's own error")

                result["on_event_raises"] = await outcome_of(
                    lambda: client.download_originals(
                        sim.event_id, root / "b", whole_event=True, on_event=on_event
                    )
                )

                gate = asyncio.Event()

                def hold(event: DownloadEvent) -> None:
                    if isinstance(event, BytesReceived):
                        gate.set()

                first = asyncio.create_task(
                    client.download_originals(sim.event_id, root / "c", whole_event=True, on_event=hold)
                )
                await gate.wait()
                result["destination_locked"] = await outcome_of(
                    lambda: client.download_originals(sim.event_id, root / "c", whole_event=True)
                )
                first.cancel()
                await asyncio.gather(first, return_exceptions=True)

                def second_loop() -> str:
                    return asyncio.run(outcome_of(lambda: client.ping(sim.event_id)))

                result["second_event_loop"] = await asyncio.to_thread(second_loop)
            await asyncio.to_thread(sim.stop)
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return result


async def ping_trial(args: argparse.Namespace) -> dict[str, Any]:
    faults = {
        "api_429_rate": 1.0,
        "api_retry_after_s": 8,
        "api_fault_endpoints": ["original_photos"],
        "api_fault_budget": 1,
    }
    root = Path(tempfile.mkdtemp(prefix="service-ping-"))
    result: dict[str, Any] = {"measure": "ping_beside_429", "loop": args.loop}
    try:
        async with simulator("--photos", "50", "--photo-size", "500-1000", faults=faults) as sim:
            async with sim.client() as client:
                download = asyncio.create_task(
                    client.download_originals(sim.event_id, root, whole_event=True)
                )
                while client.stats.rate_limited == 0:
                    await asyncio.sleep(0.005)
                health = client.with_options(deadline_s=2, respect_shared_pause=False)
                started = time.perf_counter()
                await health.ping(sim.event_id)
                result["opted_out_ping_s"] = round(time.perf_counter() - started, 3)
                started = time.perf_counter()
                await client.ping(sim.event_id)
                result["ordinary_ping_s"] = round(time.perf_counter() - started, 3)
                report = await download
                result["download_complete"] = report.complete
                result["rate_limit_wait_s"] = round(client.stats.rate_limit_wait_s, 2)
            await asyncio.to_thread(sim.stop)
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return result


async def small_part_trial(args: argparse.Namespace) -> dict[str, Any]:
    """One 900 kB photo at 200 kB/s, cancelled after 300 kB arrived, then rerun."""
    root = Path(tempfile.mkdtemp(prefix="service-part-"))
    result: dict[str, Any] = {"measure": "small_part", "loop": args.loop}
    try:
        async with simulator(
            "--photos", "1", "--photo-size", "900000", "--storage-bytes-per-s", "200000"
        ) as sim:
            async with sim.client() as client:
                received = 0
                enough = asyncio.Event()

                def on_event(event: DownloadEvent) -> None:
                    nonlocal received
                    if isinstance(event, BytesReceived):
                        received += event.n
                        if received >= 300_000:
                            enough.set()

                run = asyncio.create_task(
                    client.download_originals(sim.event_id, root, whole_event=True, on_event=on_event)
                )
                await enough.wait()
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
                parts = {p.name: p.stat().st_size for p in root.glob("*.part")}
                result["part_files_after_cancel"] = parts
                monitor = DownloadMonitor()
                async with contextlib.aclosing(
                    client.iter_download_originals(sim.event_id, root, whole_event=True, monitor=monitor)
                ) as results:
                    outcomes = [r.status async for r in results]
                stats = monitor.snapshot()
                result["rerun"] = {
                    "outcomes": outcomes,
                    "bytes_resumed": stats.bytes_resumed,
                    "bytes_downloaded": stats.bytes_downloaded,
                }
                result["check_clean"] = (await check_destination(root)).clean
            await asyncio.to_thread(sim.stop)
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "sim":
        serve_sim(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("trial", choices=["service", "errors", "ping429", "small-part"])
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--rate", type=int, default=3_000_000, help="storage bytes/s per response")
    args = parser.parse_args()
    trials = {
        "service": service_trial,
        "errors": error_trial,
        "ping429": ping_trial,
        "small-part": small_part_trial,
    }
    print(json.dumps(run_on(args.loop, trials[args.trial](args))))


if __name__ == "__main__":
    main()
