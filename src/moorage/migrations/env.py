from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from moorage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    engine = config.attributes["engine"]
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
