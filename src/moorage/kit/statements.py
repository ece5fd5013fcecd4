"""A built statement run on the unit of work's connection.

``Session.execute`` gives every statement its ORM layer first (execution options merged, the
bind looked up for the statement, the ORM plugin asked, autoflush): ~20 us a statement,
a third of what a one-row ``UPDATE`` on SQLite costs in all. The hot statements of the push
path (a job's, an upload's: about fifteen a file) are on tables or plain columns and load no
objects, so they go straight to the connection (``Session.connection``: the same transaction).

Only for statements that load no ORM objects, in a unit of work that has nothing pending to
flush (nothing here autoflushes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVarTuple, overload

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TypedReturnsRows

__all__ = ["run"]

_Ts = TypeVarTuple("_Ts")
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


@overload
def run(  # type: ignore[overload-overlap]  # as Connection.execute's own overloads
    session: Session, statement: TypedReturnsRows[*_Ts], params: Params = None
) -> CursorResult[*_Ts]: ...


@overload
def run(session: Session, statement: Executable, params: Params = None) -> CursorResult[Any]: ...


def run(session: Session, statement: Executable, params: Params = None) -> CursorResult[Any]:
    """``statement`` with ``params`` (a list: executemany) in ``session``'s transaction."""
    return session.connection().execute(statement, params)
