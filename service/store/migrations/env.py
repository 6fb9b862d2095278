"""Alembic's environment for the store: migrations run on the connection ``service.store.migrate`` hands in.

``migrate.upgrade_schema`` opens the write transaction (and, on PostgreSQL, an advisory lock, so that workers
and replicas starting together migrate one at a time), puts the connection in ``config.attributes`` and
calls Alembic; this file only configures the context on that connection. Offline (``--sql``) mode is not
used by the store.
"""

from __future__ import annotations

from alembic import context

from service.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the store's migrations run through service.store.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them; batch mode writes that for both backends
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
