"""Notices: telling people what happened (requests awaiting approval, failed gates, applies and
rollouts, overdue backfills, drift), once each, where their environment wants it.

``settings`` reads ``[alerts]`` from lamina.toml (sink URLs and keys come from environment
variables it names); ``alerts`` is the pure, clock-injected drift alert state machine;
``messages`` words a stored notice; ``sinks`` lays it out for Slack, Microsoft Teams, Discord,
PagerDuty or a signed webhook and posts it; ``sending`` delivers the outbox's notices (written
by the store with their events, ``store/outbox.py``) at least once, retrying with backoff, so
a slow or failing receiver never holds up an event and a crash loses no notice.

Beside the store in the pipeline (it never imports it: the sender takes the outbox as a
``Mailbox``), and never imports SQLAlchemy, FastAPI, click or rich.
"""
