"""Alerts on drift: when a cluster's state changes and holds, tell the people who own it.

``settings`` reads ``[alerts]`` from lamina.toml (sink URLs and signing keys come from
environment variables it names); ``alerts`` is the pure, clock-injected state machine that
decides what to say; ``sinks`` says it (Slack, a generic webhook) from background threads,
so a slow or failing receiver never holds up a drift check.

Below ``drift`` in the pipeline: this package knows drift only as plain observations, and
never imports SQLAlchemy, FastAPI, typer or rich.
"""
