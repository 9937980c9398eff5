"""Alembic environment: runs on the connection the archive hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from evolve.archive.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use by maintainers: build an engine from sqlalchemy.url
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: set sqlalchemy.url in alembic.ini to the archive's database URL")
    engine = create_engine(url)
    connection = engine.connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
