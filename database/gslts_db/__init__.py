"""GSLTS database package: SQLAlchemy models, the single Alembic history, partition maintenance.

Never reads environment variables and never imports a service: callers pass URLs/engines in.
"""
