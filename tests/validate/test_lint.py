"""Lint (warnings, which still fail validate): a key set twice in one layer, overrides that change nothing."""

from __future__ import annotations

import pytest

from conftest import WriteRepo
from lamina.resolve.repository import Repository
from lamina.validate import runner
from lamina.validate.diagnostics import Check, Severity

from .fleets import FLEET, Validate


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"base/zz.toml": '[agent]\nmodel = "large"\n'},
            [
                "base/zz.toml:2: base: agent.model: base sets agent.model in base/agent.toml:2 too; "
                "base/zz.toml wins because files merge in name order; set it in one file"
            ],
            id="same-key-in-two-files-of-a-layer",
        ),
        pytest.param(
            {"base/zz.toml": 'agent = {"$replace" = {model = "large"}}\n'},
            [
                "base/zz.toml:1: base: agent: base sets agent.model in base/agent.toml:2 too; "
                "base/zz.toml wins because files merge in name order; set it in one file"
            ],
            id="a-table-and-a-key-inside-it",
        ),
        pytest.param(
            {"overlays/production/agent-patch.toml": "[agent]\ntemperature = 0.2   # same as base\n"},
            [
                "overlays/production/agent-patch.toml:2: overlays/production: agent.temperature: "
                "dead override: overlays/production sets the value it already inherits from base "
                "(base/agent.toml:3); the line changes nothing"
            ],
            id="dead-overlay-override-reported-once",
        ),
        pytest.param(
            {
                "overlays/production/agent-patch.toml": "[agent]\ntemperature = 0.1   # steadier\n",
                "clusters/eu-1.toml": "[agent]\ntemperature = 0.1   # steadier here too\n",
            },
            [
                "clusters/eu-1.toml:2: clusters/eu-1: agent.temperature: dead override: clusters/eu-1 "
                "sets the value it already inherits from overlays/production "
                "(overlays/production/agent-patch.toml:2); the line changes nothing"
            ],
            id="dead-cluster-override",
        ),
        pytest.param(
            {"overlays/staging/agent-patch.toml": '[agent]\napi_key = {secret = "openai/api-key"}\n'},
            [
                "overlays/staging/agent-patch.toml:2: overlays/staging: agent.api_key: dead override: "
                "overlays/staging sets the value it already inherits from base (base/agent.toml:4); "
                "the line changes nothing"
            ],
            id="same-secret-reference",
        ),
        pytest.param(
            {"overlays/staging/agent-patch.toml": "[guardrails]\nmax_tool_calls = 10.0   # a float now\n"},
            [],
            id="int-and-float-differ",
        ),
        pytest.param(
            {
                "base/topics.toml": 'topics = ["a"]\n',
                "overlays/staging/agent-patch.toml": 'topics = {"$append" = []}\n',
            },
            [],
            id="directives-are-not-compared",
        ),
    ],
)
def test_lint(validate: Validate, files: dict[str, str], expected: list[str]) -> None:
    assert validate(files) == expected


def test_lint_problems_are_warnings(write_repo: WriteRepo) -> None:
    root = write_repo({**FLEET, "base/zz.toml": '[agent]\nmodel = "large"\n'})
    with Repository(root) as repo:
        (problem,) = runner.validate(repo)
    assert (problem.check, problem.severity) == (Check.LINT, Severity.WARNING)
    assert problem.to_json() == {
        "check": "lint",
        "severity": "warning",
        "target": None,
        "layer": "base",
        "key": "agent.model",
        "place": "base/zz.toml:2",
        "file": "base/zz.toml",
        "line": 2,
        "message": "base sets agent.model in base/agent.toml:2 too; base/zz.toml wins because files merge "
        "in name order; set it in one file",
    }
