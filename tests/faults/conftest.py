"""Faults on real processes: `parley serve` instances killed mid-reply, PostgreSQL cut off behind a
TCP proxy the test controls. The shared PostgreSQL server gives each test its own database; nothing
else on the machine is touched."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import cli_env, run_cli, start_server  # noqa: F401 - the real-process fixtures
from tests.redis_process import free_port


class TcpProxy:
    """A loopback TCP proxy in front of ``target``: ``cut()`` drops every connection and refuses new
    ones (each is closed at once, as a server that went away), ``restore()`` lets them through again."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open = True
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            self._open = False
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
                with self._lock:
                    self._sockets.discard(sock)


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
