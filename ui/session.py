"""A visitor's sign-in, kept in their own browser (``gr.BrowserState``), never here.

Every callback gets the visitor's credentials as an input, builds a short-lived client
from them, and hands back the credentials again when the client refreshed its access
token. The studio itself holds no credential of its own.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

from genova_client import AsyncClient, Client, Tokens

REFRESH_MARGIN = 300  # seconds: refresh an access token this long before it expires


def from_tokens(tokens: Tokens) -> dict:
    return {"access": tokens.access_token, "refresh": tokens.refresh_token,
            "email": tokens.user.email}


def from_key(api_key: str, email: str) -> dict:
    return {"api_key": api_key, "email": email}


def signed_in(creds) -> bool:
    return bool(creds and (creds.get("api_key") or creds.get("access")))


def expires_at(token: str | None) -> float | None:
    """The ``exp`` of a JWT, read without verifying it (the API verifies)."""
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                     ["exp"])
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def visitor_headers(request) -> dict:
    """The visitor's address, so anonymous calls (sign-in) are limited per visitor."""
    address = None
    if request is not None:
        address = request.headers.get("x-forwarded-for") or getattr(request.client, "host",
                                                                     None)
    return {"X-Forwarded-For": address.split(",")[-1].strip()} if address else {}


def public_origin(request) -> str:
    """The origin the visitor's browser sees (our proxy passes X-Forwarded-Host/Proto)."""
    headers = request.headers if request is not None else {}
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:8000"
    proto = headers.get("x-forwarded-proto") or "http"
    return f"{proto}://{host}"


def public_link(url: str | None, origin: str) -> str | None:
    """A signed ``/files`` link of the API, on the origin the browser uses."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{origin}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _kwargs(api_url: str, creds: dict | None, request) -> dict:
    creds = creds or {}
    return {"base_url": api_url, "api_key": creds.get("api_key") or "",
            "token": creds.get("access"), "refresh_token": creds.get("refresh"),
            "headers": visitor_headers(request), "max_retries": 0, "timeout": 30}


def client_for(api_url: str, creds: dict | None, request=None) -> Client:
    """A client with the visitor's credentials, refreshed first if about to expire."""
    client = Client(**_kwargs(api_url, creds, request))
    exp = expires_at(client.token)
    if client.refresh_token and exp is not None and exp - time.time() < REFRESH_MARGIN:
        client.auth.refresh()
    return client


def async_client_for(api_url: str, creds: dict | None, request=None) -> AsyncClient:
    return AsyncClient(**_kwargs(api_url, creds, request))


def updated(creds: dict | None, client) -> dict | None:
    """The credentials to store back when the client refreshed its token, else None."""
    if creds and client.token and client.token != creds.get("access"):
        return {**creds, "access": client.token}
    return None
