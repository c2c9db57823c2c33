"""The keys redaction masks: a closed client forgets its key (unless another open client holds
it), and redaction stays complete, and cheap, with thousands of keys registered."""

from __future__ import annotations

import logging
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.api import EVENT, EVENT_BASE, KEY, err
from helpers.clients import new_client

from ninepic_async import APIConnectionError, APIResponseDecodeError, PermissionDeniedError, _exceptions
from ninepic_async._exceptions import forget_secret, redact, register_secret

MANY = 10_000


def _key(rng: random.Random, length: int = 32) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(length))


@pytest.fixture
def many_keys() -> Iterator[list[str]]:
    """MANY other tenants' keys registered (of two lengths), forgotten afterwards."""
    rng = random.Random(5)
    keys = [_key(rng, 32 if i % 2 else 40) for i in range(MANY)]
    for key in keys:
        register_secret(key)
    yield keys
    for key in keys:
        forget_secret(key)


async def test_closing_a_client_forgets_its_key() -> None:
    key = "tenant-key-7d1c44e0b9a2"
    async with new_client(api_key=key):
        assert key in _exceptions._SECRETS
    assert key not in _exceptions._SECRETS
    assert redact(f"leaked {key}") == f"leaked {key}"


async def test_a_key_stays_registered_until_every_client_using_it_is_closed() -> None:
    key = "shared-key-52aa0c93e1f4"
    first, second = new_client(api_key=key), new_client(api_key=key)
    await first.close()
    assert key in _exceptions._SECRETS
    await first.close()  # closing twice forgets once
    assert key in _exceptions._SECRETS
    async with second:
        await second.with_options(max_retries=0).close()  # a view owns nothing
        assert key in _exceptions._SECRETS
    assert key not in _exceptions._SECRETS


async def test_a_client_entered_again_registers_its_key_again() -> None:
    key = "again-key-0be61f7d2c38"
    client = new_client(api_key=key)
    await client.close()
    async with client:
        assert key in _exceptions._SECRETS
    assert key not in _exceptions._SECRETS


def test_redaction_with_many_keys_covers_every_place_a_key_can_be(
    many_keys: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    short, long = many_keys[1], many_keys[2]
    assert (len(short), len(long)) == (32, 40)
    texts = [
        f"bad key {short}",
        f"https://x/?k={long}&z=1",
        f"{short}{long}",  # two keys back to back
        f"x{short}y",  # inside a longer token
        f'{{"detail": "{long}"}}',
        f"X-API-Key: {short}",
        long,
    ]
    for text in texts:
        masked = redact(text)
        assert short not in masked and long not in masked, masked
        assert "[REDACTED]" in masked
    assert redact("nothing secret here, 12345") == "nothing secret here, 12345"
    errors: list[Exception] = [
        PermissionDeniedError(403, f"bad key {short}", method="GET", url=f"https://x/?k={long}"),
        APIConnectionError(f"cannot connect with {long}"),
        APIResponseDecodeError("not JSON", body_excerpt=f"<html>{short}</html>"),
    ]
    for error in errors:
        assert short not in str(error) + repr(error) and long not in str(error) + repr(error)
    caplog.set_level(logging.INFO, logger="ninepic_async")
    logging.getLogger("ninepic_async.client").info("key %s in %r", short, {"k": long})
    assert short not in caplog.text and long not in caplog.text


async def test_a_server_echo_of_the_key_is_masked_with_many_keys_registered(
    many_keys: list[str], mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ninepic_async")
    mocked.get(f"{EVENT_BASE}/details", status=403, payload=err(f"key {KEY} is not active"))
    async with new_client(max_retries=0) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.event_details(EVENT)
    assert KEY not in str(info.value) and KEY not in repr(info.value.body) and KEY not in caplog.text


def test_forgotten_keys_are_no_longer_masked_once_the_registry_grew_and_shrank() -> None:
    rng = random.Random(9)
    keys = [_key(rng) for _ in range(100)]
    for key in keys:
        register_secret(key)
    for key in keys[1:]:
        forget_secret(key)
    assert redact(f"{keys[0]} {keys[1]}") == f"[REDACTED] {keys[1]}"
    forget_secret(keys[0])
    assert keys[0] not in _exceptions._SECRETS
