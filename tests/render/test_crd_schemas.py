"""The CRD schema helper accepts what Argo CD and Flux accept and reports what they reject."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from .crd_schemas import SCHEMAS, load_schema, validate_crd_object

# As in Argo CD's docs (Generators-Cluster.md), with a sync policy.
APPLICATIONSET = """
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - clusters:
      selector:
        matchLabels:
          staging: "true"
        matchExpressions:
        - key: region
          operator: In
          values: ["us-east-1", "eu-west-1"]
  template:
    metadata:
      name: '{{.name}}-guestbook'
    spec:
      project: my-project
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: HEAD
        path: guestbook
      destination:
        server: '{{.server}}'
        namespace: guestbook
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
        - CreateNamespace=true
"""

# As in Flux's docs (kustomize.toolkit.fluxcd.io/v1 Kustomization), with a few more fields.
KUSTOMIZATION = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
  labels:
    app.kubernetes.io/managed-by: lamina
spec:
  interval: 10m
  retryInterval: 2m
  timeout: 1m
  targetNamespace: default
  sourceRef:
    kind: GitRepository
    name: podinfo
  path: "./kustomize"
  prune: true
  wait: true
  dependsOn:
  - name: infrastructure
"""

# As in Flagger's docs (Canary analysis with a custom metric), with a service port.
CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
  analysis:
    interval: 1m
    threshold: 10
    maxWeight: 50
    stepWeight: 5
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: 404s-percentage
      templateRef:
        name: not-found-percentage
        namespace: istio-system
      thresholdRange:
        max: 5
      interval: 1m
"""

# As in Flagger's docs (metrics: custom Prometheus metric template).
METRIC_TEMPLATE = """
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: not-found-percentage
  namespace: istio-system
spec:
  provider:
    type: prometheus
    address: http://prometheus.istio-system:9090
  query: |
    100 - sum(rate(istio_requests_total{destination_workload="{{ target }}",
      response_code!="404"}[{{ interval }}]))
    / sum(rate(istio_requests_total{destination_workload="{{ target }}"}[{{ interval }}])) * 100
