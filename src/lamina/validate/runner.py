"""``lamina validate``: every check over every target, every problem reported.

The checks (one module each) and what they look at:

==============  ====================================================  =========================
check           looks at                                              module
==============  ====================================================  =========================
schema          each target's resolved config                         :mod:`.schemas`
policy          each target's resolved config (CEL)                   :mod:`.policies`
ordered         environment-level values along each promotion step    :mod:`.ordering`
credentials     every file of every layer the targets are built from  :mod:`.credentials`
locks           every overlay and cluster layer                       :mod:`.locks`
lint            every layer (set twice, dead overrides)               :mod:`.lint`
==============  ====================================================  =========================

What does not depend on the target — schemas, compiled policies, locks — is prepared once
per repository and kept for as long as the :class:`~lamina.resolve.repository.Repository`
lives, so validating again (a promotion gate, a server) costs only the per-target work.
A problem that many targets share (a credential in ``base/``) is reported once.

An environment with no clusters has no ``ENV/CLUSTER`` target; its environment-level config
is validated instead, so its overlays are never left unchecked.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from lamina.fleet import lock_settings
from lamina.resolve.provenance import Layer
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.validate import credentials, lint, locks, ordering, policies, policy_files, schemas, sops_files
from lamina.validate.diagnostics import Diagnostic


@dataclass(frozen=True)
class Prepared:
    """What validation needs from a repository, whatever the target."""

    schemas: tuple[schemas.Schema, ...]
    policies: tuple[policies.CompiledPolicy, ...]
    ordered: tuple[policy_files.Ordered, ...]
    locks: tuple[lock_settings.Lock, ...]


@dataclass(frozen=True)
class Report:
    """The outcome of one validation run.

    Attributes:
        targets: the targets checked (``ENV/CLUSTER``, or ``ENV`` for an environment without clusters).
        diagnostics: every problem found, grouped by target in promotion order, then the
            problems of files (credentials, locks, lint).
    """

    targets: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """True when nothing was found (warnings count as problems)."""
        return not self.diagnostics


_PREPARED: weakref.WeakKeyDictionary[Repository, Prepared] = weakref.WeakKeyDictionary()


def prepare(repo: Repository) -> Prepared:
    """Load schemas and locks and compile the CEL policies of repo (once per repository).

    Raises:
        InputError: a schema, policy file, CEL expression or ``[locks]`` table is malformed.
    """
    prepared = _PREPARED.get(repo)
    if prepared is None:
        policy_set = policy_files.load_policies(repo.tree)
        prepared = Prepared(
            schemas=schemas.load_schemas(repo.tree),
            policies=policies.compile_policies(policy_set),
            ordered=policy_set.ordered,
            locks=repo.fleet.settings.locks,
        )
        _PREPARED[repo] = prepared
    return prepared


def validate(repo: Repository, environments: Sequence[str] = ()) -> list[Diagnostic]:
    """Every problem of the fleet's targets (or of the given environments' targets).

    Raises:
        InputError: an input of a check is malformed (schema, policy, locks), a target does
            not resolve, or an environment is unknown.
    """
    return list(run(repo, environments).diagnostics)


def run(
    repo: Repository,
    environments: Sequence[str] = (),
    progress: Callable[[int], AbstractContextManager[Callable[[], None]]] | None = None,
) -> Report:
    """Validate and report which targets were checked (see :func:`validate`).

    ``progress(total)`` gives a context whose value is called once per target checked.
    """
    prepared = prepare(repo)
    selected = [repo.fleet.environment(name).name for name in environments]
    configs = _target_configs(repo, selected)
    found: list[Diagnostic] = []
    converter = cel_converter() if prepared.policies else None
    with (progress or _no_progress)(len(configs)) as advance:
        for config in configs:
            redactor = credentials.Redactor(config.data)
            found.extend(schemas.check(prepared.schemas, config, redactor))
            found.extend(policies.check(prepared.policies, config, redactor, converter))
            advance()
    found.extend(_ordering(repo, prepared, selected, configs))
    found.extend(_unique(_file_checks(prepared, configs)))
    found.extend(_unique(sops_files.check(repo.tree, configs)))
    return Report(tuple(str(config.target) for config in configs), tuple(found))


def _file_checks(prepared: Prepared, configs: Sequence[ResolvedConfig]) -> list[Diagnostic]:
    """Problems of the files the configs are built from: credentials, lint, locks."""
    files: list[Diagnostic] = []
    for layer in _unique_layers(configs):
        for doc in layer.documents:
            files.extend(credentials.scan_document(doc, layer.name))
        files.extend(lint.set_twice(layer))
    checked: set[tuple[int, ...]] = set()
    for config in configs:
        files.extend(locks.check(prepared.locks, config.environment.name, config.layers))
        # a layer's dead overrides depend only on it and the layers below: check each stack once
        for index in range(len(config.layers)):
            stack = tuple(id(layer) for layer in config.layers[: index + 1])
            if stack not in checked:
                checked.add(stack)
                files.extend(lint.dead_overrides_of(config.layers[index], config.layers[:index]))
    return files


def check_configs(repo: Repository, configs: Sequence[ResolvedConfig]) -> Report:
    """Validate exactly the resolved ``ENV/CLUSTER`` targets configs (what a shipment vets).

    The checks are those of :func:`run`; ordered constraints run on the targets' environments,
    and only problems of these targets (or of the files they are built from) are kept.
    """
    prepared = prepare(repo)
    names = {str(config.target) for config in configs}
    environments = list(dict.fromkeys(config.environment.name for config in configs))
    found: list[Diagnostic] = []
    converter = cel_converter() if prepared.policies else None
    for config in configs:
        redactor = credentials.Redactor(config.data)
        found.extend(schemas.check(prepared.schemas, config, redactor))
        found.extend(policies.check(prepared.policies, config, redactor, converter))
    ordered = _ordering(repo, prepared, environments, configs)
    found.extend(d for d in ordered if d.target is None or d.target in names or d.target in environments)
    found.extend(_unique(_file_checks(prepared, configs)))
    found.extend(_unique(sops_files.check(repo.tree, configs)))
    return Report(tuple(sorted(names)), tuple(found))


def cel_converter() -> object:
    """A converter shared by every target of one run."""
    from lamina.validate import cel

    return cel.Converter()


def _target_configs(repo: Repository, selected: Sequence[str]) -> list[ResolvedConfig]:
    configs = []
    for name in repo.fleet.ordered_environments():
        if selected and name not in selected:
            continue
        clusters = repo.fleet.clusters_of(name)
        if not clusters:
            configs.append(repo.resolve(name))
        configs.extend(repo.resolve(f"{name}/{cluster.name}") for cluster in clusters)
    return configs


def _ordering(
    repo: Repository, prepared: Prepared, selected: Sequence[str], configs: Sequence[ResolvedConfig]
) -> list[Diagnostic]:
    if not prepared.ordered:
        return []
    edges = ordering.promotion_edges(repo.fleet, selected)
    names = {name for edge in edges for name in edge}
    levels = {name: repo.resolve(name) for name in sorted(names)}
    known = {str(config.target): config for config in configs}
    clusters = []
    for name in dict.fromkeys(downstream for _, downstream in edges):
        for cluster in repo.fleet.clusters_of(name):
            target = f"{name}/{cluster.name}"
            clusters.append(known.get(target) or repo.resolve(target))
    return ordering.check(prepared.ordered, edges, levels, clusters)


def _unique_layers(configs: Sequence[ResolvedConfig]) -> list[Layer]:
    seen: dict[tuple[str, str], Layer] = {}
    for config in configs:
        for layer in config.layers:
            seen.setdefault((layer.tree, layer.name), layer)
    return list(seen.values())


def _unique(found: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Each problem once, even when many targets are built from the file it sits in."""
    return list(dict.fromkeys(found))


@contextlib.contextmanager
def _no_progress(total: int) -> Iterator[Callable[[], None]]:
    yield lambda: None
