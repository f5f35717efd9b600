"""Opening the API's WebSockets: URLs with the credential in the query, connecting, and
reading a refusal. Shared by the clients and by worker extensions (``genova.remote_worker``).

Browsers cannot set headers on a WebSocket, so the API takes the credential in the query:
``apiKey=af_...`` for an API key, ``token=...`` for a JWT or a pool-worker token
(``gwt_...``). A socket the server refuses is accepted and then closed with a 44xx code
and a reason (4400 bad parameters, 4401 bad credentials, 4403 not allowed).
"""

from __future__ import annotations

from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as _connect

from genova_client import errors

MAX_MESSAGE = 2 ** 22


def credential_query(*, api_key: str | None = None, token: str | None = None) -> dict:
    """The query parameter the server expects for this credential."""
    if api_key:
        return {"apiKey": api_key}
    if token:
        return {"token": token}
    raise errors.AuthenticationError(
        "Authentication required", "set api_key (or GENOVA_API_KEY) or token", status=401)


def socket_url(base_url: str, path: str, query: dict) -> str:
    """``http(s)://host/...`` to ``ws(s)://host/path?query``."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise errors.ValidationError("Invalid URL", f"{base_url!r} must start with http:// "
                                     "or https://", field="base_url")
    scheme = "wss" if base.startswith("https") else "ws"
    return f"{scheme}{base[base.index(':'):]}{path}?{urlencode(query)}"


def connect(url: str, *, timeout: float = 30.0) -> ClientConnection:
    """Open a socket (synchronously); ``errors.ConnectionError`` if it cannot be opened."""
    try:
        return _connect(url, open_timeout=timeout, user_agent_header="genova-client",
                        max_size=MAX_MESSAGE)
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise errors.ConnectionError("WebSocket unavailable", f"{exc}") from exc


def refusal(exc: ConnectionClosed) -> errors.GenovaError | None:
    """The error for a socket the server refused (a 44xx close), else None (a drop)."""
    frame = exc.rcvd
    return errors.from_close(frame.code, frame.reason) if frame is not None else None
