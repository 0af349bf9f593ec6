"""[locks]: keys only base/ may set, for every environment or for one."""

from __future__ import annotations

import pytest

from conftest import WriteRepo
from lamina.errors import FleetError
from lamina.resolve.repository import Repository
from lamina.validate import runner

from .fleets import FLEET, LAMINA_TOML, Validate

LOCKS = """
[locks]
keys = ["guardrails.pii_redaction"]

[locks.production-eu]
keys = ["agent.model"]
"""
LOCKED = {"lamina.toml": LAMINA_TOML + LOCKS}
# line numbers of the two keys arrays in lamina.toml
FLEET_LOCK = f"lamina.toml:{LAMINA_TOML.count(chr(10)) + 3}"
EU_LOCK = f"lamina.toml:{LAMINA_TOML.count(chr(10)) + 6}"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"overlays/staging/agent-patch.toml": "[guardrails]\npii_redaction = false   # faster\n"},
            [
                "overlays/staging/agent-patch.toml:2: overlays/staging: guardrails.pii_redaction: "
                "overlays/staging sets guardrails.pii_redaction, but guardrails.pii_redaction is locked "
                f"({FLEET_LOCK}): only base/ may set it"
            ],
            id="overlay-sets-a-locked-key",
        ),
        pytest.param(
            {"clusters/prod-1.toml": 'guardrails = {"$replace" = {max_tool_calls = 5}}   # reset\n'},
            [
                "clusters/prod-1.toml:1: clusters/prod-1: guardrails.pii_redaction: clusters/prod-1 sets "
                f"guardrails, but guardrails.pii_redaction is locked ({FLEET_LOCK}): only base/ may set it"
            ],
            id="cluster-replaces-the-table-holding-it",
        ),
        pytest.param(
            {"overlays/production/agent-patch.toml": '[agent]\nmodel = "large"   # quality\n'},
            [
                "overlays/production/agent-patch.toml:2: overlays/production: agent.model: "
                "overlays/production sets agent.model, but agent.model is locked for production-eu "
                f"({EU_LOCK}): only base/ may set it"
            ],
            id="environment-lock-binds-the-overlays-it-extends",
        ),
        pytest.param(
            {"overlays/staging/agent-patch.toml": '[agent]\nmodel = "large"   # evals\n'},
            [],
            id="environment-lock-leaves-others-free",
        ),
        pytest.param(
            {"overlays/staging/agent-patch.toml": "[guardrails]\nmax_tool_calls = 5   # a sibling\n"},
            [],
            id="sibling-of-a-locked-key",
        ),
    ],
)
def test_locks(validate: Validate, files: dict[str, str], expected: list[str]) -> None:
    assert validate({**LOCKED, **files}) == expected


@pytest.mark.parametrize(
    ("locks", "expected"),
    [
        pytest.param(
            '[locks]\nkeys = "agent.model"\n',
            "lamina.toml:24: [locks] keys must be a list of dotted keys",
            id="not-a-list",
        ),
        pytest.param(
            '[locks.prod]\nkeys = ["agent.model"]\n',
            "lamina.toml:23: [locks.prod]: unknown environment 'prod' "
            "(known: production, production-eu, staging)",
            id="unknown-environment",
        ),
        pytest.param(
            '[locks]\nkeys = ["agent..model"]\n',
            "lamina.toml:24: [locks] keys: cannot read key 'agent..model' at position 7",
            id="bad-key",
        ),
    ],
)
def test_bad_locks_table_is_a_fleet_error(write_repo: WriteRepo, locks: str, expected: str) -> None:
    root = write_repo({**FLEET, "lamina.toml": LAMINA_TOML + "\n" + locks})
    # lamina.toml is read whole when the repository opens, so every command refuses it
    with pytest.raises(FleetError) as caught, Repository(root) as repo:
        runner.validate(repo)
    assert str(caught.value) == expected
