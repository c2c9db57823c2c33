"""The OpenTelemetry extra: a span per API call and per downloaded photo, exported through the SDK's
in-memory exporter; no span carries the API key or a presigned URL's query string."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.clients import new_client
from helpers.sim import SimFactory
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ninepic_async import NotFoundError
from ninepic_async.download import download_originals
from ninepic_async.otel import OpenTelemetryInstrumentation, instrument, scrub
from ninepic_async.testing import Simulator

PING_TEMPLATE = "/api/v1/ext/{org_id}/event/{event_id}/ping"
BIB_TEMPLATE = "/api/v1/ext/{org_id}/event/{event_id}/bibs/{bib}"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _everything_said(span: ReadableSpan) -> str:
    """Every text a span exports: name, attributes, events and their attributes, status."""
    parts = [span.name, repr(dict(span.attributes or {})), span.status.description or ""]
    for event in span.events:
        parts += [event.name, repr(dict(event.attributes or {}))]
    return "\n".join(parts)


async def test_each_api_call_is_a_client_span_with_route_status_and_retries(
    sim: Simulator, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    sim.faults.api_429_rate = 1.0
    sim.faults.api_fault_budget = 1
    sim.faults.api_retry_after_s = 0.0
    async with new_client(sim) as client:
        assert isinstance(instrument(client, tracer_provider=provider), OpenTelemetryInstrumentation)
        await client.ping(sim.event_id)
        with pytest.raises(NotFoundError):
            async for _ in client.bib_search(sim.event_id, "no-such-bib"):
                pass
    ok, missing = exporter.get_finished_spans()
    for span, template in ((ok, PING_TEMPLATE), (missing, BIB_TEMPLATE)):
        assert span.name == f"GET {template}"
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["http.request.method"] == "GET"
        assert span.attributes["url.template"] == template
        assert span.attributes["server.address"] == "127.0.0.1"
    assert ok.attributes is not None and missing.attributes is not None
    assert ok.attributes["http.response.status_code"] == 200
    assert ok.attributes["ninepic.api.retries"] == 1
    assert [(e.name, dict(e.attributes or {})["ninepic.retry.reason"]) for e in ok.events] == [
        ("retry", "rate_limited")
    ]
    assert ok.status.status_code is StatusCode.UNSET
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.attributes["error.type"] == "404"
    assert missing.status.status_code is StatusCode.ERROR


async def test_each_downloaded_photo_is_a_span_and_no_span_holds_the_key_or_a_signature(
    rsim: SimFactory, provider: TracerProvider, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=6, seed=50, url_lifetime_s=0.0)  # every URL arrives expired
    sim.faults.clock_skew_s = 0.0
    good = await rsim(photo_count=5, seed=51)
    for target, dest in ((sim, tmp_path / "expired"), (good, tmp_path / "good")):
        async with new_client(target) as client:
            instrument(client, tracer_provider=provider)
            await download_originals(client, target.event_id, dest, whole_event=True)
    spans = exporter.get_finished_spans()
    files = [s for s in spans if s.name == "ninepic.download_file"]
    outcomes = {
        str((s.attributes or {})["ninepic.image_id"]): (s.attributes or {})["ninepic.file.outcome"]
        for s in files
    }
    assert outcomes == {
        **{p.image_id: "failed" for p in sim.world.photos},
        **{p.image_id: "ok" for p in good.world.photos},
    }
    for span in files:
        attributes = span.attributes or {}
        if attributes["ninepic.file.outcome"] == "ok":
            assert attributes["ninepic.file.size"] == len(
                good.world.content(str(attributes["ninepic.image_id"]))
            )
        else:
            assert span.status.status_code is StatusCode.ERROR and "expired" in (
                span.status.description or ""
            )
    api = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert {s.name for s in api} >= {"POST /api/v1/ext/{org_id}/event/{event_id}/original-photos"}
    for span in spans:
        said = _everything_said(span)
        for secret in (sim.api_key, good.api_key, "X-Amz-Signature", "X-Amz-Credential"):
            assert secret not in said, (span.name, said)


def test_scrub_drops_the_query_of_every_url() -> None:
    text = "invalid storage URL: https://store.example/o/a.jpg?X-Amz-Signature=abc&X-Amz-Date=1 (x)"
    assert scrub(text) == "invalid storage URL: https://store.example/o/a.jpg?<query> (x)"
    assert scrub("GET http://127.0.0.1:5/api/v1/ext/903/events?page=2: 500") == (
        "GET http://127.0.0.1:5/api/v1/ext/903/events?<query> 500"
    )


def test_without_the_extra_the_import_fails_with_one_line_naming_it() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "try:\n    import ninepic_async.otel\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1 and "pip install 'ninepic-async[otel]'" in out
