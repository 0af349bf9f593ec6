"""A real webhook receiver on 127.0.0.1 (http.server in a thread) that records what it gets."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the receiver got, and how it should answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    status_when_failing: int = 500
    attempts: int = 0
    hold_first: int = 0
    """The first hold_first requests get no answer until ``released`` is set (a slow receiver
    whose caller may die waiting); they are not accepted."""
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until count requests were accepted; return them."""
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.accepted()


@contextlib.contextmanager
def serving() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 for as long as the block runs."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.attempts += 1
                held = state.attempts <= state.hold_first
                failing = held or state.attempts <= state.fail_first + state.hold_first
                if not failing:
                    state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if held:
                state.released.wait(30)
            try:
                self.send_response(state.status_when_failing if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the caller died waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state
