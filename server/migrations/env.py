"""Alembic environment: runs PainScope's migrations on the connection the app hands over.

``server.db.Database.upgrade`` passes its connection in ``config.attributes``;
the ``alembic`` command line (with ``-x url=...``) connects by itself.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from server.store.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Upgrade through the given connection, or one made from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("PainScope migrations run online only (give -x url=...).")
run_migrations_online()
