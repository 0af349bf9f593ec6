"""The flag rules of a plan, one table per rule, on plain configs."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.core.paths import format_path
from lamina.errors import Place
from lamina.plan.flags import GuardrailRules, flags_between, leaf_changes
from lamina.resolve.values import FileText
from lamina.validate.policy_files import Ordered

NO_RULES = GuardrailRules()


def raised(
    old: dict[str, Any], new: dict[str, Any], rules: GuardrailRules = NO_RULES
) -> dict[str, list[str]]:
    """Flag name -> dotted paths that raised it."""
    return {flag.name: [format_path(path) for path in flag.paths] for flag in flags_between(old, new, rules)}


def ordered(key: str, direction: str) -> Ordered:
    path = tuple(key.split("."))
    return Ordered(key, path, direction, Place("policies/order.toml", 1))


# -- model and prompt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"agent": {"model": "gpt-4o"}},
            {"agent": {"model": "gpt-4.1"}},
            {"model-changed": ["agent.model"]},
            id="agent-model",
        ),
        pytest.param(
            {"agent": {"provider": "openai"}},
            {"agent": {"provider": "azure-openai"}},
            {"model-changed": ["agent.provider"]},
            id="agent-provider",
        ),
        pytest.param(
            {"retrieval": {"embedding_model": "a"}},
            {"retrieval": {"embedding_model": "b"}},
            {"model-changed": ["retrieval.embedding_model"]},
            id="any-leaf-named-model",
        ),
        pytest.param(
            {"agent": {"model": "a"}},
            {"agent": {}},
            {"model-changed": ["agent.model"]},
            id="model-removed",
        ),
        pytest.param(
            {"agent": {"max_model_tokens": 1}},
            {"agent": {"max_model_tokens": 2}},
            {},
            id="model-inside-a-longer-name-is-not-a-model",
        ),
        pytest.param(
            {"agent": {"temperature": 0.1}},
            {"agent": {"temperature": 0.2}},
            {},
            id="temperature-raises-no-flag",
        ),
    ],
)
def test_model_changed(old: dict[str, Any], new: dict[str, Any], expected: dict[str, list[str]]) -> None:
    assert raised(old, new) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"agent": {"instructions": FileText("Be brief.", "base/prompts/a.txt")}},
            {"agent": {"instructions": FileText("Be brief and kind.", "base/prompts/a.txt")}},
            {"prompt-changed": ["agent.instructions"]},
            id="file-text",
        ),
        pytest.param(
            {"agent": {"notes": "one\ntwo\n"}},
            {"agent": {"notes": "one\nthree\n"}},
            {"prompt-changed": ["agent.notes"]},
            id="multi-line-string",
        ),
        pytest.param(
            {"agent": {"greeting_prompt": "Hi"}},
            {"agent": {"greeting_prompt": "Hello"}},
            {"prompt-changed": ["agent.greeting_prompt"]},
            id="key-named-prompt",
        ),
        pytest.param(
            {"agent": {"system_prompt": FileText("Same text.\n", "base/prompts/a.txt")}},
            {"agent": {"system_prompt": "Same text.\n"}},
            {},
            id="same-text-from-elsewhere-is-no-change",
        ),
        pytest.param(
            {"agent": {"greeting": "Hi"}},
            {"agent": {"greeting": "Hello"}},
            {},
            id="one-line-string-raises-no-flag",
        ),
    ],
)
def test_prompt_changed(old: dict[str, Any], new: dict[str, Any], expected: dict[str, list[str]]) -> None:
    assert raised(old, new) == expected


# -- guardrails -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "loosened"),
    [
        pytest.param({"pii_redaction": True}, {"pii_redaction": False}, True, id="switch-turned-off"),
        pytest.param({"pii_redaction": True}, {}, True, id="switch-removed"),
        pytest.param({"pii_redaction": False}, {"pii_redaction": True}, False, id="switch-turned-on"),
        pytest.param({"allow_profanity": False}, {"allow_profanity": True}, True, id="permissive-switch-on"),
        pytest.param(
            {"allow_profanity": True}, {"allow_profanity": False}, False, id="permissive-switch-off"
        ),
        pytest.param({"toxicity_threshold": 0.5}, {"toxicity_threshold": 0.7}, True, id="threshold-raised"),
        pytest.param({"toxicity_threshold": 0.7}, {"toxicity_threshold": 0.5}, False, id="threshold-lowered"),
        pytest.param({"max_tool_calls": 10}, {"max_tool_calls": 25}, True, id="max-raised"),
        pytest.param({"max_tool_calls": 10}, {"max_tool_calls": 8}, False, id="max-lowered"),
        pytest.param({"max_tool_calls": 10}, {}, True, id="max-removed"),
        pytest.param({}, {"max_tool_calls": 10}, False, id="max-added"),
        pytest.param({"maxToolCalls": 10}, {"maxToolCalls": 11}, True, id="camel-case-max-raised"),
        pytest.param({"spend_limit": 100}, {"spend_limit": 200}, True, id="limit-raised"),
        pytest.param(
            {"rate_limits": {"per_minute": 60}}, {"rate_limits": {"per_minute": 90}}, True, id="inside-limits"
        ),
        pytest.param({"min_confidence": 0.8}, {"min_confidence": 0.6}, True, id="min-lowered"),
        pytest.param({"min_confidence": 0.6}, {"min_confidence": 0.8}, False, id="min-raised"),
        pytest.param(
            {"blocked_topics": ["legal", "medical"]},
            {"blocked_topics": ["legal"]},
            True,
            id="blocklist-loses-an-item",
        ),
        pytest.param(
            {"blocked_topics": ["legal"]},
            {"blocked_topics": ["legal", "medical"]},
            False,
            id="blocklist-gains-an-item",
        ),
        pytest.param(
            {"blocked_topics": ["legal", "medical"]},
            {"blocked_topics": ["medical", "legal"]},
            False,
            id="blocklist-reordered",
        ),
        pytest.param({"deny_tools": ["shell"]}, {}, True, id="denylist-removed"),
        pytest.param({"allowed_tools": ["a"]}, {"allowed_tools": ["a", "b"]}, True, id="allowlist-gains"),
        pytest.param({"allowed_tools": ["a", "b"]}, {"allowed_tools": ["a"]}, False, id="allowlist-loses"),
        pytest.param({"mode": "strict"}, {"mode": "lenient"}, False, id="unknown-names-are-not-judged"),
    ],
)
def test_guardrail_default_rules(old: dict[str, Any], new: dict[str, Any], loosened: bool) -> None:
    flags = raised({"guardrails": old}, {"guardrails": new})
    assert ("guardrail-loosened" in flags) is loosened


def test_guardrail_rules_apply_only_to_the_configured_globs() -> None:
    old = {"guardrails": {"max_tool_calls": 10}, "safety": {"max_tool_calls": 10}}
    new = {"guardrails": {"max_tool_calls": 20}, "safety": {"max_tool_calls": 20}}
    assert raised(old, new) == {"guardrail-loosened": ["guardrails.max_tool_calls"]}
    rules = GuardrailRules(globs=("safety.*",))
    assert raised(old, new, rules) == {"guardrail-loosened": ["safety.max_tool_calls"]}


@pytest.mark.parametrize(
    ("direction", "old", "new", "loosened"),
    [
        pytest.param("non-increasing", 10, 12, True, id="non-increasing-raised"),
        pytest.param("non-increasing", 10, 8, False, id="non-increasing-lowered"),
        pytest.param("non-increasing", 10, None, True, id="non-increasing-removed"),
        pytest.param("non-decreasing", 10, 8, True, id="non-decreasing-lowered"),
        pytest.param("non-decreasing", 10, 12, False, id="non-decreasing-raised"),
    ],
)
def test_guardrail_along_an_ordered_key(direction: str, old: int, new: int | None, loosened: bool) -> None:
    rules = GuardrailRules(ordered=(ordered("limits.max_tool_calls", direction),))
    before = {"limits": {"max_tool_calls": old}}
    after = {"limits": {} if new is None else {"max_tool_calls": new}}
    assert ("guardrail-loosened" in raised(before, after, rules)) is loosened


def test_an_ordered_direction_beats_the_name_rule() -> None:
    # a *threshold* raised is looser by name, but this fleet says higher is stricter
    rules = GuardrailRules(ordered=(ordered("guardrails.toxicity_threshold", "non-decreasing"),))
    old = {"guardrails": {"toxicity_threshold": 0.5}}
    new = {"guardrails": {"toxicity_threshold": 0.7}}
    assert raised(old, new) == {"guardrail-loosened": ["guardrails.toxicity_threshold"]}
    assert raised(old, new, rules) == {}


# -- tools and secrets ----------------------------------------------------------------------------

TOOLS = [
    {"name": "search", "endpoint": "https://search.example.com", "timeout": 5},
    {"name": "crm", "endpoint": "https://crm.example.com", "timeout": 10},
]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param(
            [TOOLS[0], {**TOOLS[1], "endpoint": "https://crm.eu.example.com"}],
            {"tool-endpoint-changed": ["tools[crm].endpoint"]},
            id="endpoint-changed",
        ),
        pytest.param(list(reversed(TOOLS)), {}, id="tools-reordered"),
        pytest.param(
            [*TOOLS, {"name": "billing", "url": "https://billing.example.com"}],
            {"tool-endpoint-changed": ["tools[billing].url"]},
            id="tool-added",
        ),
        pytest.param([TOOLS[0]], {"tool-endpoint-changed": ["tools[crm].endpoint"]}, id="tool-removed"),
        pytest.param([TOOLS[0], {**TOOLS[1], "timeout": 20}], {}, id="timeout-raises-no-flag"),
    ],
)
def test_tool_endpoint_changed(new: list[dict[str, Any]], expected: dict[str, list[str]]) -> None:
    assert raised({"tools": TOOLS}, {"tools": new}) == expected


def test_an_endpoint_outside_tools_raises_no_flag() -> None:
    old = {"observability": {"endpoint": "http://otel:4317"}}
    new = {"observability": {"endpoint": "http://otel-2:4317"}}
    assert raised(old, new) == {}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param({"secret": "openai/api-key"}, {"secret": "openai/api-key-v2"}, id="changed"),
        pytest.param({"secret": "openai/api-key"}, {"secret": "vault:kv/agents#openai"}, id="kind-changed"),
        pytest.param(None, {"secret": "openai/api-key"}, id="added"),
        pytest.param({"secret": "openai/api-key"}, None, id="removed"),
        pytest.param("plain-value", {"secret": "openai/api-key"}, id="literal-became-a-reference"),
    ],
)
def test_secret_ref_changed(old: Any, new: Any) -> None:
    before = {"agent": {} if old is None else {"api_key": old}}
    after = {"agent": {} if new is None else {"api_key": new}}
    assert raised(before, after) == {"secret-ref-changed": ["agent.api_key"]}


# -- leaf changes ---------------------------------------------------------------------------------


def test_a_new_table_counts_as_each_of_its_leaves() -> None:
    changes = list(leaf_changes({}, {"guardrails": {"a": 1, "b": {"c": 2}}}))
    assert [format_path(change.path) for change in changes] == ["guardrails.a", "guardrails.b.c"]


def test_flags_come_in_a_fixed_order_with_every_path() -> None:
    old = {
        "agent": {"model": "a", "api_key": {"secret": "x/y"}},
        "guardrails": {"max_tool_calls": 1, "pii_redaction": True},
    }
    new = {
        "agent": {"model": "b", "api_key": {"secret": "x/z"}},
        "guardrails": {"max_tool_calls": 2, "pii_redaction": False},
    }
    assert raised(old, new) == {
        "model-changed": ["agent.model"],
        "guardrail-loosened": ["guardrails.max_tool_calls", "guardrails.pii_redaction"],
        "secret-ref-changed": ["agent.api_key"],
    }
