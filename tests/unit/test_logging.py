"""The key never reaches a log record: the redacting filter on the package loggers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from helpers.api import EVENT, EVENT_BASE, KEY, FakeClock, err, ok
from helpers.clients import new_client

from ninepic_async import NinePicError
from ninepic_async._logging import RedactingFilter, install_redaction


def test_package_logger_has_the_filter_after_import() -> None:
    for name in (
        "ninepic_async",
        "ninepic_async.client",
        "ninepic_async._transport",
        "ninepic_async.pagination",
    ):
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters), name


def test_messages_and_args_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    new_client()  # registers the key
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    logging.getLogger("ninepic_async").debug("key=%s", KEY)
    logging.getLogger("ninepic_async.client").info(f"inline {KEY}")
    logging.getLogger("ninepic_async._transport").debug("headers %r", {"X-API-Key": "some-other-secret"})
    assert KEY not in caplog.text and "some-other-secret" not in caplog.text
    assert caplog.text.count("[REDACTED]") == 3


def test_loggers_created_later_are_covered_when_a_client_is_made(caplog: pytest.LogCaptureFixture) -> None:
    late = logging.getLogger("ninepic_async.some_late_module")
    new_client()
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    late.warning("oops %s", KEY)
    assert KEY not in caplog.text


def test_install_is_idempotent() -> None:
    install_redaction()
    install_redaction()
    filters = logging.getLogger("ninepic_async").filters
    assert sum(isinstance(f, RedactingFilter) for f in filters) == 1


def test_broken_format_args_do_not_break_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    record = logging.LogRecord("ninepic_async", logging.INFO, __file__, 1, "%d items %s", ("x",), None)
    assert RedactingFilter().filter(record) is True


async def test_a_whole_session_at_debug_never_logs_the_key(
    mocked: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeClock().install(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    mocked.get(f"{EVENT_BASE}/ping", status=500, payload=err(f"internal: {KEY}"))
    mocked.get(f"{EVENT_BASE}/ping", payload=ok({"status": "ok"}))
    mocked.get(f"{EVENT_BASE}/details", status=401, payload=err(f"X-API-Key: {KEY} missing"))
    async with new_client() as client:
        await client.ping(EVENT)
        with pytest.raises(NinePicError) as info:
            await client.event_details(EVENT)
        logging.getLogger("ninepic_async.client").exception("failed: %s", info.value)
        text = " ".join([repr(client), str(info.value), repr(info.value)])
    assert caplog.records
    assert KEY not in caplog.text and KEY not in text
    for record in caplog.records:
        assert KEY not in record.getMessage()


def _record(msg: str, args: Any) -> logging.LogRecord:
    return logging.LogRecord("ninepic_async.x", logging.INFO, __file__, 1, msg, args, None)


def test_a_record_without_secrets_keeps_its_message_and_args() -> None:
    new_client()  # registers the key
    args = ("GET", 3, {"page": 2})
    record = _record("%s page %d %r", args)
    assert RedactingFilter().filter(record) is True
    assert record.msg == "%s page %d %r" and record.args is args


def test_a_secret_in_an_argument_is_masked_in_that_argument_only() -> None:
    new_client()
    record = _record("%s failed with %r after %d tries", ("GET", {"X-Key": KEY}, 3))
    RedactingFilter().filter(record)
    assert record.msg == "%s failed with %r after %d tries"
    assert isinstance(record.args, tuple) and record.args[0] == "GET" and record.args[2] == 3
    assert record.getMessage() == "GET failed with {'X-Key': '[REDACTED]'} after 3 tries"
    mapping = _record("%(who)s used %(key)s", {"who": "me", "key": KEY})
    RedactingFilter().filter(mapping)
    assert mapping.args == {"who": "me", "key": "[REDACTED]"}
    inline = _record(f"inline {KEY} and %s", ("arg",))
    RedactingFilter().filter(inline)
    assert (inline.msg, inline.args) == ("inline [REDACTED] and %s", ("arg",))


def test_a_secret_split_across_format_and_argument_is_still_masked() -> None:
    new_client()
    record = _record(KEY[:6] + "%s", (KEY[6:],))
    RedactingFilter().filter(record)
    assert KEY not in record.getMessage()
