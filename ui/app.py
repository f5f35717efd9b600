"""The studio's page: sign-in, then Create (with the live queue), Gallery and Account.

``build(api_url, models, state_key)`` returns the ``gr.Blocks``; ``python -m ui`` serves it
on loopback for ``python app.py``, which streams ``/studio/*`` to it.
"""

from __future__ import annotations

import gradio as gr

from ui.account_views import KEY_COLUMNS, AccountViews
from ui.auth_views import AuthViews
from ui.create_views import PRIORITIES, CreateViews, model_choices
from ui.gallery_views import ANY, GalleryViews
from ui.handlers import Studio as Base
from ui.live import LiveViews

STATUSES = [ANY, "completed", "failed", "cancelled", "queued", "processing"]


class Studio(AuthViews, CreateViews, GalleryViews, AccountViews, LiveViews, Base):
    """All the callbacks, bound to the API's URL and to the page's components."""


def _sign_in_panel(c) -> None:
    # Hidden until the page's load event has checked the stored sign-in: a visitor who
    # signs in before that check ends would otherwise be signed out again by it.
    c.loading = gr.Markdown("Loading…", elem_id="loading")
    with gr.Column(visible=False, elem_id="signin") as c.signin:
        gr.Markdown("## Sign in to Genova Studio\nCreate images and videos from a prompt.")
        with gr.Tabs():
            with gr.Tab("Log in"):
                c.login_email = gr.Textbox(label="Email", elem_id="login-email")
                c.login_password = gr.Textbox(label="Password", type="password",
                                              elem_id="login-password")
                c.login_go = gr.Button("Log in", variant="primary", elem_id="login-go")
            with gr.Tab("Create an account"):
                c.reg_name = gr.Textbox(label="Name (optional)", elem_id="register-name")
                c.reg_email = gr.Textbox(label="Email", elem_id="register-email")
                c.reg_password = gr.Textbox(label="Password (8 characters or more)",
                                            type="password", elem_id="register-password")
                c.reg_go = gr.Button("Create account", variant="primary", elem_id="register-go")
            with gr.Tab("Use an API key"):
                c.key_in = gr.Textbox(label="API key (af_...)", type="password",
                                      elem_id="apikey-input")
                c.key_go = gr.Button("Use this key", variant="primary", elem_id="apikey-go")
        c.signin_msg = gr.Markdown(elem_id="signin-message")


def _create_tab(c, studio: Studio) -> None:
    first = next(iter(studio.models.values()))
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            c.prompt = gr.Textbox(label="Prompt", lines=4, max_length=500, elem_id="prompt",
                                  placeholder="A cat playing piano in a jazz club "
                                              "(Ctrl+Enter to generate)")
            c.counter = gr.Markdown("0 / 500 characters", elem_id="prompt-count")
            c.model = gr.Dropdown(model_choices(studio.models.values()), value=first.id,
                                  label="Model", elem_id="model")
            c.model_info = gr.Markdown(elem_id="model-info")
            c.aspect = gr.Radio(label="Aspect ratio", elem_id="aspect")
            with gr.Row():
                c.count = gr.Slider(1, 4, value=1, step=1, label="How many", elem_id="count")
                c.quality = gr.Radio(label="Quality (Freepik)", elem_id="quality")
            c.refs = gr.File(label="Reference images (up to 4)", file_count="multiple",
                             file_types=["image"], elem_id="refs")
            c.ref_preview = gr.Gallery(label="References", columns=4, height=140,
                                       visible=False, elem_id="ref-preview",
                                       interactive=False, allow_preview=False,
                                       object_fit="contain")
            c.mode = gr.Radio(label="Reference mode", elem_id="ref-mode")
            c.priority = gr.Slider(*PRIORITIES, value=0, step=1, label="Priority (higher runs "
                                   "sooner)", elem_id="priority")
            c.run = gr.Button("Generate", variant="primary", elem_id="run")
            c.create_msg = gr.Markdown(elem_id="create-message")
        with gr.Column(scale=6, min_width=320):
            gr.Markdown("### Live queue")
            c.queue = gr.HTML(elem_id="queue")
            c.cancel_id = gr.Textbox(visible="hidden", elem_id="cancel-id", label="job")
            c.cancel_go = gr.Button("Cancel job", visible="hidden", elem_id="cancel-go")


