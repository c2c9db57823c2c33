"""A real S3 server for the bucket tests: moto's ThreadedMotoServer on a loopback port (no Docker).

``s3_server()`` starts one (the session fixture ``s3`` in conftest.py shares it); ``TestBucket``
is one fresh bucket in it with the standard AWS_* variables pointing at the server, and a boto3
client to read what the downloader wrote.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_numbers = itertools.count()


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 (a free port) until the block ends."""
    from moto.server import ThreadedMotoServer

    for name in ("werkzeug", "moto"):  # one line per request, and tracebacks of aborted parts
        logging.getLogger(name).setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test-access-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        yield S3Server(endpoint, env)
    finally:
        server.stop()


class TestBucket:
    """A fresh, empty bucket on ``server``."""

    __test__ = False  # not a pytest test class

    def __init__(self, server: S3Server) -> None:
        import boto3

        self.name = f"ninepic-test-{next(_numbers)}"
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
            region_name=server.env["AWS_REGION"],
        )
        self.client.create_bucket(Bucket=self.name)

    def url(self, prefix: str = "photos") -> str:
        return f"s3://{self.name}/{prefix}"

    def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data

    def unfinished_uploads(self) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]
