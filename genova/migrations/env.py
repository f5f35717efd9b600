"""Alembic environment: runs on the connection that ``upgrade_database`` hands over, or,
from the alembic CLI, on ``GENOVA_DATABASE_URL`` / the default SQLite file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from genova import models  # noqa: F401 - registers the tables on the metadata
from genova.config import Settings
from genova.extensions import db

target_metadata = db.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(Settings.from_env().resolved_database_url)
    with engine.begin() as conn:
        run(conn)
