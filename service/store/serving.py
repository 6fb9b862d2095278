"""The model version the fleet serves, kept in the store so that every worker of every replica agrees.

One row of ``served_model`` (``name`` = ``desired``): the version, the bundle folder that holds it (relative
to the models directory, which replicas share as they share the store) and who set it when. A reload sets
it (``set_desired_model``); every worker polls it (``desired_model``) and converges on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from service.store.engine import reading, writing
from service.store.errors import translated_errors
from service.store.models import ServedModelRow, table_of
from service.store.outcomes import utc_now

__all__ = ["DesiredModel", "desired_model", "set_desired_model", "DESIRED"]

DESIRED = "desired"


@dataclass(frozen=True, slots=True)
class DesiredModel:
    version: str
    bundle: str  # a folder relative to the models directory
    set_at: datetime
    set_by: str | None = None


def desired_model(engine: Engine) -> DesiredModel | None:
    """The version the fleet should serve, or None when no reload ever set one."""
    table = table_of(ServedModelRow)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(
            select(table.c.version, table.c.bundle, table.c.set_at, table.c.set_by).where(table.c.name == DESIRED)
        ).first()
    return None if row is None else DesiredModel(*row)


def set_desired_model(engine: Engine, version: str, bundle: str, *, set_by: str | None = None) -> DesiredModel:
    """Make ``version`` (in ``bundle``) the one the fleet serves; replaces what was set before."""
    wanted = DesiredModel(version=version, bundle=bundle, set_at=utc_now(), set_by=set_by)
    table = table_of(ServedModelRow)
    with translated_errors(), writing(engine) as connection:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        values = {"version": version, "bundle": bundle, "set_at": wanted.set_at, "set_by": set_by}
        statement = insert(table).values(name=DESIRED, **values)
        connection.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
    return wanted
