"""Parley run as several: N `parley serve` instances and M `parley worker`s behind HAProxy, on one
PostgreSQL and one Redis; and a chat load that survives an instance leaving (tests and bench).

HAProxy (Debian's package, installed when missing) balances round robin, checks ``/ready`` every
second (a draining instance answers 503 and is out within three; meanwhile it refuses new work with
503 itself, which the clients retry) and keeps WebSocket and SSE
connections open as tunnels.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.prometheus import sample
from tests.redis_process import free_port
from tests.service_processes import debian_binary, wait_for_port

PARLEY = str(Path(sys.executable).with_name("parley"))
PASSWORD = "a-long-enough-password-42"


@dataclass
class Member:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


class Cluster:
    def __init__(
        self,
        database_url: str,
        redis_url: str,
        *,
        instances: int = 3,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self._haproxy = debian_binary("haproxy", "haproxy")
        self.workdir = Path(tempfile.mkdtemp(prefix="parley-cluster-"))
        self.env = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}},
            **{k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")},
            "APP_ENV": "production",
            "SECRET_KEY": "cluster-test-secret-key-0123456789-abcdef",
            "PARLEY_VAR_DIR": str(self.workdir / "var"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.instances = instances
        self.worker_count = workers
        self.api: list[Member] = []
        self.workers: list[Member] = []
        self.balancer: Member | None = None
        self.port = free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, command: list[str]) -> Member:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        return Member(name, process, log_path)

    def start(self) -> None:
        migrated = subprocess.run(
            [PARLEY, "db", "upgrade"], env=self.env, capture_output=True, text=True, cwd=self.workdir, timeout=120
        )
        if migrated.returncode != 0:
            raise AssertionError(f"migration failed: {migrated.stderr}")
        for index in range(self.instances):
            port = free_port()
            member = self._spawn(f"api{index}", [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(port)])
            member.port = port
            self.api.append(member)
        for index in range(self.worker_count):
            self.workers.append(self._spawn(f"worker{index}", [PARLEY, "worker"]))
        for member in self.api:
            self._wait_ready(member)
        config = self.workdir / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        check = subprocess.run([self._haproxy, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise AssertionError(f"haproxy rejected its configuration:\n{check.stdout}{check.stderr}")
        self.balancer = self._spawn("haproxy", [self._haproxy, "-db", "-f", str(config)])
        wait_for_port(self.port, self.balancer.process, "haproxy")
        self._wait_until(lambda: self._status("/ready") == 200, "HAProxy never routed /ready")

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"    server {member.name} 127.0.0.1:{member.port} check inter 1s fall 3 rise 1" for member in self.api
        )
        return f"""global
    maxconn 4096

defaults
    mode http
    option httplog
    # The client's address, for the per-address limits (FORWARDED_ALLOW_IPS trusts this proxy).
    option forwardfor
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # /ready checks PostgreSQL and Redis: give it time under load before calling a server down.
    timeout check 5s
    # WebSocket and SSE: long-lived, idle between deltas and heartbeats.
    timeout tunnel 1h
    retries 3
    option redispatch
    retry-on conn-failure empty-response 503

frontend parley
    bind 127.0.0.1:{self.port}
    default_backend api

backend api
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
{servers}
"""

    def _status(self, path: str, base: str | None = None) -> int | None:
        try:
            return httpx.get(f"{base or self.base_url}{path}", timeout=2).status_code
        except httpx.TransportError:
            return None

    def _wait_until(self, check: Callable[[], bool], failure: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(failure)
            time.sleep(0.1)

    def _wait_ready(self, member: Member) -> None:
        def ready() -> bool:
            if member.process.poll() is not None:
                raise AssertionError(f"{member.name} exited with {member.process.returncode}:\n{member.logs()}")
            return self._status("/ready", f"http://127.0.0.1:{member.port}") == 200

        self._wait_until(ready, f"{member.name} was not ready within 90 s", timeout=90)

    def gauge(self, member: Member, name: str) -> float:
        """One unlabelled gauge of a member's own ``/metrics`` (0 when it cannot be read)."""
        try:
            return sample(httpx.get(f"http://127.0.0.1:{member.port}/metrics", timeout=5).text, name)
        except httpx.TransportError:
            return 0.0

    def terminate(self, member: Member, *, timeout: float = 60) -> int:
        """SIGTERM (a rolling deploy stops it so) and wait for the exit code."""
        member.process.send_signal(signal.SIGTERM)
        return member.process.wait(timeout=timeout)

    def stop(self) -> None:
        members = [*self.api, *self.workers, *([self.balancer] if self.balancer else [])]
        for member in members:
            if member.process.poll() is None:
                member.process.send_signal(signal.SIGTERM)
        for member in members:
            try:
                member.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait()


