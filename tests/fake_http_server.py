"""A local HTTP server the tests script: each path answers what the test says (or hangs, or lies).

It stands in for the services Parley calls over HTTP (the paragraph source, the dictionary), so
adapters are tested with real HTTP and no test reaches the internet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; charset=utf-8"
    #: Seconds to wait before answering (a slow service).
    delay: float = 0.0


class FakeHttpServer:
    """``answer(path, Answer(...))``; unknown paths get ``default`` (404 unless set). ``requests``
    lists every path asked for, in order."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.default = Answer(404, b'{"title": "No Definitions Found"}', "application/json")
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                    answer = server.answers.get(self.path, server.default)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    if answer.content_type is not None:
                        self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, answer: Answer) -> None:
        with self._lock:
            self.answers[path] = answer

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests.count(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_http_server() -> Iterator[FakeHttpServer]:
    server = FakeHttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def dictionary_entry(word: str, *definitions: str, phonetic: str | None = None) -> bytes:
    """A dictionaryapi.dev answer for ``word``."""
    import json

    entry = {
        "word": word,
        "phonetic": phonetic,
        "phonetics": [{"text": phonetic, "audio": ""}] if phonetic else [],
        "meanings": [
            {
                "partOfSpeech": "noun",
                "definitions": [{"definition": d, "synonyms": [], "antonyms": []} for d in definitions],
            }
        ],
        "license": {"name": "CC BY-SA 3.0", "url": "https://creativecommons.org/licenses/by-sa/3.0"},
    }
    return json.dumps([entry]).encode()
