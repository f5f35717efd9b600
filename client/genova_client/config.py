"""Where the ``genova`` command keeps a login: ``credentials.json`` in the user's config
directory, readable by its owner only (mode 0600).

The directory is ``$GENOVA_CONFIG_DIR`` if set, else ``$XDG_CONFIG_HOME/genova``, else
``~/.config/genova``. The file holds the server ``url`` and either an ``api_key`` or the
``access_token`` and ``refresh_token`` of an email and password login (plus ``email``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FILENAME = "credentials.json"


class ConfigError(Exception):
    """The stored credentials exist but cannot be read."""


def config_dir() -> Path:
    explicit = os.environ.get("GENOVA_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "genova"


def credentials_path() -> Path:
    return config_dir() / FILENAME


def load() -> dict:
    """The stored credentials, or ``{}`` when there are none."""
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"cannot read {path}: not a JSON object")
    return data


def save(data: dict) -> Path:
    """Write the credentials atomically; the file is created with mode 0600 and never
    exists with wider permissions, even for a moment (``mkstemp`` creates it 0600)."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def delete() -> Path | None:
    """Remove the stored credentials; the path removed, or None if there were none."""
    path = credentials_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
