"""The core objects lamina renders are valid Kubernetes objects for each cluster's Kubernetes version.

Checked with kubernetes-validate's JSON schemas of the Kubernetes API (its ``-strict`` variant
also refuses unknown fields, as ``kubectl apply`` does).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lamina.fleet.model import Fleet
from lamina.render import configmaps
from lamina.resolve.repository import Repository

DEFAULT_KUBERNETES_VERSION = "1.35.0"
WORKLOADS = ["deployment/agent", "statefulset/agent", "daemonset/agent"]


def kubernetes_version(fleet: Fleet, cluster: str) -> str:
    """The cluster's ``kubernetes_version`` from lamina.toml, else the default."""
    declared = fleet.document.data.get("clusters", {}).get(cluster, {}).get("kubernetes_version")
    if declared is None:
        return DEFAULT_KUBERNETES_VERSION
    # lamina accepts the key without checking it; a TOML number would lose digits (1.30 -> "1.3")
    assert isinstance(declared, str), f"[clusters.{cluster}] kubernetes_version must be a string"
    return declared


def minor(version: str) -> str:
    return ".".join(version.removeprefix("v").split(".")[:2])


def rendered_objects(root: Path, workload: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(target, Kubernetes version, ConfigMap, workload patch) for every target of the fleet."""
    out = []
    with Repository(root) as repo:
        for config in repo.resolve_all():
            assert config.cluster is not None
            rendered = configmaps.render_config(config, repo.source_revision(config))
            version = kubernetes_version(repo.fleet, config.cluster.name)
            patch = configmaps.workload_patch(workload, rendered)
            out.append(
                (f"{config.environment.name}/{config.cluster.name}", version, rendered.configmap(), patch)
            )
    return out


def validate_strict(obj: Mapping[str, Any], version: str) -> None:
    """kubernetes-validate's check, failing the test with the error's place."""
    try:
        checked = kubernetes_validate.validate(dict(obj), version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "<object>"
        pytest.fail(
            f"{obj['kind']} {obj['metadata']['name']} (Kubernetes {version}): {where}: {error.message}"
        )
    # kubernetes-validate falls back to an older schema for a version it lacks; make sure it did not
    assert checked == minor(version)


def test_example_fleet_configmaps_are_valid(example_repo: Path) -> None:
    objects = rendered_objects(example_repo, WORKLOADS[0])
    assert len(objects) == 5
    for _target, version, configmap, _patch in objects:
        validate_strict(configmap, version)


# A strategic-merge patch names only what it changes; the workload it is applied to supplies the
# rest. Neither of kubernetes-validate's variants helps here (the strict and the non-strict schema
# both require spec.selector and the pod's containers), and its validate() stops at the first
# error, so the patch is checked against the same strict schema with jsonschema directly: every
# error counts except a missing field the patched workload always has.
PATCH_MAY_OMIT = {("spec",): {"selector"}, ("spec", "template", "spec"): {"containers"}}


@cache
def strict_schema(kind: str, api_version: str, version: str) -> Draft202012Validator:
    """The schema kubernetes-validate uses for kind in its strict variant, for version's minor."""
    group, _, api = api_version.rpartition("/")
    name = f"{kind.lower()}-{group.split('.')[0]}-{api}" if group else f"{kind.lower()}-{api}"
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    folder = folder / f"v{minor(version)}.0-local-strict"
    schema = json.loads((folder / f"{name}.json").read_text())
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in (schema, definitions)
    )
    return Draft202012Validator(schema, registry=registry)


def patch_errors(patch: Mapping[str, Any], version: str) -> list[str]:
    validator = strict_schema(patch["kind"], patch["apiVersion"], version)
    errors = []
    for error in sorted(validator.iter_errors(patch), key=lambda e: [str(p) for p in e.absolute_path]):
        where = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = {name for name in error.validator_value if name not in error.instance}
            if missing <= PATCH_MAY_OMIT.get(where, set()):
                continue
        errors.append(f"{'.'.join(map(str, where)) or '<object>'}: {error.message}")
    return errors


@pytest.mark.parametrize("workload", WORKLOADS)
def test_example_fleet_workload_patches_are_valid(example_repo: Path, workload: str) -> None:
    for target, version, _configmap, patch in rendered_objects(example_repo, workload):
        assert patch_errors(patch, version) == [], target


def test_patch_check_still_reports_errors(example_repo: Path) -> None:
    (_target, version, _configmap, patch), *_ = rendered_objects(example_repo, WORKLOADS[0])
    broken = copy.deepcopy(patch)
    del broken["spec"]["template"]["spec"]["volumes"][0]["name"]
    broken["spec"]["template"]["spec"]["volumes"][0]["configMap"]["nmae"] = "x"
    broken["spec"]["template"]["metadata"]["annotations"]["lamina.dev/config-hash"] = 12
    assert patch_errors(broken, version) == [
        "spec.template.metadata.annotations.lamina.dev/config-hash: 12 is not of type 'string', 'null'",
        "spec.template.spec.volumes.0: 'name' is a required property",
        "spec.template.spec.volumes.0.configMap: Additional properties are not allowed "
        "('nmae' was unexpected)",
    ]


def merge_patch(base: Any, patch: Any) -> Any:
    """A strategic merge of lamina's patches: maps merge, lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{key: merge_patch(base.get(key), value) for key, value in patch.items()}}
    if isinstance(base, list) and isinstance(patch, list):
        merged = {item["name"]: item for item in base}
        for item in patch:
            merged[item["name"]] = merge_patch(merged.get(item["name"]), item)
        return list(merged.values())
    return patch


def minimal_workload(kind: str, name: str, namespace: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "image": "registry.example.com/agent:1.0",
                            "volumeMounts": [{"name": "agent-config", "mountPath": "/etc/agent"}],
                        }
                    ],
                    "volumes": [{"name": "agent-config", "configMap": {"name": "placeholder"}}],
                },
            },
        },
    }


@pytest.mark.parametrize("workload", WORKLOADS)
def test_patched_workload_is_valid_and_mounts_the_configmap(example_repo: Path, workload: str) -> None:
    """The patch applied to a minimal workload of its kind gives a complete, valid object."""
    for _target, version, configmap, patch in rendered_objects(example_repo, workload):
        meta = patch["metadata"]
        merged = merge_patch(minimal_workload(patch["kind"], meta["name"], meta["namespace"]), patch)
        validate_strict(merged, version)
        volumes = merged["spec"]["template"]["spec"]["volumes"]
        assert volumes == [{"name": "agent-config", "configMap": {"name": configmap["metadata"]["name"]}}]
        assert meta["namespace"] == configmap["metadata"]["namespace"]


def test_declared_kubernetes_version_is_used(example_repo: Path) -> None:
    fleet_file = example_repo / "lamina.toml"
    text = fleet_file.read_text()
    assert "kubernetes_version" not in text  # the example declares none: 1.35 everywhere above
    fleet_file.write_text(
        text.replace("[clusters.prod-us-1]\n", '[clusters.prod-us-1]\nkubernetes_version = "1.33.0"\n', 1)
    )
    versions = {target: version for target, version, _, _ in rendered_objects(example_repo, WORKLOADS[0])}
    assert versions["production/prod-us-1"] == "1.33.0"
    assert versions["production/prod-us-2"] == DEFAULT_KUBERNETES_VERSION
    for target, version, configmap, patch in rendered_objects(example_repo, WORKLOADS[0]):
        validate_strict(configmap, version)
        assert patch_errors(patch, version) == [], target
