"""Typed settings read from ``GENOVA_*`` environment variables.

Nothing here connects to anything: ``Settings.from_env()`` only reads the environment, and
``create_app`` turns the settings into Flask config. Tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from genova.generators.config import ProviderSettings


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    embedded_workers: int = 2
    web_workers: int = 1
    queue_timeout: int = 1800
    sweep_interval: int = 30
    download_ttl: int = 3600
    lease_ttl: float = 30.0  # seconds a claim lives without a heartbeat
    max_attempts: int = 2  # a job lost to a dead worker is re-queued once
    secret_key: str | None = None
    studio: bool = True
    studio_port: int = 0  # the studio's own loopback port; 0 picks a free one
    studio_url: str | None = None  # where /studio/* is proxied to (set by app.py)
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    max_request_bytes: int = 25 * 1024 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024  # extension result uploads (videos)
    max_image_upload_bytes: int = 32 * 1024 * 1024  # one uploaded result image
    storage_quota_bytes: int = 10 * 1024 ** 3  # stored results per user
    anonymous_rate_limit: str = "30 per minute"
    auth_failure_limit: str = "20 per minute"  # bad credentials per address, then 429
    rate_limits_enabled: bool = True
    # Browsers may open the sockets only from these origins ("*": any); the server's own
    # origin is always allowed, and clients that send no Origin (scripts) are not browsers.
    allowed_origins: tuple[str, ...] = ()
    ws_ping_interval: int = 25  # seconds; a peer that misses a pong is disconnected
    max_sockets: int = 4000  # per web process; gunicorn keeps 1000 more connections for HTTP
    max_user_sockets: int = 20  # /ws/user sockets per account, per web process
    max_extension_sockets: int = 10  # /ws/extension sockets per account or worker token
    providers: ProviderSettings = field(default_factory=ProviderSettings)  # GENOVA_GENERATORS...

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            host=env.get("GENOVA_HOST") or "127.0.0.1",
            port=_int(env, "GENOVA_PORT", 8000),
            data_dir=Path(env.get("GENOVA_DATA_DIR") or "./var").resolve(),
            database_url=env.get("GENOVA_DATABASE_URL") or None,
            redis_url=env.get("GENOVA_REDIS_URL") or None,
            embedded_workers=_int(env, "GENOVA_EMBEDDED_WORKERS", 2),
            web_workers=_int(env, "GENOVA_WEB_WORKERS", 1),
            queue_timeout=_int(env, "GENOVA_QUEUE_TIMEOUT", 1800),
            sweep_interval=_int(env, "GENOVA_SWEEP_INTERVAL", 30),
            download_ttl=_int(env, "GENOVA_DOWNLOAD_TTL", 3600),
            lease_ttl=float(_int(env, "GENOVA_LEASE_TTL", 30)),
            secret_key=env.get("GENOVA_SECRET_KEY") or None,
            studio=_bool(env, "GENOVA_STUDIO", True),
            studio_port=_int(env, "GENOVA_STUDIO_PORT", 0),
            studio_url=env.get("GENOVA_STUDIO_URL") or None,
            access_token_ttl=_int(env, "GENOVA_ACCESS_TOKEN_TTL", 3600),
            max_request_bytes=_int(env, "GENOVA_MAX_REQUEST_BYTES", 25 * 1024 * 1024),
            max_upload_bytes=_int(env, "GENOVA_MAX_UPLOAD_BYTES", 200 * 1024 * 1024),
            max_image_upload_bytes=_int(env, "GENOVA_MAX_IMAGE_UPLOAD_BYTES",
                                        32 * 1024 * 1024),
            storage_quota_bytes=_int(env, "GENOVA_STORAGE_QUOTA_BYTES", 10 * 1024 ** 3),
            anonymous_rate_limit=env.get("GENOVA_ANON_RATE_LIMIT") or "30 per minute",
            auth_failure_limit=env.get("GENOVA_AUTH_FAILURE_LIMIT") or "20 per minute",
            rate_limits_enabled=_bool(env, "GENOVA_RATE_LIMITS", True),
            allowed_origins=tuple(o.strip().rstrip("/") for o in (
                env.get("GENOVA_ALLOWED_ORIGINS") or "").split(",") if o.strip()),
            ws_ping_interval=_int(env, "GENOVA_WS_PING_INTERVAL", 25),
            max_sockets=_int(env, "GENOVA_MAX_SOCKETS", 4000),
            max_user_sockets=_int(env, "GENOVA_MAX_USER_SOCKETS", 20),
            max_extension_sockets=_int(env, "GENOVA_MAX_EXTENSION_SOCKETS", 10),
            providers=ProviderSettings.from_env(env),
        )

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'genova.db').resolve()}"

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "files"


def settings_or_exit(program: str = "genova") -> Settings:
    """The settings of an entry point (``python app.py``, ``worker.py``, ``flask``), or an
    exit with the reason in one line instead of a traceback (e.g. a model mapped to a
    provider without credentials)."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        sys.exit(f"{program}: cannot start: {exc}")


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not installed)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_or_create_secret(data_dir: Path) -> str:
    """Generate the secret once and keep it in the data dir (mode 0600).

    The file appears atomically (write a temp file, then ``link`` it into place), so two
    processes starting together agree on one secret and never read a half-written file.
    """
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret")
    return value
