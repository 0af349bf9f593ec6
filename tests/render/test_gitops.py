"""GitOps objects: Argo CD ApplicationSets and Flux Kustomizations that point at the rendered
folders, and a workload that Kustomize repoints at each new ConfigMap name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cli_support import Ran, run_lamina
from conftest import commit_all, git
from lamina.fleet import lockfile, scaffold

KUBECTL = Path(__file__).resolve().parents[2] / ".cache" / "bin" / "kubectl"
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="run scripts/install-kubectl.sh first")


def lamina(repo: Path, *args: str) -> Ran:
    return run_lamina("--repo", repo, *args)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc]


@needs_kubectl
def test_argocd_applicationsets_select_clusters_by_environment(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "--out", str(example_repo / "out"), "--gitops", "argocd")
    assert result.returncode == 0, result.stderr
    objects = kustomize(example_repo / "out" / "_argocd")
    assert [o["metadata"]["name"] for o in objects] == [
        "support-agent-development",
        "support-agent-production",
        "support-agent-production-eu",
        "support-agent-staging",
    ]
    eu = objects[2]
    assert eu["kind"] == "ApplicationSet"
    (generator,) = eu["spec"]["generators"]
    assert generator["clusters"]["selector"]["matchLabels"] == {
        "lamina.dev/environment": "production-eu",
        "lamina.dev/fleet": "support-agent",
    }
    source = eu["spec"]["template"]["spec"]["source"]
    assert source == {
        "repoURL": "https://git.example.com/platform/agent-configs.git",
        "targetRevision": "main",
        "path": "out/{{.name}}",
    }
    # the path each generated Application gets is a folder lamina rendered
    assert (example_repo / "out" / "prod-eu-1" / "kustomization.yaml").is_file()


@needs_kubectl
def test_flux_kustomization_per_cluster(example_repo: Path) -> None:
    result = lamina(example_repo, "render", "--out", str(example_repo / "out"), "--gitops", "flux")
    assert result.returncode == 0, result.stderr
    objects = kustomize(example_repo / "out" / "_flux")
    by_name = {o["metadata"]["name"]: o for o in objects}
    assert sorted(by_name) == [
        "support-agent-local-dev",
        "support-agent-prod-eu-1",
        "support-agent-prod-us-1",
        "support-agent-prod-us-2",
        "support-agent-staging-us-1",
    ]
    spec = by_name["support-agent-prod-eu-1"]["spec"]
    assert spec["path"] == "./out/prod-eu-1"
    assert spec["prune"] is True
    assert spec["interval"] == "5m"
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": "agent-configs"}
    assert spec["targetNamespace"] == "ai-agents"
    for obj in objects:
        folder = example_repo / obj["spec"]["path"]
        assert (folder / "kustomization.yaml").is_file()


def test_gitops_folders_survive_prune(example_repo: Path) -> None:
    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out), "--gitops", "flux").returncode == 0
    assert lamina(example_repo, "render", "--out", str(out), "--prune").returncode == 0
    assert (out / "_flux" / "kustomization.yaml").is_file()


@pytest.mark.parametrize("tool", ["argocd", "flux"])
def test_gitops_needs_an_out_folder_in_git_and_a_refusal_writes_nothing(
    example_repo: Path, tmp_path: Path, tool: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    result = lamina(example_repo, "render", "--out", str(elsewhere / "out"), "--gitops", tool)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: --gitops: {elsewhere / 'out'} is in no git repository; Argo CD and Flux sync folders "
        "from git: render into the config repository or a deploy repository (git init; git remote add "
        "origin URL)"
    )
    assert not elsewhere.exists()
    assert lamina(example_repo, "render").returncode == 0  # and the cache did not take it as done


def test_argocd_without_a_repository_url_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    fleet = root / "lamina.toml"
    fleet.write_text(
        "".join(line for line in fleet.read_text().splitlines(True) if not line.startswith("repo_url"))
    )
    commit_all(root, "no repo_url")
    result = lamina(root, "render", "--out", str(root / "out"), "--gitops", "argocd")
    assert result.returncode == 2, result.stderr
    assert "needs the repository URL" in result.stderr
    assert not (root / "out").exists()


@needs_kubectl
def test_workload_in_resources_is_repointed_at_the_new_name(example_repo: Path) -> None:
    workload = example_repo / "workload"
    workload.mkdir()
    (workload / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    (workload / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: support-agent\n"
        "spec:\n  selector:\n    matchLabels: {app: support-agent}\n  template:\n"
        "    metadata:\n      labels: {app: support-agent}\n    spec:\n      containers:\n"
        "      - name: agent\n        image: example/agent:1\n        volumeMounts:\n"
        "        - {name: config, mountPath: /etc/agent}\n      volumes:\n"
        "      - name: config\n        configMap:\n          name: support-agent-config\n"
    )
    fleet = example_repo / "lamina.toml"
    fleet.write_text(fleet.read_text().replace("resources = []", 'resources = ["../../workload"]'))
    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out)).returncode == 0
    printed = lamina(example_repo, "render", "production/prod-us-1", "--print")
    (configmap,) = [d for d in YAML(typ="safe").load_all(printed.stdout) if d]
    built = {o["kind"]: o for o in kustomize(out / "prod-us-1")}
    volume = built["Deployment"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert built["ConfigMap"]["metadata"]["name"] == configmap["metadata"]["name"]


def test_print_with_workload_emits_a_patch_naming_the_configmap(example_repo: Path) -> None:
    fleet = example_repo / "lamina.toml"
    fleet.write_text(
        fleet.read_text().replace(
            '# workload  = "deployment/support-agent"', 'workload  = "deployment/support-agent"'
        )
    )
    printed = lamina(example_repo, "render", "production/prod-us-1", "--print")
    assert printed.returncode == 0, printed.stderr
    configmap, patch = [d for d in YAML(typ="safe").load_all(printed.stdout) if d]
    assert patch["kind"] == "Deployment"
    assert patch["metadata"] == {"name": "support-agent", "namespace": "ai-agents"}
    template = patch["spec"]["template"]
    assert template["spec"]["volumes"] == [
        {"name": "agent-config", "configMap": {"name": configmap["metadata"]["name"]}}
    ]
    assert (
        template["metadata"]["annotations"]["lamina.dev/config-hash"]
        == (configmap["metadata"]["labels"]["lamina.dev/config-hash"])
    )


@pytest.mark.parametrize("tool", ["argocd", "flux"])
def test_gitops_objects_satisfy_the_published_crd_schemas(example_repo: Path, tool: str) -> None:
    from .crd_schemas import validate_crd_object

    out = example_repo / "out"
    assert lamina(example_repo, "render", "--out", str(out), "--gitops", tool).returncode == 0
    folder = out / f"_{tool}"
    objects = [
        YAML(typ="safe").load(path.read_text())
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]
    assert objects
    for obj in objects:
        assert validate_crd_object(obj) == [], obj["metadata"]["name"]


DEPLOY_URL = "https://git.example.com/platform/agent-deploy.git"


def deploy_setup(tmp_path: Path) -> tuple[Path, Path, str]:
    """A config repository (pins from PR-7, [git] push) and a deploy repository cloned from a bare remote."""
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    fleet = root / "lamina.toml"
    text = fleet.read_text().replace(
        'repo_url        = "https://git.example.com/platform/agent-configs.git"', f'repo_url = "{DEPLOY_URL}"'
    )
    fleet.write_text(text + "\n[git]\npush = true\n")
    head = git(root, "rev-parse", "HEAD")
    lockfile.write_pins(root, [lockfile.Pin(env, head, request="PR-7") for env in ("staging", "production")])
    source = commit_all(root, "pins from PR-7")
    remote = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    deploy = tmp_path / "deploy"
    git(tmp_path, "clone", "-q", str(remote), str(deploy))
    (deploy / "README.md").write_text("rendered by lamina\n")
    commit_all(deploy, "deploy repository")
    git(deploy, "push", "-q", "origin", "main")
    return root, deploy, source


@needs_kubectl
def test_render_into_a_deploy_repository_commits_with_trailers_and_pushes(tmp_path: Path) -> None:
    root, deploy, source = deploy_setup(tmp_path)
    out = deploy / "clusters"

    first = lamina(root, "render", "--out", str(out), "--gitops", "argocd", "--commit", "--json")

    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    head = git(deploy, "rev-parse", "HEAD")
    assert (report["commit"], report["pushed"]) == (head, True)
    assert git(tmp_path / "deploy.git", "rev-parse", "main") == head
    assert git(deploy, "log", "-1", "--format=%B") == (
        f"render support-agent at {str(source)[:12]}\n\n"
        f"Lamina-Source-Revision: {source}\nLamina-Request: PR-7"
    )
    assert git(deploy, "status", "--porcelain") == ""
    changed = git(deploy, "show", "--name-only", "--format=", "HEAD").split()
    assert (
        "clusters/prod-eu-1/kustomization.yaml" in changed
        and "clusters/_argocd/kustomization.yaml" in changed
    )
    objects = kustomize(out / "_argocd")
    assert objects[0]["spec"]["template"]["spec"]["source"] == {
        "repoURL": DEPLOY_URL,
        "targetRevision": "main",
        "path": "clusters/{{.name}}",
    }

    again = lamina(root, "render", "--out", str(out), "--gitops", "argocd", "--commit", "--json")

    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["commit"], json.loads(again.stdout)["pushed"]) == (None, False)
    assert git(deploy, "rev-parse", "HEAD") == head  # an unchanged fleet makes no commit


def test_flux_paths_are_relative_to_the_deploy_repository(tmp_path: Path) -> None:
    root, deploy, _ = deploy_setup(tmp_path)
    (deploy / "notes.txt").write_text("staged by hand\n")
    git(deploy, "add", "notes.txt")

    result = lamina(root, "render", "--out", str(deploy / "k8s" / "fleet"), "--gitops", "flux", "--commit")

    assert result.returncode == 0, result.stderr
    kustomizations = YAML(typ="safe").load(
        (deploy / "k8s" / "fleet" / "_flux" / "kustomization-support-agent-prod-eu-1.yaml").read_text()
    )
    assert kustomizations["spec"]["path"] == "./k8s/fleet/prod-eu-1"
    assert git(deploy, "diff", "--cached", "--name-only") == "notes.txt"  # still staged, not committed
    assert "notes.txt" not in git(deploy, "show", "--name-only", "--format=", "HEAD").split()


# More production clusters: wave 1 (prod-us-1), wave 2 (prod-us-2, -3, -4) and wave 3 (prod-us-5).
MORE_CLUSTERS = "".join(
    f'\n[clusters.prod-us-{n}]\nenvironment = "production"\ndirectory   = "out/prod-us-{n}"\n'
    f'namespace   = "ai-agents"\nlabels      = {{ region = "us-east-2", wave = "{wave}" }}\n'
    for n, wave in ((3, 2), (4, 2), (5, 3))
)
PRODUCTION_ROLLOUT = '\n[rollout.production]\nsteps   = ["wave=1", "50%", "100%"]\ntimeout = "5m"\n'


def with_fleet(root: Path, extra: str, workload: bool = False) -> None:
    """Add tables to the example's lamina.toml (and set [render] workload) and commit."""
    fleet = root / "lamina.toml"
    text = fleet.read_text()
    if workload:
        text = text.replace(
            '# workload  = "deployment/support-agent"', 'workload = "deployment/support-agent"'
        )
    fleet.write_text(text + extra)
    commit_all(root, "rollout")


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def test_rollout_keeps_waves_as_rolling_sync_steps(example_repo: Path) -> None:
    from .crd_schemas import validate_crd_object

    with_fleet(example_repo, MORE_CLUSTERS + PRODUCTION_ROLLOUT)
    out = example_repo / "out"

    result = lamina(example_repo, "render", "--out", str(out), "--gitops", "argocd")

    assert result.returncode == 0, result.stderr
    production = load_yaml(out / "_argocd" / "applicationset-support-agent-production.yaml")
    # steps: wave=1 moves prod-us-1; 50% moves prod-us-2 and -3; 100% moves prod-us-4 and -5
    assert production["spec"]["strategy"] == {
        "type": "RollingSync",
        "rollingSync": {
            "steps": [
                {"matchExpressions": [{"key": "lamina.dev/wave", "operator": "In", "values": ["1"]}]},
                {
                    "matchExpressions": [{"key": "lamina.dev/wave", "operator": "In", "values": ["2"]}],
                    "maxUpdate": 2,
                },
                {"matchExpressions": [{"key": "lamina.dev/wave", "operator": "In", "values": ["3"]}]},
            ]
        },
    }
    assert production["spec"]["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "lamina",
        "lamina.dev/fleet": "support-agent",
        "lamina.dev/environment": "production",
        "lamina.dev/wave": '{{index .metadata.labels "wave" | default "0"}}',
    }
    staging = load_yaml(out / "_argocd" / "applicationset-support-agent-staging.yaml")
    assert "strategy" not in staging["spec"]  # no [rollout] applies to staging
    assert "lamina.dev/wave" not in staging["spec"]["template"]["metadata"]["labels"]
    for path in sorted((out / "_argocd").glob("applicationset-*.yaml")):
        assert validate_crd_object(load_yaml(path)) == [], path.name
    assert not list(out.glob("*/canary-*.yaml"))  # Flagger objects only with [rollout.flagger]


