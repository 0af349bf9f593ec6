"""lamina: layered configuration for AI agents running on many Kubernetes clusters.

The library in one call::

    import lamina

    config = lamina.resolve("agent-configs", "production/prod-eu-1")
    config.data            # the exact resolved config
    config.config_hash     # SHA-256 of its canonical JSON
    config.explain("agent.model").layers   # every layer that set it, the winner last

For many targets, open the repository once (files are parsed once and shared)::

    with lamina.Repository("agent-configs") as repo:
        for config in repo.resolve_all():
            print(config.target, config.short_hash)
"""

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.core.diffs import Change, diff
    from lamina.core.hashing import canonical_json, config_hash
    from lamina.core.targets import TargetRef
    from lamina.errors import InputError, LaminaError, OutsideError, Refused
    from lamina.fleet.model import Cluster, Environment, Fleet
    from lamina.resolve.merging import merge
    from lamina.resolve.repository import Repository, resolve
    from lamina.resolve.resolved import Explanation, ResolvedConfig

# Each name imports its module when first read, so ``import lamina`` (and the CLI's start) stays quick.
_WHERE = {
    "Change": "lamina.core.diffs",
    "diff": "lamina.core.diffs",
    "canonical_json": "lamina.core.hashing",
    "config_hash": "lamina.core.hashing",
    "TargetRef": "lamina.core.targets",
    "InputError": "lamina.errors",
    "LaminaError": "lamina.errors",
    "OutsideError": "lamina.errors",
    "Refused": "lamina.errors",
    "Cluster": "lamina.fleet.model",
    "Environment": "lamina.fleet.model",
    "Fleet": "lamina.fleet.model",
    "merge": "lamina.resolve.merging",
    "Repository": "lamina.resolve.repository",
    "resolve": "lamina.resolve.repository",
    "Explanation": "lamina.resolve.resolved",
    "ResolvedConfig": "lamina.resolve.resolved",
}


class _Lamina(types.ModuleType):
    """The package, whose name ``resolve`` stays the function when the subpackage loads.

    Importing ``lamina.resolve`` (the subpackage) sets it as an attribute of this package; the
    eager imports this package once had overwrote it with the function, and so does this.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "resolve" and isinstance(value, types.ModuleType):
            return  # the subpackage stays reachable as sys.modules["lamina.resolve"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Lamina


def __getattr__(name: str) -> Any:
    """The public names, imported on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'lamina' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Change",
    "Cluster",
    "Environment",
    "Explanation",
    "Fleet",
    "InputError",
    "LaminaError",
    "OutsideError",
    "Refused",
    "Repository",
    "ResolvedConfig",
    "TargetRef",
    "canonical_json",
    "config_hash",
    "diff",
    "merge",
    "resolve",
]

__version__ = "0.1.0"
