"""Unbound Flask extensions; ``create_app`` binds them with ``init_app``."""

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from genova.api.ratelimit import limit_for_request, rate_limit_exempt, rate_limit_key


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
jwt = JWTManager()
sock = Sock()
limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[limit_for_request],
    application_limits_exempt_when=rate_limit_exempt,
    headers_enabled=True,
    # If Redis is unreachable, keep limiting per process instead of failing every request.
    in_memory_fallback_enabled=True,
)
