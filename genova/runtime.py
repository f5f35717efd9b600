"""The per-app bundle of connections that services receive as a keyword argument.

Built once in ``create_app`` from the settings; nothing here connects at import time, and
redis-py itself connects lazily on the first command.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from genova.config import Settings
from genova.generators.registry import Registry
from genova.services.manager import JobManager
from genova.services.storage import LocalStorage


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis | None  # None only for admin commands run with no Redis around
    storage: LocalStorage
    manager: JobManager | None
    secret: str = ""  # signs download links (the app's secret key)
    generators: Registry | None = None  # which generator serves each model

    @classmethod
    def from_settings(cls, settings: Settings, secret: str = "") -> Runtime:
        client = None
        if settings.redis_url:
            client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        return cls(settings=settings, redis=client, storage=LocalStorage(settings.storage_root),
                   manager=JobManager(client) if client is not None else None, secret=secret,
                   generators=Registry(settings.providers, client))


KEY = "genova.runtime"  # in app.extensions, next to "genova.hub", "genova.metrics"...


def of(app) -> Runtime:
    return app.extensions[KEY]


def current() -> Runtime:
    """The current app's runtime (inside an app context: a request, a command, a task)."""
    from flask import current_app

    return of(current_app)
