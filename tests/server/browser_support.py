"""The dashboard served for real (uvicorn on 127.0.0.1), a promotion to decide on, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import commit_all
from lamina.guard.actors import Actor
from lamina.promote import requests
from lamina.resolve.repository import Repository
from lamina.server import tokens
from lamina.server.app import create_app
from lamina.server.settings import ServerSettings
from lamina.store import applies, drift
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord

from .conftest import Served, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
USERS = {
    "viewer": ("vera@example.com", ["viewer"]),
    "editor": ("ed@example.com", ["editor"]),
    "approver": ("ana@example.com", ["approver:production"]),
    "admin": ("root@example.com", ["admin"]),
}


@contextmanager
def serve_dashboard(root: Path) -> Iterator[Served]:
    """The dashboard and API of root on a free port, with a token per role."""
    path = root / ".lamina" / "tokens.toml"
    issued = {role: tokens.create(path, user, roles) for role, (user, roles) in USERS.items()}
    app = create_app(ServerSettings(repo_root=root, tokens_file=path, rollout_interval=0))
    with running(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield Served(client, root, issued, f"http://127.0.0.1:{port}")


def commit_base_change(root: Path) -> str:
    """A change to base/ (what a promotion carries), committed; returns the commit."""
    path = root / "base" / "agent.toml"
    path.write_text(path.read_text().replace("max_tokens    = 1024", "max_tokens    = 1536"))
    return commit_all(root, "base: longer answers")


def open_promotion(
    root: Path, actor: str, source: str = "staging", target: str = "production"
) -> PromotionRecord:
    """A promotion request (gates run, status testing), as `lamina promote request` makes it."""
    database = Database.for_repository(root, None)
    try:
        with Repository(root) as repo:
            record = requests.request(
                repo,
                database,
                source=source,
                target=target,
                actor=Actor(actor),
                now=lambda: datetime.now(UTC),
                reason="longer answers for billing questions",
            )
    finally:
        database.dispose()
    assert record.status == "testing", record.gates
    return record


def seed_fleet_state(root: Path) -> None:
    """Drift results and applies, so the matrix shows every kind of cell."""
    database = Database.for_repository(root, None)
    moment = datetime.now(UTC)
    try:
        with Repository(root) as repo:
            hashes = {
                c.name: repo.resolve(f"{c.environment}/{c.name}").config_hash
                for c in repo.fleet.clusters.values()
            }
            envs = {c.name: c.environment for c in repo.fleet.clusters.values()}
        states = {
            "local-dev": ("in-sync", []),
            "staging-us-1": ("out-of-sync", [{"path": "agent.max_tokens", "expected": 1536, "actual": 1024}]),
            "prod-us-1": ("in-sync", []),
            "prod-us-2": ("drifted", [{"path": "agent.temperature", "expected": 0.1, "actual": 0.7}]),
        }

        def write(session: Any) -> None:
            for cluster in states:
                applies.record(
                    session,
                    applies.ApplyRecord(
                        envs[cluster], cluster, None, None, hashes[cluster], "applied", None, False
                    ),
                    "ci@example.com",
                    moment - timedelta(hours=3),
                )
            drift.save(
                session,
                [
                    drift.DriftRecord(cluster, envs[cluster], status, hashes[cluster], None, fields)
                    for cluster, (status, fields) in states.items()
                ],
                moment - timedelta(minutes=4),
            )

        database.run(write)
    finally:
        database.dispose()


def chromium_or_skip() -> None:
    """Skip the calling test, saying why, when Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: run scripts/install-system-tools.sh (as root) to run the browser tests"
        )


@contextmanager
def browser() -> Iterator[Any]:
    """Playwright's Chromium (Debian's, never a downloaded one), headless."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()
