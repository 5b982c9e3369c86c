"""Alembic environment: online migrations only, URL handed over by ``core.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.db import sqlalchemy_url

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("no database URL given to the migrations")

engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        # One migrator at a time: two hosts starting together must not race on DDL.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727269)")
        context.run_migrations()
engine.dispose()
