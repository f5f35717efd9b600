"""Signing in (email and password, a new account, or an API key) and out."""

from __future__ import annotations

import gradio as gr

from genova_client import GenovaError
from ui import session
from ui.handlers import EXPIRED, explain, guarded


class AuthViews:
    @guarded("signin_msg")
    def log_in(self, email: str, password: str, request: gr.Request = None) -> dict:
        if not (email or "").strip() or not password:
            return {self.c.signin_msg: "**Enter your email and password.**"}
        client = self.client({}, request)
        tokens = client.auth.login(email.strip(), password)
        return self.signed_in(session.from_tokens(tokens), tokens.user)

    @guarded("signin_msg")
    def register(self, name: str, email: str, password: str,
                 request: gr.Request = None) -> dict:
        if not (email or "").strip() or not password:
            return {self.c.signin_msg: "**Enter an email and a password** (8 characters or "
                                       "more)."}
        client = self.client({}, request)
        tokens = client.auth.register(email.strip(), password, name=(name or "").strip() or None)
        return self.signed_in(session.from_tokens(tokens), tokens.user)

    @guarded("signin_msg")
    def use_key(self, api_key: str, request: gr.Request = None) -> dict:
        api_key = (api_key or "").strip()
        if not api_key.startswith("af_"):
            return {self.c.signin_msg: "**Paste an API key:** it starts with `af_`."}
        creds = session.from_key(api_key, "")
        me = self.client(creds, request).user.me()
        return self.signed_in({**creds, "email": me.email}, me)

    def log_out(self) -> dict:
        return self.signed_out("Signed out.")

    def resume(self, creds, request: gr.Request = None) -> dict:
        """On page load: the stored sign-in, checked (and refreshed) against the API."""
        if not session.signed_in(creds):
            return self.signed_out()
        try:
            client = self.client(creds, request)
            me = client.user.me()
        except GenovaError as error:
            if error.status == 401:
                return self.signed_out(EXPIRED)
            # not the credential's fault (a busy server, a rate limit): keep it, say why
            return {self.c.loading: gr.update(visible=False),
                    self.c.signin: gr.update(visible=True), self.c.main: gr.update(visible=False),
                    self.c.signin_msg: explain(error) + " Reload the page to try again."}
        return self.signed_in(session.updated(creds, client) or creds, me)
