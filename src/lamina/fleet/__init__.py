"""The fleet: environments, the promotion graph and clusters, read from ``lamina.toml``."""
