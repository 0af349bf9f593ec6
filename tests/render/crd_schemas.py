"""Check GitOps objects against the published CRD schemas of Argo CD, Flux, External Secrets and
Flagger (tests/render/schemas/).

A CRD's ``openAPIV3Schema`` is OpenAPI v3, close enough to JSON Schema for jsonschema's 2020-12
validator: the ``x-kubernetes-*`` keys are unknown keywords it ignores, ``type: object`` with
``x-kubernetes-preserve-unknown-fields`` and no ``properties`` accepts any object, and
``x-kubernetes-int-or-string`` sits next to an ``anyOf`` of integer and string. ``format`` is only
an annotation to jsonschema (the formats these schemas use are on status fields lamina never
writes) and ``default`` is applied by the API server, not checked.

What jsonschema cannot see, the API server checks too, so :func:`validate_crd_object` adds it:

* unknown fields: ``kubectl apply`` validates strictly by default and rejects a field the
  schema does not declare (a typo such as ``targetRevison`` would otherwise pass unnoticed);
* ``x-kubernetes-validations`` CEL rules (Flux's ``kubeConfig``: exactly one reference), run
  with cel-python;
* ``metadata``, which a CRD leaves as a bare ``type: object``: the API server requires a name
  that is a DNS subdomain and label keys and values of Kubernetes' syntax.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import celpy
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

SCHEMAS: Mapping[tuple[str, str], str] = {
    ("argoproj.io/v1alpha1", "ApplicationSet"): "argocd-applicationset-v1alpha1.json",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "flux-kustomization-v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "externalsecret-v1.json",
    ("flagger.app/v1beta1", "Canary"): "flagger-canary-v1beta1.json",
    ("flagger.app/v1beta1", "MetricTemplate"): "flagger-metrictemplate-v1beta1.json",
}

# Subtrees deleted from the ApplicationSet schema to keep it small (see schemas/README.md):
# fields there are real but unchecked, so they are not reported as unknown. Paths are object
# paths, "[]" standing for any list item.
_APPSET_SOURCE_PRUNED = frozenset({"directory", "helm", "kustomize", "plugin"})
_APPSET_SPEC_PRUNED = frozenset({"sourceHydrator", "sources"})
PRUNED: Mapping[str, Mapping[str, frozenset[str]]] = {
    "argocd-applicationset-v1alpha1.json": {
        "spec.generators[]": frozenset(
            {
                "clusterDecisionResource",
                "git",
                "list",
                "matrix",
                "merge",
                "plugin",
                "pullRequest",
                "scmProvider",
            }
        ),
        "spec.generators[].clusters.template.spec": _APPSET_SPEC_PRUNED,
        "spec.generators[].clusters.template.spec.source": _APPSET_SOURCE_PRUNED,
        "spec.template.spec": _APPSET_SPEC_PRUNED,
        "spec.template.spec.source": _APPSET_SOURCE_PRUNED,
    },
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def load_schema(filename: str) -> dict[str, Any]:
    """One of the stored ``openAPIV3Schema`` documents."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / filename).read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(filename: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(filename))


@functools.cache
def _cel_program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def validate_crd_object(obj: Mapping[str, Any], *, unknown_fields: bool = True) -> list[str]:
    """Problems the API server would report for an object of one of the stored schemas.

    Args:
        obj: the object as plain data (what lamina writes as YAML).
        unknown_fields: report fields the schema does not declare, as ``kubectl apply`` does.

    Returns:
        One ``"<path>: <message>"`` per problem; empty when the object is valid. An object
        with no stored schema is one problem, so it never passes unchecked.
    """
    key = (obj.get("apiVersion"), obj.get("kind"))
    filename = SCHEMAS.get(key)
    if filename is None:
        known = ", ".join(f"{api} {kind}" for api, kind in SCHEMAS)
        return [f"<object>: no stored schema for apiVersion {key[0]!r} kind {key[1]!r} (have: {known})"]
    validator = _validator(filename)
    errors = [
        f"{_show(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    errors += _metadata_errors(obj.get("metadata"))
    walker = _Walker(PRUNED.get(filename, {}), unknown_fields)
    walker.walk(validator.schema, obj, (), "")
    return errors + walker.errors


def _show(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<object>"


class _Walker:
    """Unknown fields and CEL rules, walking the object and its schema together."""

    def __init__(self, pruned: Mapping[str, frozenset[str]], unknown_fields: bool) -> None:
        self.pruned = pruned
        self.unknown_fields = unknown_fields
        self.errors: list[str] = []

    def walk(self, schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...], generic: str) -> None:
        for rule in schema.get("x-kubernetes-validations", ()):
            self.check_rule(rule, value, path)
        if isinstance(value, dict):
            properties = schema.get("properties")
            extra = schema.get("additionalProperties")
            for name, item in value.items():
                where = f"{generic}.{name}" if generic else str(name)
                if properties is not None and name in properties:
                    self.walk(properties[name], item, (*path, name), where)
                elif isinstance(extra, dict):
                    self.walk(extra, item, (*path, name), where)
                elif (
                    self.unknown_fields
                    and properties is not None
                    and extra is None
                    and not schema.get("x-kubernetes-preserve-unknown-fields")
                    and name not in self.pruned.get(generic, ())
                ):
                    self.errors.append(f"{_show((*path, name))}: unknown field {name!r}")
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self.walk(schema["items"], item, (*path, index), f"{generic}[]")

    def check_rule(self, rule: Mapping[str, Any], value: Any, path: tuple[str | int, ...]) -> None:
        try:
            ok = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except Exception as error:  # a rule that cannot run is a rejected object on a real server
            self.errors.append(f"{_show(path)}: rule {rule['rule']!r} could not run: {error}")
            return
        if ok != celpy.celtypes.BoolType(True):  # a rule must evaluate to true, nothing else
            self.errors.append(f"{_show(path)}: {rule.get('message', rule['rule'])}")


def _metadata_errors(metadata: Any) -> list[str]:
    """The ObjectMeta checks the API server makes on every object."""
    if not isinstance(metadata, dict):
        return ["metadata: required (an object with a name)"]
    errors = []
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        errors.append("metadata.name: required")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        errors.append(f"metadata.name: {name!r} is not a DNS subdomain (lowercase, digits, '-', '.')")
    labels = metadata.get("labels") or {}
    for key, value in labels.items() if isinstance(labels, dict) else ():
        prefix, _, label = str(key).rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or (
            len(label) > 63 or not _LABEL_NAME.match(label)
        ):
            errors.append(f"metadata.labels: {key!r} is not a valid label key")
        if not isinstance(value, str) or (value and (len(value) > 63 or not _LABEL_NAME.match(value))):
            errors.append(f"metadata.labels.{key}: {value!r} is not a valid label value")
    return errors
