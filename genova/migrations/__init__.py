"""Alembic migrations, applied by ``python app.py`` before it serves and by
``flask --app app db upgrade``.

``upgrade_database`` runs ``alembic upgrade head`` on the app's engine. On PostgreSQL an
advisory lock (on SQLite a lock file) serialises processes that start together (several
servers of one deployment, say): the migration runs once.
New migration: ``alembic -c genova/migrations/alembic.ini revision --autogenerate -m "..."``
(``GENOVA_DATABASE_URL`` picks the database; see the README's Configuration section).
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

HERE = Path(__file__).parent
LOCK_ID = 0x47454E4F  # "GENO"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_app(app) -> None:
    """Bring ``app``'s database to the newest schema. Entry points call this (``python
    app.py`` before it serves, ``flask --app app db upgrade``, the admin commands), never
    ``create_app``: building an app must not touch the database."""
    from genova.extensions import db

    with app.app_context():
        upgrade_database(db.engine)


def upgrade_database(engine: Engine) -> None:
    with _sqlite_file_lock(engine), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
            connection.commit()
        try:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
                connection.commit()


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine):
    """SQLite has no advisory locks: serialise migrating processes with a lock file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
