"""JSON Schema: every error, named by target and key, placed at the layer that set the value."""

from __future__ import annotations

import json

import pytest

from conftest import WriteRepo
from lamina.errors import InputError
from lamina.resolve.repository import Repository
from lamina.validate import runner

from .fleets import FLEET, Validate


def schema(properties: dict[str, object], **extra: object) -> str:
    return json.dumps(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
        }
        | extra,
        indent=2,
    )


AGENT = {"agent": {"type": "object", "properties": {"temperature": {"type": "number", "maximum": 1}}}}


def test_value_from_a_cluster_layer_is_placed_in_the_cluster_file(validate: Validate) -> None:
    problems = validate(
        {
            "schema/agent.schema.json": schema(AGENT),
            "clusters/eu-1.toml": """
                [agent]
                temperature = 1.5   # warmer answers for the EU launch
            """,
        }
    )
    assert problems == [
        "clusters/eu-1.toml:2: production-eu/eu-1: agent.temperature: "
        "1.5 is greater than the maximum of 1 (schema/agent.schema.json)"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "schema/agent.schema.json": schema(
                    {"agent": {"type": "object", "properties": {"model": {"enum": ["small", "large"]}}}}
                ),
                "overlays/production/agent-patch.toml": '[agent]\nmodel = "huge"   # bigger\n',
            },
            [
                "overlays/production/agent-patch.toml:2: production/prod-1: agent.model: "
                "'huge' is not one of ['small', 'large'] (schema/agent.schema.json)",
                "overlays/production/agent-patch.toml:2: production-eu/eu-1: agent.model: "
                "'huge' is not one of ['small', 'large'] (schema/agent.schema.json)",
            ],
            id="overlay-value-in-every-target-it-reaches",
        ),
        pytest.param(
            {"schema/agent.schema.json": schema({"agent": {"type": "object", "required": ["provider"]}})},
            [
                f"base/agent.toml:1: {target}: agent: "
                "'provider' is a required property (schema/agent.schema.json)"
                for target in ("staging/stg-1", "production/prod-1", "production-eu/eu-1")
            ],
            id="required-key-placed-at-its-table",
        ),
        pytest.param(
            {
                "schema/agent.schema.json": schema({}, required=["memory"]),
                "overlays/staging/agent-patch.toml": "",
            },
            [
                f"{target}: 'memory' is a required property (schema/agent.schema.json)"
                for target in ("staging/stg-1", "production/prod-1", "production-eu/eu-1")
            ],
            id="required-top-level-key-has-no-place",
        ),
        pytest.param(
            {
                "schema/agent.schema.json": schema(
                    {
                        "guardrails": {
                            "type": "object",
                            "properties": {"max_tool_calls": {}, "pii_redaction": {}},
                            "additionalProperties": False,
                        }
                    }
                ),
                "clusters/stg-1.toml": "[guardrails]\nmax_tools = 3   # typo\n",
            },
            [
                "clusters/stg-1.toml:2: staging/stg-1: guardrails.max_tools: "
                "is not allowed here (additionalProperties is false) (schema/agent.schema.json)"
            ],
            id="unexpected-key-placed-where-it-is-written",
        ),
        pytest.param(
            {
                "schema/agent.schema.json": schema(
                    {"agent": {"type": "object", "properties": {"endpoint": {"pattern": "^https://"}}}}
                ),
                "overlays/staging/agent-patch.toml": (
                    '[agent]\nendpoint = "http://llm.local/?auth=sk-abcdefghijklmnopqrstuvwx"   # proxy\n'
                ),
            },
            [
                "overlays/staging/agent-patch.toml:2: staging/stg-1: agent.endpoint: "
                "sk-…(masked) does not match '^https://' (schema/agent.schema.json)",
                "overlays/staging/agent-patch.toml:2: overlays/staging: agent.endpoint: plaintext credential "
                "sk-…(masked): the literal looks like an OpenAI-style API key; "
                'use {secret = "name/key"} or mark the line "# lamina: allow-plaintext"',
            ],
            id="credential-in-an-offending-value-is-masked",
        ),
        pytest.param(
            {"schema/agent.schema.json": schema(AGENT), "schema/notes.json": "not a schema"},
            [],
            id="only-schema-json-files-are-schemas",
        ),
    ],
)
def test_schema_errors(validate: Validate, files: dict[str, str], expected: list[str]) -> None:
    assert validate(files) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{\n  "type": "object",\n  "properties": {,}\n}\n',
            "schema/agent.schema.json:3:18: invalid JSON: Expecting property name enclosed in double quotes",
            id="not-json",
        ),
        pytest.param(
            '{\n  "type": "object",\n  "properties": {\n    "agent": {"type": "objekt"}\n  }\n}\n',
            "schema/agent.schema.json:4: not a valid JSON Schema (draft 2020-12) at properties.agent.type: "
            "'objekt' is not valid under any of the given schemas",
            id="not-a-schema",
        ),
        pytest.param(
            '{"$ref": "https://schemas.example.com/agent.json"}\n',
            "schema/agent.schema.json: cannot resolve $ref: Unresolvable: https://schemas.example.com/agent.json",
            id="remote-ref-is-never-fetched",
        ),
    ],
)
def test_malformed_schema_is_an_input_error(write_repo: WriteRepo, text: str, expected: str) -> None:
    root = write_repo({**FLEET, "schema/agent.schema.json": text})
    with Repository(root) as repo, pytest.raises(InputError) as caught:
        runner.validate(repo)
    assert str(caught.value) == expected
