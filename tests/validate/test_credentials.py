"""Plaintext credentials: found in every file of every layer, reported by file:line, never shown."""

from __future__ import annotations

import pytest

from lamina.validate import credentials

from .fleets import Validate

OPENAI = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
GITHUB = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
SLACK = "xoxb-1234567890-abcdefghij"
AWS = "AKIAABCDEFGHIJKLMNOP"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        pytest.param("api_key", "abc", True, id="api_key"),
        pytest.param("apiKey", "abc", True, id="camel-case"),
        pytest.param("auth_token", "abc", True, id="token"),
        pytest.param("CLIENT_SECRET", "abc", True, id="upper-case"),
        pytest.param("db_password", "abc", True, id="password"),
        pytest.param("gcp_credential", "abc", True, id="credential"),
        pytest.param("api_key", "", False, id="empty"),
        pytest.param("api_key", "${config.keys.openai}", False, id="only-a-reference"),
        pytest.param("stop_tokens", "</s>", False, id="plural-is-not-a-credential-name"),
        pytest.param("model", "gpt-4o", False, id="ordinary"),
        pytest.param("note", f"use {OPENAI} here", True, id="openai-shape-anywhere"),
        pytest.param(None, GITHUB, True, id="github-shape-in-a-list"),
        pytest.param("channel", SLACK, True, id="slack-shape"),
        pytest.param("id", AWS, True, id="aws-shape"),
        pytest.param("ca", PEM, True, id="pem-block"),
        pytest.param("tool", "sk-learn", False, id="short-sk-is-not-a-key"),
    ],
)
def test_what_looks_like_a_credential(key: str | None, text: str, expected: bool) -> None:
    assert credentials.looks_like_credential(key, text) is expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(OPENAI, "sk-…(masked)", id="openai"),
        pytest.param(GITHUB, "gh…(masked)", id="github"),
        pytest.param(PEM, "-----BEGIN…(masked)", id="pem"),
        pytest.param("hunter2", "(masked)", id="by-name"),
    ],
)
def test_mask_shows_at_most_the_public_prefix(text: str, masked: str) -> None:
    assert credentials.mask(text) == masked


def test_redactor_masks_the_configs_credentials_in_any_text() -> None:
    redactor = credentials.Redactor({"db": {"password": "hunter2"}, "tools": [{"token": SLACK}]})
    text = f"'hunter2' and {SLACK} and {PEM} and {AWS}"
    assert redactor.redact(text) == "'(masked)' and xox…(masked) and -----BEGIN…(masked) and AKIA…(masked)"


def test_every_file_of_every_layer_is_scanned(validate: Validate) -> None:
    problems = validate(
        {
            "base/db.toml": """
                [db]
                password = "hunter2"
                dsn      = "postgres://db.internal/agents"
            """,
            "overlays/staging/agent-patch.toml": f"""
                # staging talks to the real vendor for now
                [db]
                password = {{secret = "db/password"}}   # the base value is still in git

                [agent]
                fallback_api_key = "public-demo-key"   # lamina: allow-plaintext (a published demo key)
                system_prompt    = {{file = "prompts/system.txt"}}
                stop_tokens      = ["</s>", "{GITHUB}"]

                [tls]
                ca = '''
                {PEM}'''
            """,
            "overlays/staging/prompts/system.txt": f"Never say {OPENAI} aloud.\n",
            "overlays/production/agent-patch.toml": f"""
                [tools]
                "$merge_by" = "name"
                "$items" = [
                  {{ name = "crm", auth_token = "{SLACK}" }},
                ]
            """,
            "clusters/eu-1.yaml": "db:\n  admin_password: hunter3\n",
            "clusters/prod-1.json": '{\n  "aws": {\n    "access_key": ""\n  },\n  "id": "' + AWS + '"\n}\n',
        }
    )
    hint = 'use {secret = "name/key"} or mark the line "# lamina: allow-plaintext"'
    assert problems == [
        "base/db.toml:2: base: db.password: plaintext credential (masked): the literal sits under the "
        f"credential-like key 'password'; {hint}",
        "overlays/staging/prompts/system.txt:1: overlays/staging: agent.system_prompt: plaintext credential "
        "sk-…(masked) in the text of overlays/staging/prompts/system.txt (read by agent.system_prompt): it "
        'looks like an OpenAI-style API key; use {secret = "name/key"} or mark the line '
        '"lamina: allow-plaintext"',
        f"overlays/staging/agent-patch.toml:8: overlays/staging: agent.stop_tokens[1]: plaintext credential "
        f"gh…(masked): the literal looks like a GitHub token; {hint}",
        "overlays/staging/agent-patch.toml:11: overlays/staging: tls.ca: plaintext credential "
        f"-----BEGIN…(masked): the literal looks like a PEM block; {hint}",
        "overlays/production/agent-patch.toml:4: overlays/production: "
        f'tools."$items"[0].auth_token: plaintext credential xox…(masked): the literal looks like a Slack '
        f"token; {hint}",
        "clusters/prod-1.json:5: clusters/prod-1: id: plaintext credential AKIA…(masked): the literal looks "
        f"like an AWS access key id; {hint}",
        "clusters/eu-1.yaml:2: clusters/eu-1: db.admin_password: plaintext credential (masked): the literal "
        f"sits under the credential-like key 'admin_password'; {hint}",
    ]
    assert not any(secret in "\n".join(problems) for secret in ("hunter", "abcdefghij", "MIIE", "BCDEFGH"))


def test_command_output_is_redacted_before_it_is_kept() -> None:
    from lamina.validate.credentials import MASK, redact_output

    printed = (
        "calling https://hooks.example/T0/B0/canary-webhook-path\n"
        "> Authorization: Bearer abc.def.ghi\n"
        "db postgresql://lamina:hunter2-pw@db.internal/state\n"
        "key sk-proj-abcdefghijklmnopqrstuvwx\n"
        "ok true\n"
    )
    kept = redact_output(printed, ["canary-webhook-path", "true"])
    assert "canary-webhook-path" not in kept and f"B0/{MASK}" in kept
    assert "abc.def.ghi" not in kept and f"Authorization: {MASK}" in kept
    assert "hunter2-pw" not in kept and f"lamina:{MASK}@db.internal" in kept
    assert "abcdefghijklmnopqrstuvwx" not in kept and f"sk-{MASK}" in kept
    assert "ok true" in kept  # values too short to be secrets are left alone


def test_the_variables_alert_settings_name_are_known_secrets() -> None:
    from lamina.fleet import alert_settings
    from lamina.source import documents

    text = """
[alerts]
for = "10m"

[alerts.production]
sinks = [
  {type = "slack", url_env = "SLACK_PROD_URL"},
  {type = "webhook", url_env = "HOOK_URL", secret_env = "HOOK_KEY"},
]
"""
    doc = documents.parse_document("lamina.toml", text.encode())
    alerts = alert_settings.load(doc, ["production"])
    assert alerts.variables() == {"SLACK_PROD_URL", "HOOK_URL", "HOOK_KEY"}
