"""[[ordered]]: along each promotion step a value may only tighten, per environment and per cluster."""

from __future__ import annotations

import pytest

from conftest import WriteRepo
from lamina.resolve.repository import Repository
from lamina.validate import runner

from .fleets import FLEET, Validate

MAX_TOOL_CALLS = '[[ordered]]\nkey = "guardrails.max_tool_calls"\ndirection = "non-increasing"\n'
PII = '[[ordered]]\nkey = "guardrails.pii_redaction"\ndirection = "non-decreasing"\n'


def test_production_eu_looser_than_production(validate: Validate) -> None:
    problems = validate(
        {
            "policies/ordered.toml": MAX_TOOL_CALLS,
            "overlays/production-eu/agent-patch.toml": "[guardrails]\nmax_tool_calls = 12   # slow tools\n",
        }
    )
    assert problems == [
        "overlays/production-eu/agent-patch.toml:2: production-eu: guardrails.max_tool_calls: "
        "production-eu has 12, greater than 10 in its upstream production; along the promotion path "
        "it may only stay or decrease (non-increasing, policies/ordered.toml:1)"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "policies/ordered.toml": MAX_TOOL_CALLS,
                "overlays/staging/agent-patch.toml": "[guardrails]\nmax_tool_calls = 15   # evals\n",
            },
            [],
            id="tightening-passes",
        ),
        pytest.param(
            {
                "policies/ordered.toml": MAX_TOOL_CALLS,
                "clusters/prod-1.toml": "[guardrails]\nmax_tool_calls = 20   # batch jobs here\n",
            },
            [
                "clusters/prod-1.toml:2: production/prod-1: guardrails.max_tool_calls: "
                "production/prod-1 has 20, greater than 10 in its upstream staging; along the promotion "
                "path it may only stay or decrease (non-increasing, policies/ordered.toml:1)"
            ],
            id="cluster-override-against-upstream-environment",
        ),
        pytest.param(
            {
                "policies/ordered.toml": PII,
                "overlays/production-eu/agent-patch.toml": "[guardrails]\npii_redaction = false   # oops\n",
            },
            [
                "overlays/production-eu/agent-patch.toml:2: production-eu: guardrails.pii_redaction: "
                "production-eu has false, less than true in its upstream production; along the promotion "
                "path it may only stay or increase (non-decreasing, policies/ordered.toml:1)"
            ],
            id="non-decreasing-booleans",
        ),
        pytest.param(
            {
                "policies/ordered.toml": MAX_TOOL_CALLS,
                "overlays/production/agent-patch.toml": (
                    '[guardrails]\nmax_tool_calls = {"$replace" = "ten"}   # words now\n'
                ),
            },
            [
                "overlays/production/agent-patch.toml:2: production: guardrails.max_tool_calls: must be "
                "non-increasing along the promotion path (policies/ordered.toml:1), but production has "
                "a string and its upstream staging has a number, which cannot be compared",
                "overlays/production/agent-patch.toml:2: production-eu: guardrails.max_tool_calls: must be "
                "non-increasing along the promotion path (policies/ordered.toml:1), but production-eu has "
                "a string and its upstream production has a string, which cannot be compared",
            ],
            id="values-that-cannot-be-compared",
        ),
        pytest.param(
            {
                "policies/ordered.toml": MAX_TOOL_CALLS.replace(
                    "guardrails.max_tool_calls", "agent.max_tokens"
                ),
                "overlays/production-eu/agent-patch.toml": "[agent]\nmax_tokens = 900   # EU only\n",
            },
            [],
            id="absent-upstream-is-not-compared",
        ),
    ],
)
def test_ordered_constraints(validate: Validate, files: dict[str, str], expected: list[str]) -> None:
    assert validate(files) == expected


def test_only_promotion_steps_touching_the_selected_environments(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            **FLEET,
            "policies/ordered.toml": MAX_TOOL_CALLS,
            "overlays/production/agent-patch.toml": "[guardrails]\nmax_tool_calls = 11   # more\n",
            "overlays/production-eu/agent-patch.toml": "[guardrails]\nmax_tool_calls = 12   # more\n",
        }
    )
    with Repository(root) as repo:
        eu = [str(d) for d in runner.validate(repo, ["production-eu"])]
        staging = [d.target for d in runner.validate(repo, ["staging"])]
    assert eu == [
        "overlays/production-eu/agent-patch.toml:2: production-eu: guardrails.max_tool_calls: "
        "production-eu has 12, greater than 11 in its upstream production; along the promotion path "
        "it may only stay or decrease (non-increasing, policies/ordered.toml:1)"
    ]
    assert staging == ["production"]  # staging -> production is a step from staging
