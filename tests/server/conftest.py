"""A real server (uvicorn on 127.0.0.1) over the example fleet, with a token for each role."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import port_support
from lamina.server import tokens
from lamina.server.app import create_app
from lamina.server.settings import ServerSettings


@dataclass
class Served:
    """An HTTP client on the running server and a token per role."""

    client: httpx.Client
    root: Path
    token: dict[str, str]
    base_url: str

    def get(self, path: str, role: str = "viewer", **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.token[role]}"}, **kwargs)

    def post(self, path: str, role: str = "viewer", **kwargs: Any) -> httpx.Response:
        return self.client.post(path, headers={"Authorization": f"Bearer {self.token[role]}"}, **kwargs)


@contextmanager
def running(app: Any) -> Iterator[int]:
    """Serve app with uvicorn in a thread, on a port bound here (yielded), while the block runs."""
    sock = port_support.bound_socket()
    port = port_support.port_of(sock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def served(example_repo: Path) -> Iterator[Served]:
    with (example_repo / "lamina.toml").open("a") as fleet:
        fleet.write('\n[drift]\ninterval = "0"   # no scheduled checks: tests run them on purpose\n')
    path = example_repo / ".lamina" / "tokens.toml"
    issued = {
        "viewer": tokens.create(path, "vera@example.com", ["viewer"]),
        "editor": tokens.create(path, "ed@example.com", ["editor"]),
        "approver": tokens.create(path, "ana@example.com", ["approver:production"]),
        "admin": tokens.create(path, "root@example.com", ["admin"]),
    }
    app = create_app(ServerSettings(repo_root=example_repo, tokens_file=path, rollout_interval=0))
    with running(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield Served(client, example_repo, issued, f"http://127.0.0.1:{port}")
