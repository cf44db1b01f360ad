"""Throwaway PgBouncer and Redis Sentinel processes on spare loopback ports (tests and benches).

The Debian packages are installed on first use when missing (``apt-get``, as CI runs as root);
a test skips, saying why, only when they cannot be installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.redis_process import free_port

_APT_UPDATED = False


def debian_binary(binary: str, package: str) -> str:
    """The path of ``binary``, installing Debian's ``package`` first if it is missing; skips the test
    when it cannot be installed."""
    global _APT_UPDATED
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.skip(f"{binary} is missing and cannot be installed here (apt-get needs root): apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", package]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0 and not _APT_UPDATED:
        subprocess.run([apt, "update", "-q"], capture_output=True, env=env, timeout=600)
        _APT_UPDATED = True
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin")
    if found is None:
        pytest.skip(f"apt-get could not install {package}: {result.stderr.strip()[-300:]}")
    return found


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within {timeout} s")


class PgBouncer:
    """PgBouncer in transaction pooling mode in front of ``database_url``'s server, with few server
    connections so that consecutive transactions of one client land on different server connections."""

    def __init__(self, database_url: str, *, server_connections: int = 2) -> None:
        self._binary = debian_binary("pgbouncer", "pgbouncer")
        self._target = make_url(database_url)
        # Its own directory under /tmp: run as root, PgBouncer switches to the postgres user, which
        # must reach its files (pytest's tmp_path is private to root).
        self._workdir = Path(tempfile.mkdtemp(prefix="parley-pgbouncer-"))
        self._server_connections = server_connections
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url(self) -> str:
        """``database_url`` pointed at PgBouncer instead of PostgreSQL."""
        return self._target.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def start(self) -> None:
        self._workdir.mkdir(parents=True, exist_ok=True)
        user = self._target.username or "postgres"
        (self._workdir / "users.txt").write_text(f'"{user}" "{self._target.password or ""}"\n')
        ini = self._workdir / "pgbouncer.ini"
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={self._target.host or '127.0.0.1'} port={self._target.port or 5432}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self._workdir / 'users.txt'}",
                    "pool_mode = transaction",
                    f"default_pool_size = {self._server_connections}",
                    "max_client_conn = 500",
                    *self._no_prepared_statements(),
                    "ignore_startup_parameters = extra_float_digits,options",
                    f"logfile = {self._workdir / 'pgbouncer.log'}",
                    "",
                ]
            )
        )
        command = [self._binary, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root.
            for path in (self._workdir, *self._workdir.iterdir()):
                shutil.chown(path, "postgres")
            command = [self._binary, "-u", "postgres", str(ini)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self._process, "pgbouncer")

    def _no_prepared_statements(self) -> list[str]:
        """Classic transaction pooling: PgBouncer 1.21+ can track protocol-level prepared statements
        (on by default from 1.22); turn that off so the test sees what most poolers do."""
        out = subprocess.run([self._binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        version = tuple(int(part) for part in out.split()[1].split(".")[:2]) if out.startswith("PgBouncer") else (0, 0)
        return ["max_prepared_statements = 0"] if version >= (1, 21) else []

    def log(self) -> str:
        path = self._workdir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._workdir, ignore_errors=True)


class RedisWithSentinel:
    """A Redis master, a replica, and one Sentinel watching them as ``service``."""

    def __init__(self, workdir: Path, *, service: str = "parley") -> None:
        self._binary = debian_binary("redis-server", "redis-server")
        self._workdir = workdir
        self.service = service
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_port = free_port()
        self._processes: list[subprocess.Popen[bytes]] = []

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}/{db}"

    def _redis(self, port: int, *extra: str) -> None:
        directory = self._workdir / str(port)
        directory.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [self._binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._processes.append(process)
        wait_for_port(port, process, f"redis-server on {port}")

    def start(self) -> None:
        self._redis(self.master_port)
        self._redis(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        config = self._workdir / "sentinel.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {self.sentinel_port}",
                    "bind 127.0.0.1",
                    f"dir {self._workdir}",
                    f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 1",
                    f"sentinel down-after-milliseconds {self.service} 1000",
                    f"sentinel failover-timeout {self.service} 5000",
                    "",
                ]
            )
        )
        process = subprocess.Popen(
            [self._binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._processes.append(process)
        wait_for_port(self.sentinel_port, process, "redis sentinel")

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
