"""The Account tab: profile and plan, statistics, renaming, and API keys."""

from __future__ import annotations

import gradio as gr

from ui import render
from ui.handlers import guarded

KEY_COLUMNS = ["Name", "Prefix", "Created", "Last used", "ID"]


def key_rows(keys) -> list[list[str]]:
    def when(value):
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    return [[k.name, k.prefix + "…", when(k.created_at), when(k.last_used_at), k.id]
            for k in keys]


class AccountViews:
    def _keys(self, client) -> dict:
        keys = client.keys.list()
        choices = [(f"{k.name} ({k.prefix}…)", k.id) for k in keys]
        return {self.c.keys_table: key_rows(keys),
                self.c.revoke_choice: gr.update(choices=choices, value=None)}

    @guarded("account_msg")
    def load(self, creds, request: gr.Request = None) -> dict:
        client = self.client(creds, request)
        me, stats = client.user.me(), client.user.stats()
        return {self.c.profile: render.profile(me), self.c.stats: render.stats(stats),
                self.c.name_in: me.name,
                self.c.me: me.raw, self.c.account: render.account_line(me.raw),
                self.c.credits: render.credits_line(me.credits_remaining),
                self.c.account_msg: "", **self._keys(client),
                **self.keep_signed_in(creds, client)}

    @guarded("account_msg")
    def rename(self, creds, name, request: gr.Request = None) -> dict:
        client = self.client(creds, request)
        me = client.user.update(name=(name or "").strip())
        return {self.c.profile: render.profile(me), self.c.me: me.raw,
                self.c.account: render.account_line(me.raw), self.c.account_msg: "Name saved.",
                **self.keep_signed_in(creds, client)}

    @guarded("account_msg")
    def create_key(self, creds, name, request: gr.Request = None) -> dict:
        client = self.client(creds, request)
        key = client.keys.create((name or "").strip() or "API key")
        return {self.c.new_key: gr.update(value=key.key, visible=True),
                self.c.account_msg: "Copy the new key now: it is shown only once.",
                **self._keys(client), **self.keep_signed_in(creds, client)}

    @guarded("account_msg")
    def revoke_key(self, creds, key_id, request: gr.Request = None) -> dict:
        if not key_id:
            return {self.c.account_msg: "**Pick a key to revoke.**"}
        client = self.client(creds, request)
        client.keys.revoke(key_id)
        return {self.c.account_msg: "Key revoked: it stops working at once.",
                **self._keys(client), **self.keep_signed_in(creds, client)}
