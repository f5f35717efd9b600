"""Which event runs which callback, with which inputs and outputs."""

from __future__ import annotations

from ui import assets


def _outs(c, *names) -> list:
    """Outputs of a guarded callback: its own, plus what signing out touches."""
    auth = ("creds", "me", "loading", "signin", "main", "signin_msg", "queue", "account",
            "credits")
    return [getattr(c, n) for n in dict.fromkeys((*auth, *names))]


def wire_auth(c, studio, demo) -> list:
    """Sign-in flows; each starts the live queue. Returns the live-queue events (sign-out
    cancels them)."""
    live = {"fn": studio.feed, "inputs": [c.creds], "outputs": _outs(c),
                "concurrency_limit": None, "show_progress": "hidden", "queue": True}
    auth_out = _outs(c)
    feeds = [
        demo.load(studio.resume, [c.creds], auth_out).then(**live),
        c.login_go.click(studio.log_in, [c.login_email, c.login_password], auth_out)
        .then(**live),
        c.login_password.submit(studio.log_in, [c.login_email, c.login_password], auth_out)
        .then(**live),
        c.reg_go.click(studio.register, [c.reg_name, c.reg_email, c.reg_password], auth_out)
        .then(**live),
        c.key_go.click(studio.use_key, [c.key_in], auth_out).then(**live),
    ]
    c.signout.click(studio.log_out, None, auth_out, js=assets.CLEAR_SIGN_IN, cancels=feeds)
    return feeds


def wire_create(c, studio, demo) -> None:
    c.prompt.input(None, [c.prompt], [c.counter], js=assets.COUNT_PROMPT)
    demo.load(studio.model_changed, [c.model], _option_outputs(c))
    c.model.change(studio.model_changed, [c.model], _option_outputs(c))
    c.refs.change(studio.references_changed, [c.refs], [c.ref_preview, c.create_msg])
    form = [c.creds, c.me, c.prompt, c.model, c.aspect, c.count, c.quality, c.refs, c.mode,
            c.priority]
    c.run.click(studio.generate, form, _outs(c, "create_msg"), concurrency_limit=None)
    c.cancel_go.click(studio.cancel, [c.creds, c.cancel_id], _outs(c, "create_msg"),
                      concurrency_limit=None)


def _option_outputs(c) -> list:
    return [c.aspect, c.count, c.quality, c.mode, c.model_info]


def wire_gallery(c, studio) -> None:
    page_out = _outs(c, "grid", "page_jobs", "page", "page_label", "prev", "next", "detail",
                     "selected", "gallery_msg")
    filters = [c.creds, c.f_status, c.f_type, c.f_model]
    c.gallery_tab.select(studio.load_page, [*filters, c.page], page_out)
    c.refresh.click(studio.load_page, [*filters, c.page], page_out)
    for box in (c.f_status, c.f_type, c.f_model):
        box.input(lambda *a: studio.load_page(*a, 0), filters, page_out)
    c.prev.click(lambda *a: studio.load_page(*a[:-1], a[-1] - 1), [*filters, c.page], page_out)
    c.next.click(lambda *a: studio.load_page(*a[:-1], a[-1] + 1), [*filters, c.page], page_out)
    c.grid.select(studio.select, [c.page_jobs], [c.detail, c.selected, c.reuse, c.rerun])
    reuse_out = [c.prompt, c.model, c.aspect, c.count, c.quality, c.mode, c.model_info,
                 c.priority, c.tabs, c.create_msg]
    c.reuse.click(studio.reuse, [c.selected], reuse_out)
    c.rerun.click(studio.run_again, [c.creds, c.me, c.selected],
                  _outs(c, "tabs", "create_msg", "gallery_msg"))


def wire_account(c, studio) -> None:
    keys = ("keys_table", "revoke_choice", "account_msg")
    c.account_tab.select(studio.load, [c.creds], _outs(c, "profile", "stats", "name_in",
                                                        *keys))
    c.name_go.click(studio.rename, [c.creds, c.name_in], _outs(c, "profile", "account_msg"))
    c.key_create.click(studio.create_key, [c.creds, c.key_name], _outs(c, "new_key", *keys))
    c.revoke_go.click(studio.revoke_key, [c.creds, c.revoke_choice], _outs(c, *keys))
