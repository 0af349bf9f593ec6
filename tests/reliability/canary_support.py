"""Support for the canary test: local HTTP stand-ins, the real ``lamina`` process, and the scan.

The canary test runs lamina exactly as an operator would (the installed ``lamina`` command
and ``lamina serve``, in child processes) against stand-ins that hold or receive the one
canary secret: a Vault KV v2 API, an alert receiver (Slack and a signed webhook), and the
kmock clusters from ``tests/k8s_support.py``. Everything lamina printed, served, logged,
stored or wrote is then searched for the canary by :func:`find_leaks`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cli_support import run_lamina, start_lamina_serve

CANARY = "CANARY-lamina-secret-7f3e9c"
"""The one secret value: the Vault secret, the cluster Secret, the Vault and Kubernetes tokens,
the alert sink URLs and the webhook signing key all carry it."""

NEEDLES = {
    "canary": CANARY,
    # a Secret's data is base64: a raw Secret dumped anywhere shows this form
    "canary as base64": base64.b64encode(CANARY.encode()).decode(),
    # a truncated or partly masked value is still a leak
    "canary's first half": CANARY[:14],
    "canary's second half": CANARY[14:],
}


# -- local HTTP stand-ins ---------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request a stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Seen, list[Seen]], tuple[int, object]]
"""(this request, every earlier one) -> (status, JSON body)."""


class Recorder:
    """An HTTP server on 127.0.0.1 that records every request and answers with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.seen: list[Seen] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                status, body = answer(request, list(recorder.seen))
                recorder.seen.append(request)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def vault_answer(request: Seen, _earlier: list[Seen]) -> tuple[int, object]:
    """Vault's KV v2 read: ``kv/agents`` holds ``openai`` = the canary; the token is the canary too."""
    if request.headers.get("X-Vault-Token") != CANARY:
        return 403, {"errors": ["permission denied"]}
    if request.method == "GET" and request.path.split("?")[0] == "/v1/kv/data/agents":
        return 200, {"data": {"data": {"openai": CANARY}, "metadata": {"version": 1}}}
    return 404, {"errors": []}


def alert_answer(request: Seen, earlier: list[Seen]) -> tuple[int, object]:
    """A receiver that fails each URL's first delivery (503), so lamina's retry path runs too."""
    if not any(seen.path == request.path for seen in earlier):
        return 503, {"error": "try again"}
    return 200, {"ok": True}


# -- the real lamina ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished ``lamina`` command."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str
    expected: tuple[int, ...] = (0,)

    @property
    def name(self) -> str:
        return "lamina " + " ".join(self.args)

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Lamina:
    """Runs ``lamina --repo ROOT`` in child processes with one environment, keeping every run."""

    root: Path
    env: dict[str, str]
    user: str = "ed@example.com"
    runs: list[Run] = field(default_factory=list)

    def __call__(
        self, *args: str, user: str | None = None, expect: tuple[int, ...] = (0,), keep: bool = True
    ) -> Run:
        done = run_lamina("--repo", self.root, "--as", user or self.user, *args, env=self.env)
        run = Run(tuple(args), done.returncode, done.stdout, done.stderr, expect)
        if keep:
            self.runs.append(run)
        return run

    def side_by_side(self, commands: Sequence[tuple[tuple[str, ...], tuple[int, ...]]]) -> list[Run]:
        """Run independent commands at once (to keep the module fast); kept in the order given."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            runs = list(pool.map(lambda command: self(*command[0], expect=command[1], keep=False), commands))
        self.runs.extend(runs)
        return runs


@contextlib.contextmanager
def lamina_serve(root: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """``lamina serve`` in a child process, its output in log; yields its base URL."""
    with log.open("wb") as stream:
        try:
            process, url = start_lamina_serve(root, env=env, stdout=stream, stderr=subprocess.STDOUT)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()}") from exc
    try:
        yield url
    finally:
        # a graceful stop, like Ctrl-C: the shutdown path logs too
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- what lamina left behind ------------------------------------------------------------------


def sqlite_tables(path: Path) -> dict[str, str]:
    """Every table of a SQLite database, rows as JSON text, by table name."""
    tables = {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            rows = db.execute(f'SELECT * FROM "{name}"').fetchall()
            tables[name] = json.dumps(rows, default=repr)
    return tables


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under folder (raw bytes, so binary files and SQLite pages are searched too)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def find_leaks(captures: Mapping[str, str | bytes], needles: Mapping[str, str]) -> list[str]:
    """Where any needle occurs: one line per (capture, needle), with a little context."""
    found = []
    for where, content in captures.items():
        data = content.encode() if isinstance(content, str) else content
        for label, needle in needles.items():
            at = data.find(needle.encode())
            if at >= 0:
                context = data[max(0, at - 60) : at + len(needle) + 60].decode("utf-8", "replace")
                found.append(f"{where}: {label} in ...{context!r}...")
    return found
