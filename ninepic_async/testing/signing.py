"""Presigned storage URLs in the shape of AWS SigV4 query signing (simplified, HMAC-SHA256).

The signature covers the object path and every ``X-Amz-*`` query parameter except the
signature itself, canonicalised from their decoded values, so a client that re-encodes
the query harmlessly still passes while any change of path, date or expiry fails.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum
from urllib.parse import quote

__all__ = ["SignatureCheck", "Signer"]

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SIGNATURE_PARAM = "X-Amz-Signature"


class SignatureCheck(Enum):
    """Outcome of checking a presigned URL."""

    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


def _quote(value: str) -> str:
    return quote(value, safe="-_.~")


class Signer:
    """Makes and checks presigned URLs with one secret."""

    def __init__(
        self, secret: bytes, access_key_id: str = "SIMULATORACCESSKEY", region: str = "auto"
    ) -> None:
        self._secret = secret
        self.access_key_id = access_key_id
        self.region = region

    def _signature(self, path: str, params: Mapping[str, str]) -> str:
        canonical = "&".join(
            f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()) if k != SIGNATURE_PARAM
        )
        message = f"{path}\n{canonical}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def presign(self, base_url: str, path: str, *, lifetime_s: float, now_s: float | None = None) -> str:
        """A URL for ``path`` valid ``lifetime_s`` seconds from ``now_s`` (default: now)."""
        now = time.time() if now_s is None else now_s
        stamp = datetime.fromtimestamp(int(now), tz=timezone.utc)
        params = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{self.access_key_id}/{stamp:%Y%m%d}/{self.region}/s3/aws4_request",
            "X-Amz-Date": stamp.strftime(AMZ_DATE_FORMAT),
            "X-Amz-Expires": str(max(0, int(lifetime_s))),
            "X-Amz-SignedHeaders": "host",
        }
        params[SIGNATURE_PARAM] = self._signature(path, params)
        query = "&".join(f"{k}={_quote(v)}" for k, v in params.items())
        return f"{base_url}{_quote_path(path)}?{query}"

    def check(self, path: str, params: Mapping[str, str], *, now_s: float | None = None) -> SignatureCheck:
        """Check the (decoded) query parameters of a request for ``path``."""
        signature = params.get(SIGNATURE_PARAM)
        date = params.get("X-Amz-Date")
        expires = params.get("X-Amz-Expires")
        if signature is None or date is None or expires is None:
            return SignatureCheck.MISSING
        expected = self._signature(path, {k: v for k, v in params.items() if k.startswith("X-Amz-")})
        if not hmac.compare_digest(expected, signature):
            return SignatureCheck.BAD_SIGNATURE
        try:
            signed_at = datetime.strptime(date, AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc).timestamp()
            lifetime = int(expires)
        except ValueError:
            return SignatureCheck.MALFORMED
        now = time.time() if now_s is None else now_s
        if now >= signed_at + lifetime:
            return SignatureCheck.EXPIRED
        return SignatureCheck.OK


def _quote_path(path: str) -> str:
    return quote(path, safe="/-_.~")
