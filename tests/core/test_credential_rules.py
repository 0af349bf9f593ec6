"""The credential detector: gitleaks' published rules plus lamina's own, spans of the secret only."""

from __future__ import annotations

import pytest

from lamina.core import credential_rules

GOOGLE = "AIzaSyC8fQ2nR7tLm4xVb9KpW3eHs6uJ0dYq1Zo"
HUGGING_FACE = "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"
GITLAB = "glpat-x7Kq9Vm2Lp4Rt8Ws3Nb6"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize(
    ("secret", "rule", "what", "shown"),
    [
        pytest.param(
            GOOGLE, "gcp-api-key", "matches the gitleaks rule gcp-api-key", "AIza…(masked)", id="google"
        ),
        pytest.param(
            HUGGING_FACE,
            "huggingface-access-token",
            "matches the gitleaks rule huggingface-access-token",
            "hf_…(masked)",
            id="hugging-face",
        ),
        pytest.param(
            GITLAB, "gitlab-pat", "matches the gitleaks rule gitlab-pat", "glpat-…(masked)", id="gitlab"
        ),
        pytest.param(JWT, "jwt", "matches the gitleaks rule jwt", "ey…(masked)", id="jwt"),
        pytest.param(
            "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
            "lamina",
            "looks like an OpenAI-style API key",
            "sk-…(masked)",
            id="openai-lamina-rule",
        ),
    ],
)
def test_each_shape_is_found_and_only_it_is_masked(secret: str, rule: str, what: str, shown: str) -> None:
    text = f"You are a support agent.\nCall the API with {secret} and be brief.\n"
    [found] = credential_rules.find(text)
    assert (found.rule, found.what, found.masked) == (rule, what, shown)
    assert text[found.start : found.end] == secret
    assert (
        credential_rules.mask_text(text)
        == f"You are a support agent.\nCall the API with {shown} and be brief.\n"
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(
            "dsn = postgresql://admin:hunter2@db.internal/agents",
            "dsn = postgresql://admin:(masked)@db.internal/agents",
            id="url-password",
        ),
        pytest.param(
            "https://bot:s3cr%40t@hooks.example/x", "https://bot:(masked)@hooks.example/x", id="https"
        ),
        pytest.param(
            "postgresql://admin:${DB_PASSWORD}@db/x",
            "postgresql://admin:${DB_PASSWORD}@db/x",
            id="placeholder",
        ),
        pytest.param("postgresql://admin@db/x", "postgresql://admin@db/x", id="no-password"),
        pytest.param(
            "see https://example.com/a:b@c", "see https://example.com/a:b@c", id="colon-in-the-path"
        ),
        pytest.param(
            "glpat-aaaaaaaaaaaaaaaaaaaa", "glpat-aaaaaaaaaaaaaaaaaaaa", id="below-the-entropy-floor"
        ),
        pytest.param(
            "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",
            "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",
            id="allowlisted",
        ),
        pytest.param("They keep the key under the mat.", "They keep the key under the mat.", id="prose"),
    ],
)
def test_what_is_masked_and_what_is_left(text: str, masked: str) -> None:
    assert credential_rules.mask_text(text) == masked


def test_two_credentials_in_one_text_are_both_masked() -> None:
    text = f"first {GOOGLE} then {GITLAB}."
    assert credential_rules.mask_text(text) == "first AIza…(masked) then glpat-…(masked)."


def test_the_rule_set_is_gitleaks_published_one() -> None:
    assert credential_rules.rule_count() > 200


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        pytest.param("", 0.0, id="empty"),
        pytest.param("aaaa", 0.0, id="one-symbol"),
        pytest.param("abcd", 2.0, id="four-symbols"),
    ],
)
def test_shannon_entropy(text: str, bits: float) -> None:
    assert credential_rules.shannon_entropy(text) == bits
