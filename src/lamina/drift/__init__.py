"""Drift: what git says should run against what runs, field by field."""
