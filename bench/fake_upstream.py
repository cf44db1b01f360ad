"""The wire-format fake OpenAI upstream (tests/fakes/llm_server.py) in a process of its own, for
bench_gateway: it prints its port, answers at full speed (zero delay) and stops when its stdin closes.

    python -m bench.fake_upstream
"""

from __future__ import annotations

import sys
import threading

from tests.fakes.llm_server import FakeProviderServer


def main() -> None:
    with FakeProviderServer() as server:
        stop = threading.Event()

        def forget() -> None:  # it records every request: keep its memory flat over a long run
            while not stop.wait(5):
                server.clear()

        threading.Thread(target=forget, daemon=True).start()
        print(server.port, flush=True)
        while sys.stdin.read(1):
            pass
        stop.set()


if __name__ == "__main__":
    main()
