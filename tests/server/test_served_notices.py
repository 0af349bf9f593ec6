"""``lamina serve`` delivers the outbox: a request made on the command line reaches the sink,
and a notice written while the server is down (killed) is sent once by the next one."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from cli_support import run_lamina_in_process, start_lamina_serve
from conftest import commit_all, unguard
from lamina.fleet import scaffold
from lamina.store import audit
from lamina.store.database import Database
from notify.conftest import Receiver, receiver

__all__ = ["receiver"]


def test_the_server_sends_notices_and_a_killed_one_loses_none(tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    unguard(root)
    with (root / "lamina.toml").open("a") as stream:
        stream.write(
            '\n[server]\npublic_url = "https://lamina.example.com"\n\n'
            '[alerts.staging]\nsinks = [{type = "webhook", url_env = "STAGING_HOOK"}]\n'
        )
    commit_all(root, "notify staging")
    env = {"STAGING_HOOK": receiver.url + "/hook", "LAMINA_USER": "alice@example.com"}
    server, _ = start_lamina_serve(root, env=env)
    try:
        ran = run_lamina_in_process("--repo", root, "promote", "request", "development", "staging", env=env)
        assert ran.returncode == 0, ran.stderr
        [first] = receiver.wait_for(1)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    assert first.json["topic"] == "awaiting-approval"
    assert first.json["link"] == "https://lamina.example.com/promotions#PR-1"

    db = Database(f"sqlite:///{root / '.lamina' / 'state.db'}")
    db.run(
        lambda s: audit.append(
            s,
            actor="ops",
            action="rollout.failed",
            at=datetime.now(UTC),
            environment="staging",
            subject="rollout 1",
        )
    )
    db.dispose()
    server, _ = start_lamina_serve(root, env=env)
    try:
        got = receiver.wait_for(2)
    finally:
        server.terminate()
        server.wait(10)
    assert [r.json["topic"] for r in got] == ["awaiting-approval", "rollout-failed"]
    assert len({r.headers["Idempotency-Key"] for r in got}) == 2
