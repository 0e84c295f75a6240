"""Alembic environment: always online, on the connection handed over by gslts_db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from gslts_db.models import Base

config = context.config
connection: Connection | None = config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by gslts_db.migrate
    raise RuntimeError("run migrations through gslts_db.migrate (it passes a connection)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    # SQLite cannot ALTER most things; batch mode recreates the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
