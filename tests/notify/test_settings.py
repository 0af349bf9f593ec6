"""``[alerts]`` in lamina.toml: sinks from environment variables, clear errors, no values shown."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lamina.errors import InputError
from lamina.fleet import durations
from lamina.notify import settings
from lamina.resolve.repository import Repository

ALERTS = """
[alerts]
for = "10m"

[alerts.production]
sinks = [
  {type = "slack", url_env = "SLACK_PROD_URL"},
  {type = "webhook", url_env = "ALERT_HOOK_URL", secret_env = "ALERT_HOOK_KEY"},
]
"""
ENV = {
    "SLACK_PROD_URL": "https://hooks.slack.example/services/T/B/secret-token",
    "ALERT_HOOK_URL": "https://alerts.example/hook",
    "ALERT_HOOK_KEY": "signing-key-value",
}


def load(root: Path, extra: str, environ: dict[str, str]) -> settings.AlertSettings:
    toml = root / "lamina.toml"
    toml.write_text(toml.read_text() + extra)
    with Repository(root) as repo:
        return settings.load(repo.fleet.settings.alerts, environ)


def test_sinks_come_from_the_named_variables(example_repo: Path) -> None:
    loaded = load(example_repo, ALERTS, ENV)
    assert loaded.hold == timedelta(minutes=10)
    slack, hook = loaded.routes["production"]
    assert (slack.key, slack.kind, slack.url, slack.secret) == (
        "alerts.production.sinks[0]",
        "slack",
        ENV["SLACK_PROD_URL"],
        None,
    )
    assert (hook.kind, hook.url, hook.secret) == ("webhook", ENV["ALERT_HOOK_URL"], "signing-key-value")
    for value in ENV.values():
        assert value not in repr(loaded)


def test_a_missing_variable_names_the_key_and_the_variable(example_repo: Path) -> None:
    environ = {k: v for k, v in ENV.items() if k != "ALERT_HOOK_KEY"}
    with pytest.raises(InputError) as caught:
        load(example_repo, ALERTS, environ)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("lamina.toml:")
    assert message.endswith(
        "alerts.production.sinks[1].secret_env: environment variable ALERT_HOOK_KEY is not set"
    )
    for value in ENV.values():
        assert value not in message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param('[alerts]\nfor = "soon"\n', "alerts.for: 'soon' is not a duration", id="bad-for"),
        pytest.param(
            "[alerts.prod]\nsinks = []\n", "alerts.prod: unknown environment 'prod'", id="unknown-env"
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "email", url_env = "X"}]\n',
            "alerts.production.sinks[0].type must be one of slack, webhook, not 'email'",
            id="unknown-type",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "slack", url = "https://hooks.slack.com/x"}]\n',
            "alerts.production.sinks[0]: unknown key 'url' for a slack sink",
            id="url-in-repo",
        ),
    ],
)
def test_config_errors(example_repo: Path, extra: str, message: str) -> None:
    with pytest.raises(InputError, match="^lamina.toml:.*" + message.replace("[", r"\[").replace("(", r"\(")):
        load(example_repo, extra, ENV)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("1h30m", 5400), ("0.3s", 0.3), ("250ms", 0.25), ("0", 0), ("1d", 86400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert durations.parse_duration(text).total_seconds() == pytest.approx(seconds)