# -- the chat load ------------------------------------------------------------------------------------


@dataclass
class Reply:
    conversation_id: str
    content: str
    transport: str
    message_id: str | None = None
    text: str = ""
    event_ids: list[int] = field(default_factory=list)
    done: dict[str, Any] | None = None
    resumes: int = 0
    retries: int = 0

    @property
    def last_event_id(self) -> int:
        return self.event_ids[-1] if self.event_ids else 0

    def take(self, event_id: int, kind: str, data: dict[str, Any]) -> None:
        if event_id <= self.last_event_id:
            return  # already seen (a resume may repeat the one it started after)
        self.event_ids.append(event_id)
        if kind == "delta":
            self.text += data.get("text", "")
        elif kind == "done":
            self.done = data
        elif kind == "error":
            raise AssertionError(f"reply {self.message_id} failed: {data}")


@dataclass
class LoadStats:
    replies: list[Reply] = field(default_factory=list)
    reconnect_frames: int = 0
    refused: int = 0

    @property
    def completed(self) -> int:
        return sum(1 for reply in self.replies if reply.done is not None)


async def sign_up_users(client: httpx.AsyncClient, prefix: str, count: int) -> list[dict[str, str]]:
    """Register and sign in ``count`` people, each from an address of their own (registration is
    limited per client address; HAProxy passes it on in X-Forwarded-For)."""

    async def one(index: int) -> dict[str, str]:
        email = f"{prefix}{index}@example.com"
        origin = {"X-Forwarded-For": f"10.{len(prefix)}.{index // 250}.{index % 250 + 1}"}
        registered = await client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": f"{prefix}{index}"},
            headers=origin,
        )
        assert registered.status_code == 201, registered.text
        token = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
            headers=origin,
        )
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    # A few at a time: password hashing is the heaviest thing the API does.
    gate = asyncio.Semaphore(4)

    async def gated(index: int) -> dict[str, str]:
        async with gate:
            return await one(index)

    return list(await asyncio.gather(*(gated(i) for i in range(count))))


async def _with_retries(call: Callable[[], Any], stats: LoadStats, attempts: int = 40) -> httpx.Response:
    """A request that was refused before anything happened (503 from a draining instance or from the
    balancer, connection refused) is sent again, as a client following ``Retry-After`` would."""
    for _ in range(attempts):
        try:
            response: httpx.Response = await call()
        except httpx.ConnectError:
            stats.refused += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code != 503:
            return response
        stats.refused += 1
        await asyncio.sleep(0.2)
    raise AssertionError("refused every time")


async def _find_reply(client: httpx.AsyncClient, headers: dict[str, str], reply: Reply) -> str | None:
    """The id of the assistant message answering ``reply.content``, if the send was stored."""
    page = await _with_retries(
        lambda: client.get(f"/api/v1/conversations/{reply.conversation_id}/messages?limit=100", headers=headers),
        LoadStats(),
    )
    items = list(reversed(page.json()["items"]))
    for index, item in enumerate(items):
        if item["role"] == "user" and item["content"] == reply.content and index + 1 < len(items):
            answer: str = items[index + 1]["id"]
            return answer
    return None


