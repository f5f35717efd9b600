"""The two WebSockets: ``/ws/user`` (a user's live events) and ``/ws/extension`` (remote
workers). Both authenticate from the query string, since browsers cannot set headers.

Refusals close the socket with a clear reason: 4401 (no or bad credentials), 4403 (the
credential does not match ``userId`` or ``extensionType``, or a browser page from an origin
that is not allowed opened it), 4400 (bad parameters), 4429 (too many sockets for the
credential, or too many failed authentications from the address), 1013 (the process holds
as many sockets as it takes), 1011 (Redis is unavailable).
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

import redis
from flask import Blueprint, current_app, request
from werkzeug.exceptions import TooManyRequests

from genova import runtime
from genova.api import ratelimit
from genova.api.auth import authenticate, skip_identify, worker_credential
from genova.catalog import PLATFORMS
from genova.errors import GenovaError
from genova.extensions import session_scope, sock
from genova.realtime.hub import hub_for
from genova.realtime.limits import USER_MAX_MESSAGE
from genova.realtime.user import UserSession
from genova.realtime.worker_session import WorkerSession

bp = Blueprint("ws", __name__)
log = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


def _checked(check, **credentials):
    """``check(**credentials)`` under the per-address budget of failed attempts (the same
    as for HTTP): 4429 once it is spent, 4401 for a bad credential."""
    try:
        return ratelimit.budgeted_auth(check, **credentials)
    except TooManyRequests:
        raise Refused(4429, "too many failed authentications from this address; retry "
                            "later") from None
    except GenovaError as exc:
        raise Refused(4401, f"unauthorized: {exc.details}") from None


def _credential_from_query():
    args = request.args
    credential = _checked(authenticate, api_key=args.get("apiKey"), bearer=args.get("token"))
    if credential is None:
        raise Refused(4401, "unauthorized: pass token (a JWT) or apiKey in the query")
    if args.get("userId") not in (None, credential.user.id):
        raise Refused(4403, "forbidden: userId does not match the credential")
    return credential


def check_origin() -> None:
    """Browsers always send Origin: a page from another site may open a socket only if
    GENOVA_ALLOWED_ORIGINS names its origin. This server's own origin is always allowed,
    and a client that sends no Origin is a script, not a browser page."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = current_app.config["GENOVA"].allowed_origins
    if "*" in allowed or origin.rstrip("/") in allowed:
        return
    if urlsplit(origin).netloc.lower() == request.host.lower():
        return
    raise Refused(4403, f"forbidden: origin {origin[:100]} is not allowed "
                        "(see GENOVA_ALLOWED_ORIGINS)")


def _refusing(handler):
    @functools.wraps(handler)
    def run(ws):
        try:
            with session_scope():
                check_origin()
                handler(ws)
        except Refused as refused:
            ws.close(reason=refused.code, message=refused.reason)
        except redis.RedisError as exc:  # not a 500 written into an upgraded socket
            log.warning("socket refused, Redis is unavailable: %s", exc)
            ws.close(reason=1011, message="live events are unavailable (the queue service "
                                          "is down); reconnect in a few seconds")
    return run


@sock.route("/ws/user", bp=bp)
@skip_identify
@_refusing
def user_socket(ws):
    ws.max_message_size = USER_MAX_MESSAGE  # its clients only ever ping
    credential = _credential_from_query()
    rt = runtime.current()
    rt.redis.ping()  # no events without Redis: refuse (1011) rather than sit silent
    session = UserSession(ws, credential.user.id, key_id=credential.key_id,
                          expires_at=credential.expires_at)
    session.run(rt, hub_for(current_app._get_current_object()))


def _extension_credential(platform: str):
    args = request.args
    caller = _checked(worker_credential, token=args.get("token"), api_key=args.get("apiKey"))
    if caller is None:
        raise Refused(4401, "unauthorized: pass token (a JWT or worker token) or apiKey in "
                            "the query")
    if caller.platform not in (None, platform):
        raise Refused(4403, f"forbidden: this worker token is for {caller.platform}")
    if caller.user_id and args.get("userId") not in (None, caller.user_id):
        raise Refused(4403, "forbidden: userId does not match the credential")
    return caller


@sock.route("/ws/extension", bp=bp)
@skip_identify
@_refusing
def extension_socket(ws):
    platform = request.args.get("extensionType")
    if platform not in PLATFORMS:
        raise Refused(4400, f"extensionType must be one of {', '.join(PLATFORMS)}")
    caller = _extension_credential(platform)
    app = current_app._get_current_object()
    session = WorkerSession(ws, rt=runtime.of(app), app=app, platform=platform,
                            caller=caller)
    session.run(hub_for(app))
