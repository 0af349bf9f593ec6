"""Names of environments and clusters: Kubernetes DNS-1123 labels."""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


def is_dns_label(name: str) -> bool:
    """True when name is lowercase letters, digits and '-', 1-63 chars, alphanumeric at both ends."""
    return bool(_DNS_LABEL.fullmatch(name))


def describe_bad_label(name: str) -> str:
    """A short reason why name is not a DNS-1123 label."""
    return (
        f"{name!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
        "at most 63 characters, starting and ending with a letter or digit)"
    )
