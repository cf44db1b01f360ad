"""A guard that refuses every connection and name lookup that is not for the loopback interface.

Tests of the model providers run under it (``tests/integration/llm/conftest.py``): an adapter whose
base URL was not pointed at the local fake server fails at once instead of reaching the internet,
and the attempt is recorded so the test can say so.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NonLoopbackConnection(ConnectionRefusedError):
    """A test tried to reach beyond this machine."""


def is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Patch ``socket`` for the block; yields the list of refused hosts."""
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, str | bytes):  # a Unix socket path
            return
        host = address[0]
        if not is_loopback(host):
            refused.append(str(host))
            raise NonLoopbackConnection(f"the test network guard refused a connection to {host}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            refused.append(host.decode() if isinstance(host, bytes) else str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"the test network guard refused to look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield refused
