"""The one way tests build a NinePicClient: for a simulator, or for a base URL (mocked or local)."""

from __future__ import annotations

from typing import Any

from helpers.api import BASE, KEY, ORG
from ninepic_async.client import NinePicClient
from ninepic_async.testing import Simulator


def new_client(
    target: Simulator | str = BASE, *, api_key: str | None = None, org_id: int | None = None, **options: Any
) -> NinePicClient:
    """A client for ``target``, to use as ``async with new_client(...) as client``.

    A :class:`Simulator` gives its own key, org id and base URL; a string is a base URL (the
    mocked API by default, or a local server) reached with the test key and org. ``api_key``
    and ``org_id`` override those; ``options`` go to NinePicClient as they are
    (``max_retries=0``, ``verify_ssl=False``, ...).
    """
    if isinstance(target, Simulator):
        key, org, base_url = target.api_key, target.org_id, target.base_url
    else:
        key, org, base_url = KEY, ORG, target
    return NinePicClient(
        key if api_key is None else api_key,
        org_id=org if org_id is None else org_id,
        base_url=base_url,
        **options,
    )
