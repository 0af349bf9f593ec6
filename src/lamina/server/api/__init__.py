"""The REST API under /api/v1: one module per resource, each with a module-level ``router``.

Each resource router requires a valid token (a dependency of the router), and each route states
what it needs on top: ``auth.Reader`` or ``auth.Editor``, or :func:`lamina.server.auth.authorize`
once the environment is known. ``health`` holds the open routes for probes and Prometheus.
``lamina.server.app`` includes the routers in the order of /openapi.json: fleet, audit,
promotions, history, drift.
"""

PREFIX = "/api/v1"
"""Where the API lives; the dashboard's pages live outside it."""
