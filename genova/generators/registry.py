"""Which generator serves which model, from ``GENOVA_GENERATORS`` (``ProviderSettings``).

``Registry(settings, redis)`` builds one generator per catalog model: the shared offline
``ProceduralGenerator`` (the default, not an AI model), or a provider's generator bound to
the provider's model id (``GENOVA_PROVIDER_MODELS``, else the defaults in
``genova.generators.config``). Providers' SDK clients are built on first use, so creating
the app connects to nothing; the per-provider concurrency cap lives in Redis when there is
one, so it holds across workers.
"""

from __future__ import annotations

import threading

from genova.catalog import MODELS
from genova.generators import Generator
from genova.generators.calls import Slots
from genova.generators.config import ProviderSettings


class Registry:
    def __init__(self, settings: ProviderSettings | None = None, redis_client=None):
        self.settings = settings or ProviderSettings()
        self.redis = redis_client
        self._providers: dict[str, object] = {}
        self._generators: dict[str, Generator] = {}  # built on first use (see below)
        self._lock = threading.Lock()

    def for_model(self, model_id: str) -> Generator:
        """The generator serving ``model_id``; ``KeyError`` for a model the catalog lacks.
        Built on first use: a process that never generates (the maintenance worker) never
        loads the renderers (Pillow, numpy) or a provider's SDK."""
        if model_id not in MODELS:
            raise KeyError(f"no generator is registered for model {model_id!r}")
        with self._lock:
            if model_id not in self._generators:
                self._generators[model_id] = self._build(model_id)
            return self._generators[model_id]

    def providers(self) -> dict[str, list[str]]:
        """Each provider in use -> the models it serves."""
        out: dict[str, list[str]] = {}
        for model_id in MODELS:
            out.setdefault(self.settings.provider_of(model_id), []).append(model_id)
        return out

    def _build(self, model_id: str) -> Generator:
        provider = self.settings.provider_of(model_id)
        if provider == "procedural":
            from genova.generators.procedural import PROCEDURAL

            return PROCEDURAL
        return self._provider(provider).model(model_id, self.settings.provider_model(model_id))

    def _provider(self, name: str):
        if name not in self._providers:
            s = self.settings
            ttl = s.generation_timeout + s.request_timeout
            if name == "google":
                from genova.generators.google import GoogleProvider

                slots = Slots(self.redis, "google", s.google_concurrency, ttl)
                self._providers[name] = GoogleProvider(s, slots)
            else:
                from genova.generators.freepik import FreepikProvider

                slots = Slots(self.redis, "freepik", s.freepik_concurrency, ttl)
                self._providers[name] = FreepikProvider(s, slots)
        return self._providers[name]
