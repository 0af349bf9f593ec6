"""``[git]`` in lamina.toml: the remote pin commits are pushed to and a server fetches from::

    [git]
    remote = "origin"                  # default "origin"
    branch = "main"                    # default "main"
    push = true                        # promote apply / change apply push their pin commit
    fetch_interval = "1m"              # how often lamina serve fetches ("0s": only on the webhook)
    webhook_secret_env = "LAMINA_GIT_WEBHOOK_SECRET"
    push_attempts = 3                  # pushes tried before giving up on a moving remote

Without a ``[git]`` table lamina neither fetches nor pushes. The repository names the
environment variable that holds the webhook secret, never the secret.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

KEYS = ("remote", "branch", "push", "fetch_interval", "webhook_secret_env", "push_attempts")
DEFAULT_FETCH_INTERVAL = timedelta(minutes=1)


class GitSettings(msgspec.Struct, frozen=True):
    """``[git]``: where the config repository's team copy lives."""

    remote: str | None = None
    """The git remote (None: no ``[git]`` table, lamina never fetches or pushes)."""
    branch: str = "main"
    """The branch pins are committed on and the server serves."""
    push: bool = False
    """Push pin commits (never forced) after ``promote apply`` and ``change apply``."""
    fetch_interval: timedelta = DEFAULT_FETCH_INTERVAL
    """Time between the server's fetches; zero: only on the push webhook."""
    webhook_secret_env: str | None = None
    """The environment variable holding the push webhook's secret (no variable: no webhook)."""
    push_attempts: int = 3
    """Pushes tried (fetching and rebuilding the pin commit between them) before exit 3."""

    @property
    def pushes(self) -> bool:
        """True when pin commits go to a remote."""
        return self.remote is not None and self.push


def load(doc: Document) -> GitSettings:
    """Read ``[git]``.

    Raises:
        FleetError: an unknown key or a value of the wrong type, at its file:line.
    """
    if "git" not in doc.data:
        return GitSettings()
    table = TableReader(doc, ("git",), KEYS)
    remote = table.text("remote", "origin")
    branch = table.text("branch", "main")
    for key, value in (("remote", remote), ("branch", branch)):
        if value.startswith("-") or any(c.isspace() or c in "~^:?*[\\" for c in value):
            raise table.fail(f"{table.name(key)} {value!r} is not a valid git {key} name", (key,))
    interval = table.duration("fetch_interval", DEFAULT_FETCH_INTERVAL)
    assert interval is not None
    return GitSettings(
        remote=remote,
        branch=branch,
        push=table.boolean("push", False),
        fetch_interval=interval,
        webhook_secret_env=table.variable("webhook_secret_env"),
        push_attempts=table.integer("push_attempts", 3, minimum=1),
    )
