"""A real S3-compatible server for the object-storage tests: moto's, in a thread of the test process,
on a free port, with one bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from moto.server import ThreadedMotoServer


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def new_bucket(self) -> str:
        name = f"parley-{uuid.uuid4().hex[:12]}"
        created = httpx.put(f"{self.endpoint}/{name}", timeout=10)
        assert created.status_code == 200, created.text
        return name

    def keys(self, bucket: str) -> list[str]:
        listed = httpx.get(f"{self.endpoint}/{bucket}", params={"list-type": "2"}, timeout=10)
        assert listed.status_code == 200, listed.text
        import re

        return sorted(re.findall(r"<Key>([^<]+)</Key>", listed.text))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
