"""Checks on resolved configs: JSON Schema, CEL policies, ordered constraints, secret hygiene, locks, lint."""
