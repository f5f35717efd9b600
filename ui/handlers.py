"""The studio's callbacks, as plain methods of ``Studio``: each takes the visitor's
credentials and form values, calls the API through ``genova_client``, and returns a dict
of component updates. Errors become plain words next to the form, never a stack trace."""

from __future__ import annotations

import functools
import logging
from types import SimpleNamespace

import gradio as gr

from genova_client import (
    AuthenticationError,
    GenovaError,
    InsufficientCredits,
    RateLimited,
    ValidationError,
)
from ui import render, session

log = logging.getLogger("genova.studio")
EXPIRED = "Your session has ended. Sign in again."
NAMES = {"aspectRatio": "Aspect ratio", "referenceImages": "Reference images",
         "prompt": "Prompt", "count": "Count", "quality": "Quality", "priority": "Priority",
         "name": "Name", "email": "Email", "password": "Password"}


def explain(error: GenovaError, me: dict | None = None) -> str:
    """An API error in plain words."""
    if isinstance(error, InsufficientCredits):
        plan = (me or {}).get("plan", "your")
        allowance = (me or {}).get("monthly_credits")
        gives = f" gives {allowance} credits a month" if allowance else " has a monthly allowance"
        return (f"**No credits left.** The {plan} plan{gives}; they come back on the 1st of "
                f"next month. Ask your operator for a larger plan to continue now.")
    if isinstance(error, RateLimited):
        wait = f"{error.retry_after:.0f} seconds" if error.retry_after else "a minute"
        limit = (me or {}).get("requests_per_minute")
        per = f" ({limit} requests a minute on your plan)" if limit else ""
        return f"**Too many requests**{per}. Try again in {wait}."
    if isinstance(error, ValidationError) and error.field:
        field = error.field.split("[")[0].split(".")[0]
        return f"**{NAMES.get(field, field)}:** {error.details}"
    return f"**{error.error}.** {error.details}" if error.details else f"**{error.error}.**"


class Studio:
    """Callbacks bound to the API's URL and the component handles (``self.c``)."""

    def __init__(self, api_url: str, models: list):
        self.api_url = api_url
        self.models = {m.id: m for m in models}
        self.c = SimpleNamespace()

    def client(self, creds, request):
        return session.client_for(self.api_url, creds, request)

    def signed_out(self, message: str = "") -> dict:
        c = self.c
        return {c.creds: {}, c.me: {}, c.loading: gr.update(visible=False),
                c.signin: gr.update(visible=True),
                c.main: gr.update(visible=False), c.signin_msg: message, c.queue: "",
                c.account: "", c.credits: ""}

    def signed_in(self, creds: dict, me) -> dict:
        c = self.c
        return {c.creds: creds, c.me: me.raw, c.loading: gr.update(visible=False),
                c.signin: gr.update(visible=False),
                c.main: gr.update(visible=True), c.signin_msg: "",
                c.account: render.account_line(me.raw),
                c.credits: render.credits_line(me.credits_remaining)}

    def keep_signed_in(self, creds: dict, client) -> dict:
        """Store the refreshed access token in the visitor's browser, if it changed."""
        fresh = session.updated(creds, client)
        return {self.c.creds: fresh} if fresh else {}


def guarded(message_output: str):
    """Run a callback; an expired session signs the visitor out, any other API error is
    shown in ``message_output`` (a component name on ``self.c``)."""
    def wrap(method):
        @functools.wraps(method)
        def run(self: Studio, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except AuthenticationError as error:
                if getattr(self.c, "creds", None) is None:
                    raise
                if message_output == "signin_msg":
                    return {self.c.signin_msg: explain(error)}
                return self.signed_out(EXPIRED)
            except GenovaError as error:
                me = next((a for a in args if isinstance(a, dict) and "plan" in a), None)
                return {getattr(self.c, message_output): explain(error, me)}
            except (OSError, ValueError) as error:  # an unreadable upload, say
                log.info("studio callback failed: %s", error)
                return {getattr(self.c, message_output): f"**Could not do that:** {error}"}
        return run
    return wrap
