"""The Prometheus client's messages name the server without what may be a credential."""

from __future__ import annotations

import pytest

from lamina.rollout import prometheus
from port_support import refusing_port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://127.0.0.1:9090", "http://127.0.0.1:9090", id="plain"),
        pytest.param("https://prom.example.com/prometheus", "https://prom.example.com/prometheus", id="path"),
        pytest.param(
            "https://lamina:s3cret@prom.example.com", "https://prom.example.com", id="user-password"
        ),
        pytest.param("http://prom:9090/api?token=s3cret#x", "http://prom:9090/api", id="query-token"),
        pytest.param("http://[::1]:9090", "http://[::1]:9090", id="ipv6"),
        pytest.param("prom:9090", "(a URL lamina cannot read)", id="no-scheme"),
    ],
)
def test_shown(url: str, expected: str) -> None:
    assert prometheus.shown(url) == expected


def test_an_unreachable_server_is_named_without_its_password() -> None:
    port = refusing_port()
    client = prometheus.Prometheus(f"http://lamina:s3cret@127.0.0.1:{port}/prom?token=s3cret", timeout=2)
    with pytest.raises(prometheus.ProviderDown) as down:
        client.query("up")
    client.close()
    assert down.value.message == f"prometheus at http://127.0.0.1:{port}/prom unreachable: ConnectError"
