"""Progress on long work: a live display with waves on a terminal, one plain line per cluster
when piped, nothing extra under ``--json``; times read relative on a terminal."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_support import run_lamina as lamina
from cli_support import run_on_a_terminal
from lamina.cli import output

USER = {"LAMINA_USER": "ops@example.com"}
PRODUCTION = ["production/prod-us-1", "production/prod-us-2"]


def test_apply_piped_prints_one_line_per_cluster_by_wave(example_repo: Path) -> None:
    done = lamina("apply", "production", cwd=example_repo, env=USER)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "applying wave 1 [1/2] production/prod-us-1: applied",
        "applying wave 2 [2/2] production/prod-us-2: applied",
    ]
    assert "prod-us-1" in done.stdout  # the result table stays on stdout


def test_drift_piped_prints_one_line_per_cluster(example_repo: Path) -> None:
    assert lamina("apply", "production", cwd=example_repo, env=USER).returncode == 0
    done = lamina("drift", "production", cwd=example_repo, env=USER)
    assert done.returncode == 0, done.stderr
    # the checks run at once: lines come as each finishes, counted in that order
    lines = done.stderr.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] in (
        ["production/prod-us-1: in-sync", "production/prod-us-2: in-sync"],
        ["production/prod-us-2: in-sync", "production/prod-us-1: in-sync"],
    )
    assert [line.split(" production/")[0] for line in lines] == [
        "checking drift [1/2]",
        "checking drift [2/2]",
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["apply", "production", "--json"], id="apply"),
        pytest.param(["drift", "production", "--json"], id="drift"),
        pytest.param(["validate", "--json"], id="validate"),
        pytest.param(["plan", "--json"], id="plan"),
    ],
)
def test_json_prints_nothing_but_json(example_repo: Path, args: list[str]) -> None:
    done = lamina(*args, cwd=example_repo, env=USER)
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr == ""
    json.loads(done.stdout)


def test_apply_on_a_terminal_shows_waves_as_sections(example_repo: Path) -> None:
    text = _on_a_terminal(["apply", "production"], example_repo)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    wave_1, wave_2 = lines.index("wave 1"), lines.index("wave 2")
    assert wave_1 < wave_2
    assert "production/prod-us-1  applied" in lines[wave_1 + 1 : wave_2]
    assert "production/prod-us-2  applied" in lines[wave_2 + 1 :]


def _on_a_terminal(args: list[str], cwd: Path) -> str:
    """What a person sees running lamina ARGS on a 120-column terminal (colours removed)."""
    code, text = run_on_a_terminal(args, cwd, {**USER, "COLUMNS": "120", "LINES": "40"})
    assert code == 0, text
    return text


NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(NOW - timedelta(seconds=20), "just now", id="seconds"),
        pytest.param(NOW - timedelta(minutes=5, seconds=59), "5 min ago", id="minutes"),
        pytest.param(NOW - timedelta(hours=3, minutes=59), "3 h ago", id="hours"),
        pytest.param(NOW - timedelta(days=2, hours=23), "2 d ago", id="days"),
        pytest.param(NOW + timedelta(hours=4, minutes=1), "in 4 h", id="future"),
    ],
)
def test_relative_times(when: datetime, expected: str) -> None:
    assert output.relative(when, NOW) == expected


def test_times_piped_are_absolute_utc() -> None:
    # under pytest stdout is not a terminal: the machine-readable form alone
    assert output.moment("2026-12-03T14:05:09.123456+01:00") == "2026-12-03T13:05:09Z"


def test_audit_on_a_terminal_reads_relative_and_absolute(example_repo: Path) -> None:
    assert (
        lamina(
            "freeze", "staging", "--reason", "release week", "--until", "2h", cwd=example_repo, env=USER
        ).returncode
        == 0
    )
    text = _on_a_terminal(["audit"], example_repo)
    assert re.search(r"just now, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
