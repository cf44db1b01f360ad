"""Faults on real processes: `parley serve` instances killed mid-reply, PostgreSQL cut off behind a
TCP proxy the test controls. The shared PostgreSQL server gives each test its own database; nothing
else on the machine is touched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import cli_env, run_cli, start_server  # noqa: F401 - the real-process fixtures
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[str, int], TcpProxy]]:
    made: list[TcpProxy] = []

    def build(host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port)
        proxy.start()
        made.append(proxy)
        return proxy

    yield build
    for proxy in made:
        proxy.close()
