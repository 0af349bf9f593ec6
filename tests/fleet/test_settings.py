"""Every settings table of lamina.toml is parsed once, typed, and refused at its file:line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import WriteRepo
from lamina.errors import FleetError
from lamina.fleet import git_settings, loading
from lamina.fleet.settings import FleetSettings
from lamina.source.trees import WorkingTree

FLEET = '[fleet]\nname = "demo"\npromotion = ["dev", "prod"]\n'


def settings(write_repo: WriteRepo, extra: str) -> FleetSettings:
    root = write_repo({"lamina.toml": FLEET + extra})
    return loading.load_fleet(WorkingTree(root)).settings


def test_defaults_when_lamina_toml_says_nothing(write_repo: WriteRepo) -> None:
    assert settings(write_repo, "") == FleetSettings()


def test_typed_values(write_repo: WriteRepo) -> None:
    found = settings(
        write_repo,
        """
[render]
workload = "deployment/agent"
keep = 3
resources = ["../base"]

[render.flux]
remote_clusters = true

[apply]
timeout = 2.5
parallelism = 4

[drift]
ignore = ["feature_flags.*"]
interval = "30s"

[promotion]
soak = "2h"

[git]
push = true
fetch_interval = "15s"
webhook_secret_env = "HOOK_SECRET"

[[promotion.freeze]]
start = "0 18 * * FRI"
duration = "62h"
timezone = "Europe/Berlin"
environments = ["prod"]
""",
    )
    assert (found.render.workload, found.render.keep, found.render.resources) == (
        "deployment/agent",
        3,
        ("../base",),
    )
    assert found.render.flux.remote_clusters is True
    assert (found.apply.timeout, found.apply.parallelism) == (2.5, 4)
    assert (found.drift.ignore, found.drift.interval) == (("feature_flags.*",), timedelta(seconds=30))
    assert found.promotion.soak == timedelta(hours=2)
    assert found.git == git_settings.GitSettings(
        remote="origin",
        branch="main",
        push=True,
        fetch_interval=timedelta(seconds=15),
        webhook_secret_env="HOOK_SECRET",
    )
    assert found.git.pushes
    assert not FleetSettings().git.pushes
    (window,) = found.promotion.freezes
    assert (window.start, window.duration, window.timezone) == (
        "0 18 * * FRI",
        timedelta(hours=62),
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            "[rendr]\nkeep = 1\n",
            "lamina.toml:5: unknown table [rendr] in lamina.toml (known: alerts, analysis, apply, clusters, "
            "drift, environments, fleet, git, layers, limits, locks, migrations, plan, promotion, render, "
            "rollout, secrets, server)",
            id="unknown-table",
        ),
        pytest.param(
            "[render]\nkeeps = 1\n",
            "lamina.toml:6: unknown key 'keeps' in [render] (known: argocd, container, env, flux, keep, "
            "resources, workload)",
            id="unknown-key",
        ),
        pytest.param(
            "[render]\nkeep = 0\n", "lamina.toml:6: [render] keep must be a positive integer", id="keep"
        ),
        pytest.param(
            '[render]\nworkload = "pod/agent"\n',
            "lamina.toml:6: [render] workload 'pod/agent' must be deployment/NAME, statefulset/NAME or "
            "daemonset/NAME",
            id="workload",
        ),
        pytest.param("[apply]\ntimeout = 0\n", "lamina.toml:6: [apply] timeout must be > 0", id="timeout"),
        pytest.param(
            '[drift]\ninterval = "soon"\n',
            "lamina.toml:6: [drift] interval: 'soon' is not a duration like '10m', '1h30m', '1d12h', '30s' "
            "or '0'",
            id="interval",
        ),
        pytest.param(
            "[drift]\njitter = 2\n", "lamina.toml:6: [drift] jitter must be between 0 and 1", id="jitter"
        ),
        pytest.param("[git]\npush = 1\n", "lamina.toml:6: [git] push must be true or false", id="git-push"),
        pytest.param(
            '[git]\nremote = "origin"\nforce = true\n',
            "lamina.toml:7: unknown key 'force' in [git] (known: branch, fetch_interval, push, "
            "push_attempts, "
            "remote, webhook_secret_env)",
            id="git-unknown",
        ),
        pytest.param(
            '[git]\nbranch = "ma in"\n',
            "lamina.toml:6: [git] branch 'ma in' is not a valid git branch name",
            id="git-branch",
        ),
        pytest.param(
            '[git]\nwebhook_secret_env = "s3cr3t value"\n',
            'lamina.toml:6: [git] webhook_secret_env must name an environment variable, like "API_URL"',
            id="git-secret-env",
        ),
        pytest.param(
            "[git]\npush_attempts = 0\n",
            "lamina.toml:6: [git] push_attempts must be a positive integer",
            id="git-attempts",
        ),
        pytest.param(
            '[render.flux]\nremote_clusters = "yes"\n',
            "lamina.toml:6: [render.flux] remote_clusters must be true or false",
            id="flux-bool",
        ),
        pytest.param(
            '[[promotion.freeze]]\nstart = "0 18 * * FRI"\nduration = "2h"\nenvironments = ["prod"]\n'
            'timezone = "Mars/Olympus"\n',
            "lamina.toml:5: [[promotion.freeze]] timezone 'Mars/Olympus' is not an IANA time zone like "
            "'Europe/Berlin'",
            id="timezone",
        ),
        pytest.param(
            '[[promotion.freeze]]\nstart = "0 25 * * *"\nduration = "2h"\nenvironments = ["prod"]\n',
            "lamina.toml:5: [[promotion.freeze]] start: '0 25 * * *' is not a valid cron expression",
            id="cron",
        ),
    ],
)
def test_bad_settings_name_their_line(write_repo: WriteRepo, extra: str, message: str) -> None:
    with pytest.raises(FleetError) as caught:
        settings(write_repo, "\n" + extra)
    assert str(caught.value) == message
