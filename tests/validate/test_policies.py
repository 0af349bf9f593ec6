"""CEL policies: a false rule names the policy and the value's layer; a bad rule is bad input."""

from __future__ import annotations

import time

import pytest

from conftest import WriteRepo
from lamina.errors import InputError
from lamina.resolve.repository import Repository
from lamina.validate import policies, runner

from .fleets import FLEET, Validate

TARGETS = ("staging/stg-1", "production/prod-1", "production-eu/eu-1")


def policy(rule: str, when: str | None = None, name: str = "p") -> dict[str, str]:
    lines = ["[[policy]]", f"name = {name!r}", f"rule = {rule!r}"]
    if when is not None:
        lines.append(f"when = {when!r}")
    lines.append(f'message = "{name} failed"')
    return {"policies/p.toml": "\n".join(lines) + "\n"}


def test_false_rule_names_the_policy_and_the_layer_of_the_value(validate: Validate) -> None:
    problems = validate(
        {
            "policies/production.toml": """
                # keep production answers consistent
                [[policy]]
                name    = "cool-production"
                when    = "env.stage == 'production'"
                rule    = "config.agent.temperature <= 0.3"
                message = "production agents keep temperature at or below 0.3"
            """,
            "overlays/staging/agent-patch.toml": "[agent]\ntemperature = 0.9   # exploring\n",
            "clusters/eu-1.toml": "[agent]\ntemperature = 0.5   # warmer for the EU launch\n",
        }
    )
    assert problems == [
        "clusters/eu-1.toml:2: production-eu/eu-1: agent.temperature: production agents keep temperature "
        "at or below 0.3 (policy 'cool-production', policies/production.toml:2; agent.temperature is 0.5)"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            policy("config.agent.max_tokens <= 1000"),
            [
                f"policies/p.toml:1: {target}: agent.max_tokens: policy 'p' (policies/p.toml:1) cannot be "
                "evaluated: config.agent.max_tokens does not exist in this target "
                "(write has(config.agent.max_tokens) to allow its absence)"
                for target in TARGETS
            ],
            id="missing-key",
        ),
        pytest.param(
            policy("!has(config.agent.max_tokens) || config.agent.max_tokens <= 1000"),
            [],
            id="has-allows-absence",
        ),
        pytest.param(
            policy("config.guardrails.max_tool_calls <= 10.0", when="env.name == 'staging'"),
            [
                "base/agent.toml:7: staging/stg-1: guardrails.max_tool_calls: policy 'p' (policies/p.toml:1) "
                "cannot be evaluated: no operator for int and double "
                "(CEL does not mix int and double: write 10.0, or double(x))"
            ],
            id="int-against-double",
        ),
        pytest.param(
            policy("config.agent.model", when="env.name == 'staging'"),
            [
                "policies/p.toml:1: staging/stg-1: policy 'p': "
                "rule must evaluate to true or false, not a string"
            ],
            id="rule-not-boolean",
        ),
        pytest.param(
            policy("true", when="config.rollout.wave > 1"),
            [
                f"policies/p.toml:1: {target}: rollout: the when condition of policy 'p' (policies/p.toml:1) "
                "cannot be evaluated: config.rollout does not exist in this target "
                "(write has(config.rollout) to allow its absence)"
                for target in TARGETS
            ],
            id="when-cannot-be-evaluated",
        ),
        pytest.param(
            policy("config.agent.model == 'large'", when="env.stage == 'staging'"),
            [
                "base/agent.toml:2: staging/stg-1: agent.model: p failed "
                "(policy 'p', policies/p.toml:1; agent.model is \"small\")"
            ],
            id="when-selects-targets",
        ),
        pytest.param(
            policy(
                "cluster.labels.region == 'eu-west-1' && cluster.namespace == 'agents' && "
                "cluster.name == 'eu-1' && fleet.name == 'demo' && env.upstream == 'production' && "
                "env.stage == 'production'",
                when="env.name == 'production-eu'",
            ),
            [],
            id="env-cluster-fleet-variables",
        ),
        pytest.param(
            policy("env.upstream == null", when="env.name == 'staging'"),
            [],
            id="first-environment-has-null-upstream",
        ),
    ],
)
def test_policy_findings(validate: Validate, files: dict[str, str], expected: list[str]) -> None:
    assert validate(files) == expected


def test_a_costly_rule_is_stopped_not_hung(validate: Validate) -> None:
    topics = ", ".join(f'"t{n}"' for n in range(60))
    started = time.monotonic()
    problems = validate(
        {
            "base/topics.toml": f"topics = [{topics}]\n",
            **policy(
                "config.topics.all(a, config.topics.all(b, config.topics.all(c, a != '')))",
                when="env.name == 'staging'",
            ),
        }
    )
    assert time.monotonic() - started < 5
    assert problems == [
        "base/topics.toml:1: staging/stg-1: topics: policy 'p' (policies/p.toml:1) cannot be evaluated: "
        "evaluation stopped after 50000 steps; the expression costs too much"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            policy("config.agent.temperature <="),
            "policies/p.toml:1: policy 'p': rule: not valid CEL: syntax error at line 1, column 26",
            id="rule-syntax",
        ),
        pytest.param(
            policy("true", when="env.stage = 'production'"),
            "policies/p.toml:1: policy 'p': when: not valid CEL: syntax error at line 1, column 11",
            id="when-syntax",
        ),
        pytest.param(
            policy(" && ".join(["true"] * 300)),
            "policies/p.toml:1: policy 'p': rule: the expression is 2396 characters long; "
            "lamina refuses CEL over 2000 characters",
            id="too-long",
        ),
        pytest.param(
            {
                "policies/p.toml": (
                    '[[policy]]\nname = "p"\nrule = "true"\n\n[[policy]]\nname = "q"\nrule = "1 +"\n'
                )
            },
            "policies/p.toml:5: policy 'q': rule: not valid CEL: syntax error at line 1, column 3",
            id="names-the-second-policy",
        ),
    ],
)
def test_policy_that_does_not_compile_is_an_input_error(
    write_repo: WriteRepo, files: dict[str, str], expected: str
) -> None:
    root = write_repo({**FLEET, **files})
    with Repository(root) as repo, pytest.raises(InputError) as caught:
        runner.validate(repo)
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    ("expression", "paths"),
    [
        pytest.param("config.agent.temperature <= 0.3", [("agent", "temperature")], id="one"),
        pytest.param("config.tools.all(t, t.enabled)", [("tools",)], id="macro-is-not-a-key"),
        pytest.param("'config.x' == config . a.b", [("a", "b")], id="strings-and-spaces"),
        pytest.param("has(config.a) && myconfig.b == 1", [("a",)], id="has-and-other-names"),
    ],
)
def test_config_paths_a_rule_reads(expression: str, paths: list[tuple[str, ...]]) -> None:
    assert list(policies.config_paths(expression)) == paths


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("config.model.matches('^gpt-4')", True),
        ("config.model.matches('^claude')", False),
        ("matches(config.model, 'o$')", True),
        ("config.model.matches('')", True),
    ],
)
def test_matches_runs_re2(expression: str, expected: bool) -> None:
    from lamina.validate import cel

    assert cel.compile_expression(expression).evaluate({"config": {"model": "gpt-4o"}}) is expected


def test_a_bad_pattern_is_one_error_and_nothing_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    from lamina.validate import cel

    with pytest.raises(cel.CelError, match="invalid escape sequence"):
        cel.compile_expression("'aa'.matches('(a)\\\\1')").evaluate({})
    assert capfd.readouterr().err == ""
