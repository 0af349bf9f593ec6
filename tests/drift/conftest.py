"""Drift tests reuse the emulated API fleet of tests/clusters."""

from clusters.conftest import api_fleet, k8s

__all__ = ["api_fleet", "k8s"]
