"""Which provider serves which model, with which credentials: read from ``GENOVA_*``
variables (docs/providers.md) and checked at start, so that a model mapped to a provider
Genova cannot use is refused before the first job, not when it runs.

Secrets are kept out of ``repr`` (and so out of logs and tracebacks that print settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genova.catalog import MODELS

PROVIDERS = ("procedural", "google", "freepik")
GOOGLE_BASE_URL = None  # the SDK's own: generativelanguage / aiplatform.googleapis.com
FREEPIK_BASE_URL = "https://api.freepik.com"

# The provider's model for each catalog model, unless GENOVA_PROVIDER_MODELS says otherwise.
DEFAULT_PROVIDER_MODELS: dict[str, dict[str, str]] = {
    "google": {
        "imagen4": "imagen-4.0-generate-001",
        "nano_banana_pro": "gemini-3-pro-image-preview",
        "nano_banana2": "gemini-3.1-flash-image-preview",
        "veo3_fast": "veo-3.0-fast-generate-001",
        "veo3_quality": "veo-3.0-generate-001",
        "veo2_fast": "veo-2.0-generate-001",
    },
    "freepik": {"freepik": "realism"},  # a Mystic model (realism, fluid, zen, ...)
}


class ConfigError(ValueError):
    """The provider configuration cannot work; the message says what to set."""


def parse_pairs(raw: str, *, name: str) -> dict[str, str]:
    """``a=b,c=d`` -> {"a": "b", "c": "d"}; spaces around items are ignored."""
    pairs: dict[str, str] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name}: expected MODEL=VALUE items separated by commas, "
                              f"got {item.strip()!r}")
        pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class ProviderSettings:
    generators: dict[str, str] = field(default_factory=lambda: {"*": "procedural"})
    provider_models: dict[str, str] = field(default_factory=dict)  # catalog id -> provider id
    google_api_key: str | None = field(default=None, repr=False)
    google_project: str | None = None  # Vertex AI with application-default credentials
    google_location: str = "global"
    google_base_url: str | None = GOOGLE_BASE_URL
    freepik_api_key: str | None = field(default=None, repr=False)
    freepik_base_url: str = FREEPIK_BASE_URL
    request_timeout: float = 120.0  # seconds, one HTTP call to a provider
    generation_timeout: float = 900.0  # seconds, one job from claim to result
    retries: int = 5  # attempts of one call that meets 429, 5xx or a timeout
    backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter
    poll_interval: float = 5.0  # seconds between polls of a long-running task
    google_concurrency: int = 4  # calls in flight to each provider, across all workers
    freepik_concurrency: int = 4

    @classmethod
    def from_env(cls, env: dict) -> ProviderSettings:
        from genova.config import _int  # one integer parser for every GENOVA_* variable

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            try:
                return float(raw) if raw not in (None, "") else default
            except ValueError:
                raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None

        settings = cls(
            generators=parse_pairs(env.get("GENOVA_GENERATORS") or "*=procedural",
                                   name="GENOVA_GENERATORS"),
            provider_models=parse_pairs(env.get("GENOVA_PROVIDER_MODELS", ""),
                                        name="GENOVA_PROVIDER_MODELS"),
            google_api_key=env.get("GENOVA_GOOGLE_API_KEY") or None,
            google_project=env.get("GENOVA_GOOGLE_PROJECT") or None,
            google_location=env.get("GENOVA_GOOGLE_LOCATION") or "global",
            google_base_url=env.get("GENOVA_GOOGLE_BASE_URL") or GOOGLE_BASE_URL,
            freepik_api_key=env.get("GENOVA_FREEPIK_API_KEY") or None,
            freepik_base_url=(env.get("GENOVA_FREEPIK_BASE_URL") or FREEPIK_BASE_URL
                              ).rstrip("/"),
            request_timeout=number("GENOVA_PROVIDER_TIMEOUT", 120.0),
            generation_timeout=number("GENOVA_GENERATION_TIMEOUT", 900.0),
            retries=_int(env, "GENOVA_PROVIDER_RETRIES", 5),
            backoff=number("GENOVA_PROVIDER_BACKOFF", 1.0),
            poll_interval=number("GENOVA_PROVIDER_POLL_INTERVAL", 5.0),
            google_concurrency=_int(env, "GENOVA_GOOGLE_CONCURRENCY", 4),
            freepik_concurrency=_int(env, "GENOVA_FREEPIK_CONCURRENCY", 4),
        )
        settings.validate()
        return settings

    def provider_of(self, model_id: str) -> str:
        return self.generators.get(model_id) or self.generators.get("*") or "procedural"

    def provider_model(self, model_id: str) -> str:
        provider = self.provider_of(model_id)
        return (self.provider_models.get(model_id)
                or DEFAULT_PROVIDER_MODELS.get(provider, {}).get(model_id) or provider)

    def validate(self) -> None:
        """Every model maps to a known provider that has credentials and knows the model."""
        for key, provider in self.generators.items():
            if key != "*" and key not in MODELS:
                raise ConfigError(f"GENOVA_GENERATORS names {key!r}, which is not a model; "
                                  f"models: {', '.join(MODELS)} (or * for the rest)")
            if provider not in PROVIDERS:
                raise ConfigError(f"GENOVA_GENERATORS maps {key} to {provider!r}; providers: "
                                  f"{', '.join(PROVIDERS)}")
        for key in self.provider_models:
            if key not in MODELS:
                raise ConfigError(f"GENOVA_PROVIDER_MODELS names {key!r}, which is not a model")
        for model_id in MODELS:
            self._validate_model(model_id)
        for name in ("request_timeout", "generation_timeout", "poll_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"the provider {name.replace('_', ' ')} must be positive")

    def _validate_model(self, model_id: str) -> None:
        provider = self.provider_of(model_id)
        if provider == "procedural":
            return
        if provider == "google" and not (self.google_api_key or self.google_project):
            raise ConfigError(
                f"GENOVA_GENERATORS maps {model_id} to google, but no Google credentials are "
                "set: set GENOVA_GOOGLE_API_KEY (Gemini API, and Vertex AI express mode for "
                "Imagen and Veo), or GENOVA_GOOGLE_PROJECT (Vertex AI with application-"
                "default credentials)")
        if provider == "freepik" and not self.freepik_api_key:
            raise ConfigError(f"GENOVA_GENERATORS maps {model_id} to freepik, but "
                              "GENOVA_FREEPIK_API_KEY is not set")
        if provider == "freepik" and MODELS[model_id].media_type != "image":
            raise ConfigError(f"GENOVA_GENERATORS maps {model_id} to freepik, which makes "
                              "images only (Mystic)")
        if self.provider_model(model_id) == provider:
            raise ConfigError(f"{provider} has no default model for {model_id}; name one in "
                              f"GENOVA_PROVIDER_MODELS ({model_id}=...)")
