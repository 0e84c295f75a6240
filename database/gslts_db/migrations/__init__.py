"""The single Alembic history of the GSLTS schema (run it through :mod:`gslts_db.migrate`)."""
