"""``[alerts]`` in lamina.toml: sinks from environment variables, clear errors, no values shown."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from lamina.core.notices import Topic
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
        pytest.param(
            '[alerts]\nfor = "soon"\n',
            "alerts.for: 'soon' is not a duration like '10m', '1h30m', '1d12h', '30s' or '0'",
            id="bad-for",
        ),
        pytest.param(
            "[alerts.prod]\nsinks = []\n",
            "alerts.prod: unknown environment 'prod' "
            "(known: development, production, production-eu, staging)",
            id="unknown-env",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "email", url_env = "X"}]\n',
            "alerts.production.sinks[0].type must be one of slack, msteams, discord, pagerduty, webhook, "
            "not 'email'",
            id="unknown-type",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "slack", url = "https://hooks.slack.com/x"}]\n',
            "alerts.production.sinks[0].url: lamina.toml holds no secrets; put the value in an "
            "environment variable and name it with url_env",
            id="url-in-repo",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "pagerduty", routing_key = "R0UT1NG"}]\n',
            "alerts.production.sinks[0].routing_key: lamina.toml holds no secrets; put the value in an "
            "environment variable and name it with routing_key_env",
            id="routing-key-in-repo",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "webhook", url_env = "U", secret = "s3cr3t"}]\n',
            "alerts.production.sinks[0].secret: lamina.toml holds no secrets; put the value in an "
            "environment variable and name it with secret_env",
            id="signing-key-in-repo",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "pagerduty", url_env = "PD_URL"}]\n',
            "alerts.production.sinks[0].routing_key_env is required: the environment variable holding "
            "the routing key",
            id="pagerduty-without-key",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "discord", url_env = "D", secret_env = "K"}]\n',
            "alerts.production.sinks[0]: unknown key 'secret_env' for a discord sink",
            id="discord-unsigned",
        ),
        pytest.param(
            '[alerts.production]\nsinks = [{type = "slack", url_env = "S", events = ["drifted"]}]\n',
            "alerts.production.sinks[0].events: unknown topic 'drifted' (known: awaiting-approval, "
            "gate-failed, approved, promoted, verified, verification-failed, apply-failed, rollout-paused, "
            "rollout-failed, backfill-overdue, drift, validation-failed)",
            id="unknown-topic",
        ),
        pytest.param(
            '[server]\npublic_url = "lamina.example.com"\n',
            "[server] public_url must be an http(s) address like https://lamina.example.com, "
            "not 'lamina.example.com'",
            id="public-url-not-http",
        ),
    ],
)
def test_config_errors(example_repo: Path, extra: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load(example_repo, extra, ENV)
    assert re.fullmatch(r"lamina\.toml:\d+: " + re.escape(message), str(caught.value))


def test_a_literal_secret_is_refused_at_its_line_and_not_shown(example_repo: Path) -> None:
    toml = example_repo / "lamina.toml"
    lines = len(toml.read_text().splitlines())
    extra = (
        '\n[alerts.production]\nsinks = [\n  {type = "slack", url_env = "S"},\n'
        '  {type = "pagerduty", routing_key = "R0UT1NGK3YCANARY"},\n]\n'
    )
    with pytest.raises(InputError) as caught:
        load(example_repo, extra, ENV)
    assert str(caught.value) == (
        f"lamina.toml:{lines + 5}: alerts.production.sinks[1].routing_key: lamina.toml holds no secrets; "
        "put the value in an environment variable and name it with routing_key_env"
    )
    assert caught.value.exit_code == 2


def test_every_sink_kind_with_its_variables(example_repo: Path) -> None:
    extra = """
[server]
public_url = "https://lamina.example.com"

[alerts.production]
sinks = [
  {type = "msteams", url_env = "TEAMS_URL"},
  {type = "discord", url_env = "DISCORD_URL", events = ["apply-failed", "drift"]},
  {type = "pagerduty", routing_key_env = "PD_KEY"},
  {type = "pagerduty", routing_key_env = "PD_KEY", url_env = "PD_URL"},
]
"""
    environ = {
        "TEAMS_URL": "https://teams.example/wf",
        "DISCORD_URL": "https://discord.example/api/webhooks/1/t",
        "PD_KEY": "R0UT1NG",
        "PD_URL": "http://127.0.0.1:9/v2/enqueue",
    }
    loaded = load(example_repo, extra, environ)
    got = [(s.kind, s.url, s.secret, s.events) for s in loaded.routes["production"]]
    assert got == [
        ("msteams", "https://teams.example/wf", None, ()),
        ("discord", "https://discord.example/api/webhooks/1/t", None, (Topic.APPLY_FAILED, Topic.DRIFT)),
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue", "R0UT1NG", ()),
        ("pagerduty", "http://127.0.0.1:9/v2/enqueue", "R0UT1NG", ()),
    ]
    with Repository(example_repo) as repo:
        assert repo.fleet.settings.server.public_url == "https://lamina.example.com"
        assert repo.fleet.settings.alerts.variables() == {"TEAMS_URL", "DISCORD_URL", "PD_KEY", "PD_URL"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("1h30m", 5400), ("0.3s", 0.3), ("250ms", 0.25), ("0", 0), ("1d", 86400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert durations.parse_duration(text).total_seconds() == pytest.approx(seconds)