async def _resume_sse(client: httpx.AsyncClient, headers: dict[str, str], reply: Reply, stats: LoadStats) -> None:
    while reply.done is None:
        reply.resumes += 1
        url = f"/api/v1/conversations/{reply.conversation_id}/messages/{reply.message_id}/stream"
        try:
            async with aconnect_sse(
                client, "GET", url, headers={**headers, "Last-Event-ID": str(reply.last_event_id)}
            ) as source:
                if source.response.status_code == 503:
                    stats.refused += 1
                    await asyncio.sleep(0.2)
                    continue
                assert source.response.status_code == 200, await source.response.aread()
                async for event in source.aiter_sse():
                    if event.data:  # not a heartbeat comment
                        reply.take(int(event.id), event.event, json.loads(event.data))
        except (httpx.TransportError, httpx.StreamError):
            await asyncio.sleep(0.1)


async def sse_reply(client: httpx.AsyncClient, headers: dict[str, str], reply: Reply, stats: LoadStats) -> None:
    """Send over SSE; if the stream breaks, resume it (from any instance) with Last-Event-ID."""
    url = f"/api/v1/conversations/{reply.conversation_id}/messages"
    for _ in range(40):
        try:
            async with aconnect_sse(
                client, "POST", url, headers=dict(headers), json={"content": reply.content}
            ) as source:
                if source.response.status_code == 503:
                    stats.refused += 1
                    reply.retries += 1
                    await asyncio.sleep(0.2)
                    continue
                assert source.response.status_code == 200, await source.response.aread()
                async for event in source.aiter_sse():
                    if event.data:  # not a heartbeat comment
                        reply.take(int(event.id), event.event, json.loads(event.data))
            if reply.done is not None:
                reply.message_id = reply.done["id"]
                return
        except httpx.ConnectError:
            stats.refused += 1
            reply.retries += 1
            await asyncio.sleep(0.2)
            continue
        except (httpx.TransportError, httpx.StreamError):
            pass
        # The stream broke after the request went out: was the message stored?
        reply.message_id = await _find_reply(client, headers, reply)
        if reply.message_id is not None:
            await _resume_sse(client, headers, reply, stats)
            return
        reply.retries += 1
    raise AssertionError(f"could not send {reply.content!r}")


async def ws_replies(ws_url: str, headers: dict[str, str], replies: list[Reply], stats: LoadStats) -> None:
    """Send one reply after another over a WebSocket; on ``reconnect`` (close 1012) connect again
    (through the balancer: another instance) and resume from the last event id seen."""
    pending = list(replies)
    current: Reply | None = None
    while pending or current is not None:
        try:
            async with connect(ws_url, additional_headers=headers, open_timeout=10) as socket:
                ready = json.loads(await asyncio.wait_for(socket.recv(), 15))
                assert ready["type"] == "ready", ready
                if current is not None and current.message_id is not None:
                    current.resumes += 1
                    await socket.send(
                        json.dumps(
                            {
                                "type": "resume",
                                "message_id": current.message_id,
                                "last_event_id": str(current.last_event_id),
                            }
                        )
                    )
                while pending or current is not None:
                    if current is None:
                        current = pending.pop(0)
                        await socket.send(
                            json.dumps(
                                {
                                    "type": "send",
                                    "content": current.content,
                                    "conversation_id": current.conversation_id,
                                    "client_id": current.content,
                                }
                            )
                        )
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                    if frame["type"] == "reconnect":
                        stats.reconnect_frames += 1
                        continue
                    if frame["type"] == "ack":
                        current.message_id = frame["message_id"]
                    elif frame.get("message_id") == current.message_id and "event_id" in frame:
                        data = frame.get("message") if frame["type"] in ("done", "message") else frame
                        current.take(int(frame["event_id"]), frame["type"], data or {})
                        if current.done is not None:
                            current = None
                    elif frame["type"] == "error" and frame.get("client_id") == current.content:
                        raise AssertionError(f"send refused: {frame}")
        except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
            await asyncio.sleep(0.2)
            if current is not None and current.message_id is None:
                # Sent, but no ack before the socket went: stored or not?
                async with httpx.AsyncClient(base_url=ws_url.split("/api/")[0].replace("ws://", "http://")) as client:
                    current.message_id = await _find_reply(client, headers, current)
                if current.message_id is None:
                    pending.insert(0, current)
                    current.retries += 1
                    current = None
