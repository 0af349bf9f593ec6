"""The outbox sending notices to a local receiver: throughput, none lost, none twice.

Writes N notices the way events write them (one audit record each, in its own transaction,
spread over four environments), then one sender delivers them to a webhook receiver on
127.0.0.1 (a process of its own) that refuses every ``--fail-every``-th request with a 500
(retried at once). Counts what the receiver accepted by idempotency key.

    .venv/bin/python bench/outbox_bench.py [--notices 1000] [--fail-every 0] [--database URL]

Goals on a 2-core machine (SQLite): at least 200 notices/s delivered; none lost, none twice.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:
    sys.path.insert(0, str(REPO_ROOT / "src"))

from lamina.core.states import NoticeStatus  # noqa: E402
from lamina.notify import sending, sinks  # noqa: E402
from lamina.notify.settings import SinkConfig  # noqa: E402
from lamina.store import audit, outbox  # noqa: E402
from lamina.store.database import Database  # noqa: E402

GOAL_RATE = 200.0
ENVIRONMENTS = ("development", "staging", "production", "production-eu")


RECEIVER = """
import collections, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

fail_every = int(sys.argv[1])
keys = collections.Counter()
state = {"requests": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers offer

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            state["requests"] += 1
            failing = fail_every > 0 and state["requests"] % fail_every == 0
            if not failing:
                keys[self.headers["Idempotency-Key"]] += 1
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            body = json.dumps({"requests": state["requests"], "keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """A webhook receiver on 127.0.0.1, in a process of its own, counting idempotency keys."""

    def __init__(self, fail_every: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(fail_every)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/hook"
        self.keys: collections.Counter[str] = collections.Counter()
        self.requests = 0

    def close(self) -> None:
        counts = json.loads(urllib.request.urlopen(self.url, timeout=10).read())
        self.keys = collections.Counter(counts["keys"])
        self.requests = counts["requests"]
        self.process.terminate()
        self.process.wait(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--fail-every", type=int, default=0, help="refuse every Nth request with a 500")
    parser.add_argument("--database", help="a database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    logging.getLogger("lamina.notify").setLevel(logging.ERROR)  # the refused tries are expected

    with tempfile.TemporaryDirectory() as folder:
        db = Database(args.database or f"sqlite:///{folder}/state.db")
        started = time.perf_counter()
        for index in range(args.notices):
            env = ENVIRONMENTS[index % len(ENVIRONMENTS)]
            db.run(
                lambda s, i=index, e=env: audit.append(
                    s,
                    actor="bench",
                    action="rollout.failed",
                    at=datetime.now(UTC),
                    environment=e,
                    subject=f"rollout {i}",
                    detail={"reason": "error rate above bound"},
                )
            )
        written = time.perf_counter() - started
        receiver = Receiver(args.fail_every)
        retry = sinks.RetryPolicy(attempts=3, backoff=0.01)
        routes = {
            env: [sinks.build(SinkConfig(f"alerts.{env}.sinks[0]", "webhook", receiver.url, "key"), retry)]
            for env in ENVIRONMENTS
        }
        skipped = timedelta(0)  # a notice still failing waits (30 s, doubling): the bench skips the wait

        def clock() -> datetime:
            return datetime.now(UTC) + skipped

        sender = sending.Sender(
            outbox.Mailbox(db), routes, public_url="https://lamina.example.com", clock=clock
        )
        started = time.perf_counter()
        report = sender.send_due()
        later = 0
        while report.retrying and later < 5:
            later += 1
            skipped += sender.policy.max_backoff
            again = sender.send_due()
            report.sent += again.sent
            report.retrying = again.retrying
        seconds = time.perf_counter() - started
        sender.stop()
        receiver.close()
        stored = {n.key for n in outbox.notices_in(db, limit=args.notices * 2)}
        counts = outbox.counts(db)
        db.dispose()

    lost = len(stored - set(receiver.keys))
    twice = sum(1 for count in receiver.keys.values() if count > 1)
    rate = args.notices / seconds
    database = "PostgreSQL" if args.database else "SQLite"
    print(f"outbox bench: {args.notices} notices, 4 environments, {database}, fail every {args.fail_every}")
    print(f"  writing (one event + notice per transaction): {args.notices / written:8.0f} events/s")
    print(f"  sending: {seconds:6.2f} s  {rate:8.0f} notices/s   (goal >= {GOAL_RATE:.0f}/s)")
    refused = receiver.requests - receiver.keys.total()
    print(f"  receiver requests: {receiver.requests} (500s refused: {refused})")
    print(f"  lost: {lost}   (goal 0)")
    print(f"  twice: {twice}   (goal 0)")
    print(f"  outbox: sent {counts[NoticeStatus.SENT]}, pending {counts[NoticeStatus.PENDING]}, ", end="")
    print(
        f"failed {counts[NoticeStatus.FAILED]}; later passes (a notice failed every immediate retry): {later}"
    )
    ok = rate >= GOAL_RATE and lost == 0 and twice == 0
    print("  => " + ("meets the goals" if ok else "MISSES a goal"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
