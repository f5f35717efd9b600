"""Genova: a self-hostable job platform for AI image and video generation."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from genova.config import Settings, load_or_create_secret


def _engine_options(url: str) -> dict:
    """A pool as large as the requests one web process serves at once. SQLite is a local
    file: no pre-ping (it cannot have dropped the connection), and never a connection
    opened (with its four PRAGMAs) and closed per request because 16 requests outnumbered
    a pool of 5 + 10. A server database keeps SQLAlchemy's pool (its connections are
    counted against the server's limit) and is pinged on checkout (it may have restarted)."""
    if url.startswith("sqlite"):
        return {"pool_pre_ping": False, "pool_size": 32, "max_overflow": 32}
    return {"pool_pre_ping": True}


def _flask_config(settings: Settings, secret: str) -> dict:
    limiter_storage = settings.redis_url or "memory://"
    return {
        "GENOVA": settings,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": settings.resolved_database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings.resolved_database_url),
        "JWT_SECRET_KEY": secret,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=settings.access_token_ttl),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=settings.refresh_token_ttl),
        "MAX_CONTENT_LENGTH": settings.max_request_bytes,
        "RATELIMIT_STORAGE_URI": limiter_storage,
        "RATELIMIT_KEY_PREFIX": "genova-rl",
        # a true sliding minute: no double burst across a window boundary
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_ENABLED": settings.rate_limits_enabled,
        "JSON_SORT_KEYS": False,
    }


def create_app(config: Settings | dict | None = None, *, web: bool = True) -> Flask:
    """The application factory. ``config`` is a ``Settings``, a dict of ``Settings`` fields,
    or ``None`` to read the ``GENOVA_*`` environment. ``web=False`` builds what a worker
    process needs (the settings, the database, the runtime) without the HTTP API, the
    sockets and the admin commands, whose modules it then never loads (about 18 MiB less
    in each worker process)."""
    from genova import runtime
    from genova.embedded_redis import read_running_url
    from genova.extensions import db
    from genova.runtime import Runtime

    if config is None:
        settings = Settings.from_env()
    elif isinstance(config, dict):
        settings = Settings(**config)
    else:
        settings = config
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.redis_url is None:
        # Admin commands find the embedded Redis of a running `python app.py`.
        settings = settings.with_(redis_url=read_running_url(settings.data_dir))
    secret = settings.secret_key or load_or_create_secret(settings.data_dir)

    app = Flask(__name__)
    app.config.update(_flask_config(settings, secret))
    app.json.sort_keys = False
    app.extensions[runtime.KEY] = Runtime.from_settings(settings, secret)
    db.init_app(app)
    if web:
        _install_web(app)
    with app.app_context():
        _tune_sqlite(db.engine)  # listeners only: nothing connects here
    return app


def _install_web(app: Flask) -> None:
    """The HTTP API, the sockets' hub, auth, limits, metrics, errors and admin commands."""
    from genova import cli
    from genova.api import accounts, docs, files, health, jobs, keys, models, studio, users, ws
    from genova.api.auth import identify
    from genova.api.errors import refuse_long_urls, register_error_handlers
    from genova.api.ratelimit import clamp_retry_after, limiter
    from genova.extensions import jwt, sock
    from genova.realtime.hub import Hub
    from genova.realtime.limits import EXTENSION_MAX_MESSAGE, decline_compression

    # flask-sock: the largest message any socket accepts (ws.py narrows /ws/user), and pings
    # that find dead peers
    app.config["SOCK_SERVER_OPTIONS"] = {
        "max_message_size": EXTENSION_MAX_MESSAGE,
        "ping_interval": app.config["GENOVA"].ws_ping_interval or None}
    app.extensions["genova.hub"] = Hub(app)  # starts listening on the first socket
    jwt.init_app(app)
    sock.init_app(app)
    decline_compression()
    # Order matters: identify the caller before the limiter picks the key and the limit, and
    # clamp Retry-After after the limiter has written its headers.
    app.before_request(refuse_long_urls)
    app.before_request(identify)
    app.after_request(clamp_retry_after)
    limiter.init_app(app)
    health.install_metrics(app)
    register_error_handlers(app)
    for module in (accounts, keys, users, jobs, models, files, docs, health, ws, studio):
        app.register_blueprint(module.bp)
    cli.register(app)


def _tune_sqlite(engine) -> None:
    """WAL lets readers run beside a writer; the busy timeout makes writers queue instead of
    failing with "database is locked" when several requests debit credits at once."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the database; a power cut may lose the last
        # commits, which the queue rebuild and the lease sweep already tolerate.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
