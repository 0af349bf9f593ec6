"""Checking ``vault:mount/path#key`` references against Vault's KV v2 engine, through hvac.

Only whether the key exists is kept: the secret's values are read by Vault's API (KV v2 has
no "list keys of a version" call) and dropped at once; they are never returned or logged.
"""

from __future__ import annotations

from collections.abc import Callable


def vault_lookup(address: str, token: str | None, timeout: float = 5.0) -> Callable[[str], bool | None]:
    """A lookup for :class:`lamina.clusters.secrets.Lookups`: True present, False missing, None
    when Vault could not be asked."""
    import hvac
    import requests as http

    client = hvac.Client(url=address, token=token, timeout=timeout)

    def lookup(reference: str) -> bool | None:
        body = reference.removeprefix("vault:")
        path, _, key = body.partition("#")
        mount, _, secret_path = path.partition("/")
        try:
            response = client.secrets.kv.v2.read_secret_version(
                path=secret_path, mount_point=mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return False
        except (hvac.exceptions.VaultError, http.exceptions.RequestException):
            return None
        data = response.get("data", {}).get("data", {}) if isinstance(response, dict) else {}
        present = isinstance(data, dict) and key in data
        del data, response  # the values are not lamina's to keep
        return present

    return lookup