"""


def load(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = YAML(typ="safe", pure=True).load(text)
    return doc


DELETE = object()


def edited(text: str, path: str, value: Any = DELETE) -> dict[str, Any]:
    """The document with the value at a dotted path (numbers index lists) replaced or deleted."""
    doc = copy.deepcopy(load(text))
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    node: Any = doc
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


def test_stored_schemas_are_json_schemas_of_their_crds() -> None:
    for (_api_version, kind), filename in SCHEMAS.items():
        schema = load_schema(filename)
        Draft202012Validator.check_schema(schema)
        expected = {"apiVersion", "kind", "metadata", "spec"} | (
            {"status"} if kind != "MetricTemplate" else set()
        )
        assert set(schema["properties"]) >= expected, kind
    appset = load_schema("argocd-applicationset-v1alpha1.json")["properties"]["spec"]
    assert appset["required"] == ["generators", "template"]
    flux = load_schema("flux-kustomization-v1.json")["properties"]["spec"]
    assert flux["required"] == ["interval", "prune", "sourceRef"]
    canary = load_schema("flagger-canary-v1beta1.json")["properties"]["spec"]
    assert canary["required"] == ["targetRef", "analysis"]
    template = load_schema("flagger-metrictemplate-v1beta1.json")["properties"]["spec"]
    assert template["required"] == ["provider", "query"]


@pytest.mark.parametrize(
    "text",
    [APPLICATIONSET, KUSTOMIZATION, CANARY, METRIC_TEMPLATE],
    ids=["applicationset", "kustomization", "canary", "metrictemplate"],
)
def test_documented_examples_are_valid(text: str) -> None:
    assert validate_crd_object(load(text)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.generators.0.clusters.selector.matchLabels", {}),
        ("spec.generators.0.clusters.values", {"tier": "gold"}),
        # subtrees pruned from the stored schema are not checked, but not unknown either
        ("spec.generators.0.git", {"repoURL": "https://example.com/repo.git", "revision": "HEAD"}),
        ("spec.template.spec.source.helm", {"valueFiles": ["values.yaml"]}),
        ("spec.syncPolicy", {"applicationsSync": "create-update", "preserveResourcesOnDeletion": True}),
        ("spec.strategy", {"type": "RollingSync", "rollingSync": {"steps": [{"maxUpdate": "25%"}]}}),
    ],
)
def test_other_valid_applicationsets(path: str, value: Any) -> None:
    assert validate_crd_object(edited(APPLICATIONSET, path, value)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.kubeConfig", {"secretRef": {"name": "prod-us-1-kubeconfig"}}),
        ("spec.sourceRef", {"kind": "OCIRepository", "name": "podinfo", "namespace": "flux-system"}),
        ("spec.postBuild", {"substitute": {"cluster": "prod-us-1"}}),
        ("spec.interval", "1h30m"),
    ],
)
def test_other_valid_kustomizations(path: str, value: Any) -> None:
    assert validate_crd_object(edited(KUSTOMIZATION, path, value)) == []


KINDS = {APPLICATIONSET: "appset", KUSTOMIZATION: "flux", CANARY: "canary", METRIC_TEMPLATE: "metrictemplate"}

BROKEN = [
    # Argo CD ApplicationSet: missing required fields
    (APPLICATIONSET, "spec.template", DELETE, "spec", "'template' is a required property"),
    (APPLICATIONSET, "spec.generators", DELETE, "spec", "'generators' is a required property"),
    (APPLICATIONSET, "spec.template.spec.project", DELETE, "spec.template.spec", "'project' is a required"),
    (APPLICATIONSET, "spec.template.spec.source.repoURL", DELETE, "spec.template.spec.source", "'repoURL'"),
    (
        APPLICATIONSET,
        "spec.generators.0.clusters.selector.matchExpressions.0.operator",
        DELETE,
        "spec.generators[0].clusters.selector.matchExpressions[0]",
        "'operator' is a required property",
    ),
    # ... wrong types and values
    (APPLICATIONSET, "spec.generators", {"clusters": {}}, "spec.generators", "is not of type 'array'"),
    (APPLICATIONSET, "spec.goTemplate", "true", "spec.goTemplate", "is not of type 'boolean'"),
    (
        APPLICATIONSET,
        "spec.generators.0.clusters.selector.matchLabels.staging",
        True,
        "spec.generators[0].clusters.selector.matchLabels.staging",
        "True is not of type 'string'",
    ),
    (
        APPLICATIONSET,
        "spec.template.spec.destination",
        "in-cluster",
        "spec.template.spec.destination",
        "type",
    ),
    (
        APPLICATIONSET,
        "spec.syncPolicy",
        {"applicationsSync": "always"},
        "spec.syncPolicy.applicationsSync",
        "one of",
    ),
    # ... a misspelt field, which `kubectl apply` rejects
    (
        APPLICATIONSET,
        "spec.template.spec.source.targetRevison",
        "main",
        "spec.template.spec.source.targetRevison",
        "unknown field",
    ),
    (APPLICATIONSET, "spec.generators.0.cluster", {}, "spec.generators[0].cluster", "unknown field"),
    # ... metadata the API server refuses
    (APPLICATIONSET, "metadata.name", DELETE, "metadata.name", "required"),
    (APPLICATIONSET, "metadata.name", "Guest_Book", "metadata.name", "not a DNS subdomain"),
    # Flux Kustomization: missing required fields
    (KUSTOMIZATION, "spec.sourceRef", DELETE, "spec", "'sourceRef' is a required property"),
    (KUSTOMIZATION, "spec.prune", DELETE, "spec", "'prune' is a required property"),
    (KUSTOMIZATION, "spec.interval", DELETE, "spec", "'interval' is a required property"),
    (KUSTOMIZATION, "spec.sourceRef.name", DELETE, "spec.sourceRef", "'name' is a required property"),
    # ... wrong types, values and patterns
    (KUSTOMIZATION, "spec.prune", "true", "spec.prune", "is not of type 'boolean'"),
    (KUSTOMIZATION, "spec.dependsOn", {"name": "infrastructure"}, "spec.dependsOn", "is not of type 'array'"),
    (KUSTOMIZATION, "spec.sourceRef.kind", "HelmRepository", "spec.sourceRef.kind", "is not one of"),
    (KUSTOMIZATION, "spec.interval", "5 minutes", "spec.interval", "does not match"),
    (KUSTOMIZATION, "spec.targetNamespace", "", "spec.targetNamespace", "non-empty"),
    (KUSTOMIZATION, "spec.sourceRef.nmae", "podinfo", "spec.sourceRef.nmae", "unknown field"),
    # ... the CEL rule: exactly one kubeconfig reference
    (KUSTOMIZATION, "spec.kubeConfig", {}, "spec.kubeConfig", "exactly one of"),
    (
        KUSTOMIZATION,
        "spec.kubeConfig",
        {"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}},
        "spec.kubeConfig",
        "exactly one of",
    ),
    (KUSTOMIZATION, "metadata.labels.team", "x" * 64, "metadata.labels.team", "not a valid label value"),
    (KUSTOMIZATION, "metadata.labels.-team", "a", "metadata.labels", "not a valid label key"),
    # Flagger Canary and MetricTemplate
    (CANARY, "spec.targetRef", DELETE, "spec", "'targetRef' is a required property"),
    (CANARY, "spec.analysis", DELETE, "spec", "'analysis' is a required property"),
    (CANARY, "spec.service.port", "http", "spec.service.port", "is not of type 'number'"),
    (
        CANARY,
        "spec.analysis.metrics.0.thresholdRange.min",
        "99",
        "spec.analysis.metrics[0].thresholdRange.min",
        "type",
    ),
    (
        CANARY,
        "spec.analysis.metrics.1.templateRef.name",
        DELETE,
        "spec.analysis.metrics[1].templateRef",
        "'name'",
    ),
    (CANARY, "spec.analysis.stepWieght", 5, "spec.analysis.stepWieght", "unknown field"),
    (METRIC_TEMPLATE, "spec.query", DELETE, "spec", "'query' is a required property"),
    (METRIC_TEMPLATE, "spec.provider.type", "prom", "spec.provider.type", "is not one of"),
    # an object with no stored schema never passes unchecked
    (KUSTOMIZATION, "apiVersion", "kustomize.toolkit.fluxcd.io/v1beta2", "<object>", "no stored schema"),
]


@pytest.mark.parametrize(
    ("text", "path", "value", "where", "fragment"),
    BROKEN,
    ids=[
        f"{KINDS[text]}:{path}=" + ("<deleted>" if value is DELETE else f"{value!s:.20}")
        for text, path, value, _, _ in BROKEN
    ],
)
def test_broken_objects_are_reported(text: str, path: str, value: Any, where: str, fragment: str) -> None:
    errors = validate_crd_object(edited(text, path, value))
    assert any(e.startswith(f"{where}: ") and fragment in e for e in errors), errors


def test_unknown_fields_can_be_allowed() -> None:
    doc = edited(KUSTOMIZATION, "spec.sourceRef.nmae", "podinfo")
    assert validate_crd_object(doc) == ["spec.sourceRef.nmae: unknown field 'nmae'"]
    assert validate_crd_object(doc, unknown_fields=False) == []


def test_every_error_is_reported_not_only_the_first() -> None:
    doc = edited(KUSTOMIZATION, "spec.prune", "yes")
    del doc["spec"]["sourceRef"]
    doc["metadata"]["name"] = "Podinfo"
    errors = validate_crd_object(doc)
    assert len(errors) == 3, errors
