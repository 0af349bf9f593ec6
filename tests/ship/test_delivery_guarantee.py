"""Nothing unvetted reaches a cluster: apply, heal and request applies enforce what promotion
enforces, through the real CLI, real git and directory clusters (SPEC section 11)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from cli_support import Ran, run_lamina
from conftest import commit_all

OVERLAY = "overlays/production/agent-patch.toml"


def lamina(root: Path, *args: str, user: str = "ops@example.com", **env: str) -> Ran:
    return run_lamina("--repo", root, *args, env={"LAMINA_USER": user, **env})


def files_of(root: Path) -> dict[str, bytes]:
    out = root / "out"
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def audit_actions(root: Path) -> list[str]:
    with sqlite3.connect(root / ".lamina" / "state.db") as db:
        return [row[0] for row in db.execute("SELECT action FROM audit ORDER BY seq")]


def append(root: Path, rel: str, text: str, message: str = "change") -> None:
    path = root / rel
    path.write_text(path.read_text() + text)
    commit_all(root, message)


@pytest.fixture
def fleet(example_repo: Path) -> Path:
    """The example fleet, applied everywhere once."""
    for env in ("development", "staging", "production", "production-eu"):
        done = lamina(example_repo, "apply", env)
        assert done.returncode == 0, done.stderr
    return example_repo


def test_a_policy_violation_refuses_the_apply_and_writes_nothing(fleet: Path) -> None:
    overlay = fleet / OVERLAY
    overlay.write_text(overlay.read_text().replace("temperature = 0.1 ", "temperature = 0.95"))
    commit_all(fleet, "warmer")
    before = files_of(fleet)
    assert lamina(fleet, "validate", "production").returncode == 1
    done = lamina(fleet, "apply", "production")
    assert done.returncode == 1, done.stderr
    assert "keep temperature at or below 0.3" in done.stderr
    assert "--force --reason" in done.stderr
    assert files_of(fleet) == before
    assert audit_actions(fleet)[-1] == "apply.refused"


def test_force_ships_anyway_and_records_what_it_overrode(fleet: Path) -> None:
    overlay = fleet / OVERLAY
    overlay.write_text(overlay.read_text().replace("temperature = 0.1 ", "temperature = 0.7"))
    commit_all(fleet, "warmer for a test")
    assert lamina(fleet, "apply", "production", "--force").returncode == 2  # a force needs a reason
    done = lamina(fleet, "apply", "production", "--force", "--reason", "INC-42 redaction bug", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {row["result"] for row in rows} == {"applied"}
    assert all(row["forced"] for row in rows)
    assert any("keep temperature at or below 0.3" in line for line in rows[0]["overridden"])
    audit = json.loads(lamina(fleet, "audit", "--json").stdout)
    forced = [row for row in audit if row["action"] == "apply" and row["detail"].get("forced")]
    assert len(forced) == 2
    assert forced[0]["detail"]["reason"] == "INC-42 redaction bug"
    assert forced[0]["detail"]["identity"]["os_user"]
    history = lamina(fleet, "history", "production", "--json")
    assert any("FORCED (INC-42 redaction bug)" in (e["detail"] or "") for e in json.loads(history.stdout))


def test_a_missing_secret_refuses_the_apply(fleet: Path) -> None:
    append(fleet, OVERLAY, '\n[crm]\nwebhook_key = {secret = "nowhere/key"}\n', "new secret")
    done = lamina(fleet, "apply", "production")
    assert done.returncode == 1
    assert "secret nowhere/key missing" in done.stderr


def test_a_freeze_stops_apply_and_heal_but_not_force(fleet: Path) -> None:
    assert lamina(fleet, "freeze", "production", "--until", "4h", "--reason", "launch").returncode == 0
    append(fleet, OVERLAY, "\n# a comment only\n", "comment")
    done = lamina(fleet, "apply", "production")
    assert done.returncode == 2 and "production is frozen until" in done.stderr
    (fleet / "out" / "prod-us-1" / "agent-config.json").write_text("{}\n")  # a hand edit
    healed = lamina(fleet, "drift", "production", "--heal")
    assert healed.returncode == 2 and "production is frozen until" in healed.stderr
    assert (fleet / "out" / "prod-us-1" / "agent-config.json").read_text() == "{}\n"
    forced = lamina(fleet, "drift", "production", "--heal", "--force", "--reason", "restore the config")
    assert forced.returncode == 0, forced.stderr + forced.stdout
    assert (fleet / "out" / "prod-us-1" / "agent-config.json").read_text() != "{}\n"


def test_heal_keeps_ignored_fields(fleet: Path) -> None:
    append(fleet, "lamina.toml", '\n[drift]\nignore = ["feature_flags.*"]\n', "ignore flags")
    assert lamina(fleet, "apply", "staging").returncode == 0
    path = fleet / "out" / "staging-us-1" / "agent-config.json"
    live = json.loads(path.read_text())
    live["feature_flags"]["streaming"] = False  # allowed to differ
    live["agent"]["max_tokens"] = 7  # not allowed
    path.write_text(json.dumps(live, indent=2))
    done = lamina(fleet, "drift", "staging", "--heal", "--json")
    assert done.returncode == 0, done.stderr
    healed = json.loads(path.read_text())
    assert healed["feature_flags"]["streaming"] is False
    assert healed["agent"]["max_tokens"] != 7
    assert json.loads(lamina(fleet, "drift", "staging", "--json").stdout)[0]["status"] == "in-sync"


def test_fields_are_classified_and_adopt_never_reverts_a_newer_commit(fleet: Path) -> None:
    # a hotfix is committed but not applied yet, and someone edits the cluster by hand
    append(fleet, "overlays/staging/agent-patch.toml", "\n[memory]\nttl_seconds = 60   # hotfix\n", "hotfix")
    path = fleet / "out" / "staging-us-1" / "agent-config.json"
    live = json.loads(path.read_text())
    live["agent"]["max_tokens"] = 2048  # the hand edit
    path.write_text(json.dumps(live, indent=2))
    rows = json.loads(lamina(fleet, "drift", "staging", "--json").stdout)
    assert rows[0]["status"] == "drifted"
    kinds = {f["path"]: f["status"] for f in rows[0]["fields"]}
    assert kinds == {"agent.max_tokens": "drifted", "memory.ttl_seconds": "out-of-sync"}
    done = lamina(
        fleet, "drift", "--adopt", "staging/staging-us-1", "--reason", "needed longer answers", "--json"
    )
    assert done.returncode == 0, done.stderr
    adopted = json.loads(done.stdout)
    assert adopted["paths"] == ["agent.max_tokens"]
    assert adopted["skipped"] == ["memory.ttl_seconds"]
    layer = (fleet / adopted["file"]).read_text()
    assert "max_tokens = 2048" in layer and "ttl_seconds" not in layer


def test_a_request_keeps_its_plan(guarded_example: Path) -> None:
    fleet = guarded_example  # staging is pinned, so a base change is a move to promote
    base = fleet / "base" / "agent.toml"
    base.write_text(base.read_text().replace('provider      = "openai"', 'provider      = "azure-openai"'))
    commit_all(fleet, "new provider")
    done = lamina(fleet, "promote", "request", "development", "staging", "--json", user="alice@example.com")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["plan"]
    (target,) = plan["targets"]
    assert target["target"] == "staging/staging-us-1"
    assert "model-changed" in target["flags"]
    assert any(c["path"] == "agent.provider" and c.get("b") == "azure-openai" for c in target["changes"])
    shown = lamina(fleet, "promote", "show", "PR-1", "--json")
    assert json.loads(shown.stdout)["plan"] == plan
    text_view = lamina(fleet, "promote", "show", "PR-1").stdout
    assert "model-changed" in text_view and "agent.provider" in text_view


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    """An SSH key (no passphrase) and its allowed-signers line for name."""
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    kind, public = (folder / f"{name}.pub").read_text().split(" ", 2)[:2]
    return key, f"{name} {kind} {public}"


@pytest.fixture
def signers(guarded_example: Path, tmp_path: Path) -> dict[str, Path]:
    """SSH keys of bob and carol, listed in an allowed-signers file lamina.toml names."""
    folder = tmp_path / "keys"
    folder.mkdir()
    keys, lines = {}, []
    for name in ("bob@example.com", "carol@example.com"):
        keys[name], line = keypair(folder, name)
        lines.append(line)
    (folder / "allowed_signers").write_text("\n".join(lines) + "\n")
    fleet = guarded_example / "lamina.toml"
    fleet.write_text(
        fleet.read_text().replace(
            '# allowed_signers = "/etc/lamina/allowed_signers"',
            f'allowed_signers = "{folder / "allowed_signers"}"',
        )
    )
    commit_all(guarded_example, "who may sign decisions")
    return keys


def test_init_pins_so_a_base_change_stops_at_development(guarded_example: Path) -> None:
    base = guarded_example / "base" / "agent.toml"
    base.write_text(base.read_text().replace("max_tokens    = 1024", "max_tokens    = 1500"))
    commit_all(guarded_example, "longer answers")
    dev = json.loads(lamina(guarded_example, "build", "development/local-dev").stdout)
    staging = json.loads(lamina(guarded_example, "build", "staging/staging-us-1").stdout)
    assert dev["agent"]["max_tokens"] == 1500
    assert staging["agent"]["max_tokens"] == 1024


def test_a_protected_environment_ships_only_what_an_applied_request_covers(
    guarded_example: Path, signers: dict[str, Path]
) -> None:
    root = guarded_example
    bob, carol = signers["bob@example.com"], signers["carol@example.com"]
    refused = lamina(root, "apply", "production")
    assert refused.returncode == 2
    assert "is not approved" in refused.stderr and "lamina change request production" in refused.stderr
    assert not (root / "out" / "prod-us-1").exists()

    asked = lamina(
        root, "change", "request", "production", "--reason", "first ship", "--json", user="alice@example.com"
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["kind"] == "change"
    typed = lamina(root, "promote", "approve", "PR-1", user="bob@example.com")
    assert typed.returncode == 2 and "needs a proven identity" in typed.stderr
    forged = lamina(root, "--sign-with", str(bob), "promote", "approve", "PR-1", user="carol@example.com")
    assert forged.returncode == 2 and "is not carol@example.com's" in forged.stderr
    approved = lamina(
        root, "--sign-with", str(bob), "promote", "approve", "PR-1", "--json", user="bob@example.com"
    )
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "approved"
    applied = lamina(
        root, "--sign-with", str(carol), "change", "apply", "PR-1", "--json", user="carol@example.com"
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["status"] == "promoted"
    shipped = lamina(root, "apply", "production")
    assert shipped.returncode == 0, shipped.stderr
    assert (root / "out" / "prod-us-1" / "agent-config.json").is_file()

    audit = json.loads(lamina(root, "audit", "--json").stdout)
    decision = next(row for row in audit if row["action"] == "change.approve")
    assert decision["detail"]["identity"]["proof"] == "ssh-signature"
    assert "BEGIN SSH SIGNATURE" in decision["detail"]["identity"]["signature"]

    # an overlay edit after the approval is not covered: refused again until its own request
    append(root, OVERLAY, "\n# a comment changes nothing\n", "comment")
    assert lamina(root, "apply", "production").returncode == 0
    overlay = root / OVERLAY
    overlay.write_text(overlay.read_text().replace("max_tokens  = 800", "max_tokens  = 900"))
    commit_all(root, "a little longer")
    again = lamina(root, "apply", "production")
    assert again.returncode == 2 and "is not approved" in again.stderr


def test_an_edit_after_the_request_makes_it_stale(guarded_example: Path, signers: dict[str, Path]) -> None:
    root = guarded_example
    assert lamina(root, "change", "request", "production", user="alice@example.com").returncode == 0
    overlay = root / OVERLAY
    overlay.write_text(overlay.read_text().replace("max_tokens  = 800", "max_tokens  = 900"))
    commit_all(root, "edited after the request")
    stale = lamina(
        root,
        "--sign-with",
        str(signers["bob@example.com"]),
        "promote",
        "approve",
        "1",
        user="bob@example.com",
    )
    assert stale.returncode == 2 and "is stale" in stale.stderr
    shown = json.loads(lamina(root, "promote", "show", "1", "--json").stdout)
    assert shown["status"] == "stale"


def test_a_first_change_request_plans_against_the_pin(guarded_example: Path) -> None:
    """Nothing applied yet: the plan compares with the repository at the pin, so an approver
    sees the edit (one key), not every key as new."""
    overlay = guarded_example / OVERLAY
    overlay.write_text(overlay.read_text().replace("max_tokens  = 800", "max_tokens  = 900"))
    commit_all(guarded_example, "a little longer")
    asked = lamina(
        guarded_example, "change", "request", "production", "--reason", "r", user="alice@example.com"
    )
    assert asked.returncode == 0, asked.stderr
    plan = json.loads(lamina(guarded_example, "promote", "show", "PR-1", "--json").stdout)["plan"]
    assert plan["from"]["label"] == "production's pin"
    changes = [(c["path"], c.get("a"), c.get("b")) for t in plan["targets"] for c in t["changes"]]
    assert changes == [("agent.max_tokens", 800, 900)] * 2
