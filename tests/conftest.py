"""Fixtures: a real Redis (our own embedded one) and a real database, SQLite always and
PostgreSQL too when ``GENOVA_TEST_DATABASE_URL`` names a server (``.ci/run`` sets it).

Every app-level test runs once per database backend.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from genova import create_app, runtime
from genova.config import Settings, normalize_database_url
from genova.embedded_redis import EmbeddedRedis
from genova.generators.config import ProviderSettings
from genova.migrations import upgrade_database

TEST_SECRET = "test-secret-key-with-enough-length-for-hs256"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("GENOVA_TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """In-process tests hash passwords with a cheap PBKDF2 (Django's test-settings habit):
    hundreds of registrations would otherwise spend a minute in scrypt. The processes the
    e2e tests start hash as production does."""
    from werkzeug.security import generate_password_hash

    from genova.services import accounts

    patch = pytest.MonkeyPatch()
    patch.setattr(accounts, "generate_password_hash",
                  lambda password: generate_password_hash(password, "pbkdf2:sha256:1000"))
    accounts._decoy_hash.cache_clear()
    yield
    patch.undo()
    accounts._decoy_hash.cache_clear()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


def _postgres_database():
    """A fresh database on the test server, dropped at the end of the session."""
    base = normalize_database_url(os.environ["GENOVA_TEST_DATABASE_URL"])
    name = f"genova_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A database with the current schema, as ``python app.py`` leaves it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'genova.db'}"
        _migrate(url)
        yield url
        return
    url, drop = _postgres_database()
    _migrate(url)
    yield url
    drop()


def _migrate(url: str) -> None:
    engine = create_engine(normalize_database_url(url))
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()


def make_settings(tmp_path, database_url, redis_url, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "database_url": database_url,
              "redis_url": redis_url,
              "secret_key": TEST_SECRET,
              "anonymous_rate_limit": "1000 per minute", "embedded_workers": 0,
              "auth_failure_limit": "1000 per minute",
              "studio": False}
    values.update(overrides)
    return Settings(**values)


def clean(app) -> None:
    from genova.extensions import db

    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    runtime.of(app).redis.flushdb()


@pytest.fixture
def settings(tmp_path, database_url, redis_url):
    return make_settings(tmp_path, database_url, redis_url)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    clean(app)
    yield app
    from genova.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def raw_redis(redis_url):
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    from tests.realtime import OPEN

    while OPEN:
        OPEN.pop().close()


# Providers' fakes answer at once: poll and back off in hundredths of a second
FAST_PROVIDERS = {"poll_interval": 0.01, "backoff": 0.01, "retries": 3, "request_timeout": 5.0}


@pytest.fixture
def provider_app(tmp_path, database_url, redis_url):
    """``provider_app(**ProviderSettings fields)`` -> an app whose generators use them."""
    from genova.extensions import db

    made = []

    def make(**providers):
        # a short lease: a lost one is noticed within a third of it
        settings = make_settings(tmp_path, database_url, redis_url, lease_ttl=1.0,
                                 providers=ProviderSettings(**{**FAST_PROVIDERS, **providers}))
        app = create_app(settings)
        clean(app)
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