def test_rollout_chains_flux_waves_with_depends_on_and_workload_health_checks(example_repo: Path) -> None:
    from .crd_schemas import validate_crd_object

    with_fleet(example_repo, MORE_CLUSTERS + PRODUCTION_ROLLOUT, workload=True)
    out = example_repo / "out"

    result = lamina(example_repo, "render", "--out", str(out), "--gitops", "flux")

    assert result.returncode == 0, result.stderr
    specs = {
        path.name.removeprefix("kustomization-support-agent-").removesuffix(".yaml"): load_yaml(path)["spec"]
        for path in (out / "_flux").glob("kustomization-*.yaml")
    }
    depends = {name: [d["name"] for d in spec.get("dependsOn", [])] for name, spec in specs.items()}
    assert depends == {
        "local-dev": [],
        "staging-us-1": [],
        "prod-eu-1": [],
        "prod-us-1": [],
        "prod-us-2": ["support-agent-prod-us-1"],
        "prod-us-3": ["support-agent-prod-us-1"],
        "prod-us-4": ["support-agent-prod-us-1"],
        "prod-us-5": ["support-agent-prod-us-2", "support-agent-prod-us-3", "support-agent-prod-us-4"],
    }
    for name in ("prod-us-1", "prod-us-5"):
        assert specs[name]["healthChecks"] == [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "support-agent", "namespace": "ai-agents"}
        ]
        # Flux ignores healthChecks while wait is on
        assert (specs[name]["wait"], specs[name]["timeout"]) == (False, "300s")
    for name in ("staging-us-1", "prod-eu-1"):
        assert (specs[name]["wait"], "healthChecks" in specs[name], "timeout" in specs[name]) == (
            True,
            False,
            False,
        )
    for path in sorted((out / "_flux").glob("kustomization-*.yaml")):
        assert validate_crd_object(load_yaml(path)) == [], path.name


