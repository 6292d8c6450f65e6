"""The database: Flask-SQLAlchemy's `db`, bound in `create_app`, and the models' base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVarTuple, overload

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Executable, MetaData, Result
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.selectable import TypedReturnsRows

_Ts = TypeVarTuple("_Ts")

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


@overload
def narrow_rows(
    statement: TypedReturnsRows[*_Ts], params: Mapping[str, Any] | None = None
) -> Result[*_Ts]: ...


@overload
def narrow_rows(
    statement: Executable, params: Mapping[str, Any] | None = None
) -> Result[*tuple[Any, ...]]: ...


def narrow_rows(statement: Executable, params: Mapping[str, Any] | None = None) -> Result[Any]:
    """The rows of a statement that loads no models (plain columns, counts), run as Core on
    the session's connection, in its transaction. The ORM's layer around an execution costs
    more than SQLite takes for a page of narrow rows (measured: 262 against 145 µs for one
    list page's query). Nothing pending is flushed first: callers read, they do not write."""
    return db.session.connection().execute(statement, params)
