"""``lamina serve``: the REST API, the dashboard, metrics and scheduled checks.

The only package that imports FastAPI; thin over the library.
"""
