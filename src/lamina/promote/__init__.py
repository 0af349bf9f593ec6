"""Promotion: lamina.lock pins, requests, gates, approvals, emergencies, rollbacks, history."""
