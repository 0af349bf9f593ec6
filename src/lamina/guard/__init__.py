"""The one enforcement point: every rule that can refuse an action (vetting, freezes, protection,
roles, self-approval, proven identity) is decided here, for the CLI, the API and the dashboard alike."""
