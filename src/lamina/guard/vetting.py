"""Vetting a shipment: the checks of ``lamina validate`` and ``lamina secrets check``, run on
exactly the targets about to ship, before anything is written.

Errors and missing secrets refuse the shipment; warnings are listed but do not, nor does a
secret whose cluster could not be asked (the apply to that cluster fails and says so). The
refusal lists the problems as ``validate`` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.clusters import secrets
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.validate import runner
from lamina.validate.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Vetting:
    """What validation and the secrets check found on the targets of a shipment."""

    targets: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    secret_checks: tuple[secrets.SecretCheck, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The validation problems that refuse a shipment (warnings do not)."""
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def failing_secrets(self) -> tuple[secrets.SecretCheck, ...]:
        """Secret references known to be missing.

        A reference whose cluster could not be asked does not refuse the shipment: that
        cluster cannot be written either, and its apply reports it while the others go on.
        """
        return tuple(c for c in self.secret_checks if c.status == secrets.MISSING)

    @property
    def ok(self) -> bool:
        """True when nothing refuses the shipment."""
        return not self.errors and not self.failing_secrets

    def problems(self) -> list[str]:
        """Each refusing problem on one line, as ``validate`` and ``secrets check`` print them."""
        lines = [str(d) for d in self.errors]
        lines += [
            f"{c.cluster}: secret {c.reference} {c.status}" + (f" ({c.detail})" if c.detail else "")
            for c in self.failing_secrets
        ]
        return lines

    def refusal(self) -> str:
        """The message of a refused shipment."""
        listed = self.problems()
        count = len(listed)
        head = f"{count} problem{'s' if count != 1 else ''} in {len(self.targets)} target(s) to ship"
        return head + ":\n  " + "\n  ".join(listed) + "\n(fix them, or ship anyway with --force --reason ...)"

    def to_json(self) -> dict[str, Any]:
        """The problems as ``validate --json`` and ``secrets check --json`` print them."""
        return {
            "ok": self.ok,
            "targets": list(self.targets),
            "problems": [d.to_json() for d in self.diagnostics],
            "secrets": [c.to_json() for c in self.failing_secrets],
        }


def vet(repo: Repository, configs: Sequence[ResolvedConfig], lookups: secrets.Lookups) -> Vetting:
    """Validate exactly the resolved targets about to ship and check their secrets (names only)."""
    report = runner.check_configs(repo, configs)
    checks = secrets.check_configs(repo, configs, lookups)
    return Vetting(report.targets, report.diagnostics, tuple(checks))