def test_a_fleet_without_rollout_renders_the_gitops_objects_as_before(example_repo: Path) -> None:
    out = example_repo / "out"
    for tool in ("argocd", "flux"):
        assert lamina(example_repo, "render", "--out", str(out), "--gitops", tool).returncode == 0
    before = {path.relative_to(out): path.read_bytes() for path in out.glob("_*/*.yaml")}
    for needle in (b"RollingSync", b"lamina.dev/wave", b"dependsOn", b"healthChecks", b"timeout"):
        assert not any(needle in text for text in before.values()), needle
    assert not list(out.glob("*/canary-*.yaml"))

    with_fleet(example_repo, PRODUCTION_ROLLOUT, workload=True)
    for tool in ("argocd", "flux"):
        assert lamina(example_repo, "render", "--out", str(out), "--gitops", tool).returncode == 0

    after = {path.relative_to(out): path.read_bytes() for path in out.glob("_*/*.yaml")}
    changed = sorted(str(path) for path in before if after[path] != before[path])
    assert changed == [  # only production's objects: the other environments have no [rollout]
        "_argocd/applicationset-support-agent-production.yaml",
        "_flux/kustomization-support-agent-prod-us-1.yaml",
        "_flux/kustomization-support-agent-prod-us-2.yaml",
    ]
