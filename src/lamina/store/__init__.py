"""State that is not in git: promotions, approvals, applies, drift results and the audit log.

The only package that imports SQLAlchemy. SQLite by default (``.lamina/state.db``),
PostgreSQL when ``LAMINA_DATABASE_URL`` says so; the schema evolves through Alembic.
"""