def _gallery_tab(c, studio: Studio) -> None:
    with gr.Row():
        c.f_status = gr.Dropdown(STATUSES, value="completed", label="Status",
                                 elem_id="filter-status")
        c.f_type = gr.Dropdown([ANY, "image", "video"], value=ANY, label="Type",
                               elem_id="filter-type")
        c.f_model = gr.Dropdown([ANY, *studio.models], value=ANY, label="Model",
                                elem_id="filter-model")
        c.refresh = gr.Button("Refresh", elem_id="gallery-refresh")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            c.grid = gr.Gallery(label="Results, newest first", columns=4, height="auto",
                                allow_preview=False, elem_id="gallery-grid",
                                interactive=False)
            with gr.Row():
                c.prev = gr.Button("← Newer", elem_id="gallery-prev", interactive=False)
                c.page_label = gr.Markdown(elem_id="gallery-page")
                c.next = gr.Button("Older →", elem_id="gallery-next", interactive=False)
            c.gallery_msg = gr.Markdown(elem_id="gallery-message")
        with gr.Column(scale=2, min_width=300):
            c.detail = gr.HTML(elem_id="detail")
            with gr.Row():
                c.reuse = gr.Button("Reuse settings", elem_id="reuse", interactive=False)
                c.rerun = gr.Button("Run again", elem_id="rerun", interactive=False)
    c.page, c.page_jobs, c.selected = gr.State(0), gr.State([]), gr.State({})


def _account_tab(c) -> None:
    c.profile = gr.Markdown(elem_id="profile")
    with gr.Row():
        c.name_in = gr.Textbox(label="Your name", elem_id="name-input", scale=3)
        c.name_go = gr.Button("Save name", elem_id="name-save", scale=1)
    gr.Markdown("### Statistics")
    c.stats = gr.Markdown(elem_id="stats")
    gr.Markdown("### API keys")
    c.keys_table = gr.Dataframe(headers=KEY_COLUMNS, interactive=False, elem_id="keys-table",
                                label="Active keys")
    with gr.Row():
        c.key_name = gr.Textbox(label="New key's name", elem_id="key-name", scale=3)
        c.key_create = gr.Button("Create key", elem_id="key-create", scale=1)
    c.new_key = gr.Textbox(label="Your new key (shown once)", visible=False, buttons=["copy"],
                           elem_id="new-key", interactive=False)
    c.account_msg = gr.Markdown(elem_id="account-message")
    with gr.Row():
        c.revoke_choice = gr.Dropdown(label="Key to revoke", elem_id="revoke-choice", scale=3)
        c.revoke_go = gr.Button("Revoke key", variant="stop", elem_id="revoke-go", scale=1)


def build(api_url: str, models: list, state_key: str) -> tuple[gr.Blocks, Studio]:
    """The studio for the API at ``api_url``; ``state_key`` seals each visitor's sign-in in
    their own browser storage."""
    from ui import wiring

    studio = Studio(api_url, models)
    c = studio.c
    with gr.Blocks(title="Genova Studio", delete_cache=(3600, 3600)) as demo:
        c.creds = gr.BrowserState({}, storage_key="genova-studio", secret=state_key)
        c.me = gr.State({})
        _sign_in_panel(c)
        with gr.Column(visible=False, elem_id="main") as c.main:
            with gr.Row(elem_id="header"):
                c.account = gr.Markdown(elem_id="account-line")
                c.credits = gr.Markdown(elem_id="credits")
                c.signout = gr.Button("Sign out", size="sm", elem_id="signout", scale=0,
                                      min_width=100)
            with gr.Tabs(elem_id="tabs") as c.tabs:
                with gr.Tab("Create", id="create"):
                    _create_tab(c, studio)
                with gr.Tab("Gallery", id="gallery") as c.gallery_tab:
                    _gallery_tab(c, studio)
                with gr.Tab("Account", id="account") as c.account_tab:
                    _account_tab(c)
            gr.Markdown("Results made by the built-in procedural generator are placeholders, "
                        "not AI output; they say so under each picture.",
                        elem_id="placeholder-note")
        wiring.wire_auth(c, studio, demo)
        wiring.wire_create(c, studio, demo)
        wiring.wire_gallery(c, studio)
        wiring.wire_account(c, studio)
    demo.queue(default_concurrency_limit=16, max_size=512)
    return demo, studio


def theme():
    return gr.themes.Default(font=["system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])
