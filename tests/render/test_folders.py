"""GitOps folders: written whole, rewritten only when they change, pruned only when asked."""

from __future__ import annotations

import os
from pathlib import Path

from ruamel.yaml import YAML

from cli_support import Ran, run_lamina


def lamina(repo: Path, *args: str) -> Ran:
    return run_lamina("--repo", repo, *args)


def test_rerender_of_unchanged_fleet_rewrites_nothing(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = lamina(example_repo, "render", "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 15  # 5 clusters x (config, prompt, kustomization)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    second = lamina(example_repo, "render", "--out", str(out), "--json")
    assert second.returncode == 0, second.stderr
    assert '"written": []' in second.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before


def test_changed_config_rewrites_only_its_clusters(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    patch = example_repo / "clusters" / "prod-eu-1.toml"
    patch.write_text(patch.read_text() + "\n[agent]\nmax_tokens = 700   # EU traffic is shorter\n")
    result = lamina(example_repo, "render", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    written = {Path(p).parent.name for p in YAML(typ="safe").load(result.stdout)["written"]}
    assert written == {"prod-eu-1"}


def test_vanished_cluster_is_removed_only_with_prune(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    (out / "users-own-folder").mkdir()
    fleet = example_repo / "lamina.toml"
    text = fleet.read_text()
    start = text.index("[clusters.prod-us-2]")
    end = text.index("[clusters.prod-eu-1]")
    fleet.write_text(text[:start] + text[end:])
    os.remove(example_repo / "clusters" / "prod-us-2.toml")
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    assert (out / "prod-us-2").is_dir()
    assert lamina(example_repo, "render", "--out", str(out), "--prune").returncode == 0
    assert not (out / "prod-us-2").exists()
    assert (out / "users-own-folder").is_dir()  # not lamina's: never removed


def test_directory_clusters_render_into_their_folders(example_repo: Path) -> None:
    result = lamina(example_repo, "render")
    assert result.returncode == 0, result.stderr
    for cluster in ("local-dev", "staging-us-1", "prod-us-1", "prod-us-2", "prod-eu-1"):
        assert (example_repo / "out" / cluster / "kustomization.yaml").is_file()


def test_print_is_a_yaml_stream_of_the_configmap(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "production/prod-us-1", "--print")
    assert result.returncode == 0, result.stderr
    docs = [d for d in YAML(typ="safe").load_all(result.stdout) if d]
    (configmap,) = docs
    assert configmap["kind"] == "ConfigMap"
    assert configmap["immutable"] is True
    assert configmap["metadata"]["name"].startswith("support-agent-config-")
    assert configmap["metadata"]["labels"]["lamina.dev/cluster"] == "prod-us-1"
    assert set(configmap["data"]) == {"agent-config.json", "system_prompt.txt"}
    build = lamina(example_repo, "build", "production/prod-us-1", "--hash")
    assert configmap["metadata"]["labels"]["lamina.dev/config-hash"] == build.stdout.strip()[:12]


def test_print_needs_one_cluster_target(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "production", "--print")
    assert result.returncode == 2
    assert result.stderr == "error: --print takes exactly one ENV/CLUSTER target\n"
