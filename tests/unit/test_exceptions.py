"""The error tree: status mapping, fields, and that no message ever carries the API key."""

from __future__ import annotations

import pytest

from ninepic_async import _exceptions as exc

KEY = "sk-test-SECRET-0123456789"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, exc.BadRequestError),
        (401, exc.AuthenticationError),
        (403, exc.PermissionDeniedError),
        (404, exc.NotFoundError),
        (422, exc.UnprocessableEntityError),
        (429, exc.RateLimitError),
        (500, exc.InternalServerError),
        (503, exc.InternalServerError),
        (418, exc.APIStatusError),
    ],
)
def test_status_classes(status: int, cls: type[exc.APIStatusError]) -> None:
    assert exc.status_error_class(status) is cls
    assert issubclass(cls, exc.APIError) and issubclass(cls, exc.NinePicError)


def test_status_error_fields_and_text() -> None:
    error = exc.NotFoundError(404, "Event not found", method="GET", url="https://x/e", request_id="r-1")
    assert (error.status, error.message, error.request_id) == (404, "Event not found", "r-1")
    assert "404" in str(error) and "Event not found" in str(error) and "GET https://x/e" in str(error)


def test_key_never_in_error_text() -> None:
    exc.register_secret(KEY)
    errors: list[Exception] = [
        exc.PermissionDeniedError(403, f"bad key {KEY}", method="GET", url=f"https://x/?k={KEY}"),
        exc.APIConnectionError(f"cannot connect with X-API-Key: {KEY}"),
        exc.APIResponseDecodeError("not JSON", body_excerpt=f"<html>{KEY}</html>"),
        exc.ConfigurationError(f"bad {KEY}"),
    ]
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert "[REDACTED]" in str(error)


def test_header_pattern_redacted_even_when_unregistered() -> None:
    assert "abcdef" not in exc.redact("headers: {'X-API-Key': 'abcdef'}")
    assert "zzz123" not in exc.redact("x-api-key=zzz123")


def test_validation_error_is_value_error_with_field() -> None:
    error = exc.RequestValidationError("page_size", "must be from 1 to 60")
    assert isinstance(error, ValueError)
    assert error.field == "page_size"
    assert str(error) == "page_size: must be from 1 to 60"
