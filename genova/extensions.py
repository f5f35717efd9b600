"""Unbound Flask extensions; ``create_app`` binds them with ``init_app``. The rate limiter
lives with its rules in ``genova.api.ratelimit``: the services import ``db`` from here, and
must not load the API layer by doing so."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask_jwt_extended import JWTManager
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
jwt = JWTManager()
sock = Sock()


@contextmanager
def session_scope() -> Iterator:
    """One unit of database work outside a request (a socket message, a worker step): rolled
    back if it fails, and its connection back in the pool when it ends, so that a socket
    open for hours never holds one."""
    try:
        yield db.session
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
