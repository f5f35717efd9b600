"""Admin commands: ``flask --app app user|keys|worker-token ...``. Each says first (on
stderr) which database it works on, so a user created into the wrong ``./var`` shows."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from genova import runtime
from genova.catalog import PLANS
from genova.catalog import PLATFORMS as PLATFORMS_ALL
from genova.errors import GenovaError
from genova.extensions import db
from genova.migrations import upgrade_database
from genova.services import accounts, keys, worker_tokens


def _run(action):
    try:
        return action()
    except GenovaError as exc:
        raise click.ClickException(exc.details) from None


def _describe(user) -> str:
    return (f"{user.email} (id {user.id}) plan={user.plan} "
            f"credits_remaining={user.credits_remaining}")


@with_appcontext
def _say_database() -> None:
    """Name the database, and bring its schema up to date (a fresh install's first command
    may well be ``user create``)."""
    click.echo(f"database: {_database_url()}", err=True)
    upgrade_database(db.engine)


def _database_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Rows as aligned columns under ``headers``."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
                     .rstrip() for row in [headers, *rows])


user_group = AppGroup("user", help="Manage user accounts.", callback=_say_database)


@user_group.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--name", default=None)
@click.option("--plan", type=click.Choice(list(PLANS)), default="free", show_default=True)
def create_user(email, password, name, plan):
    """Create a user with the plan's monthly credits."""
    user = _run(lambda: accounts.create_user(email=email, password=password, name=name,
                                             plan=plan))
    click.echo(f"created {_describe(user)}")


@user_group.command("plan")
@click.argument("email")
@click.argument("plan", type=click.Choice(list(PLANS)))
def set_plan(email, plan):
    """Move a user to PLAN; this month's allowance follows the new plan."""
    rt = runtime.current()  # manager and redis: None with no Redis around
    user = _run(lambda: accounts.set_plan(email=email, plan=plan, manager=rt.manager,
                                          redis=rt.redis))
    click.echo(f"updated {_describe(user)}")


@user_group.command("credits")
@click.argument("email")
@click.argument("credits", type=click.IntRange(min=0))
def set_credits(email, credits):
    """Set the credits remaining this month."""
    user = _run(lambda: accounts.set_credits(email=email, credits=credits))
    click.echo(f"updated {_describe(user)}")


@user_group.command("disable")
@click.argument("email")
def disable_user(email):
    """Refuse the account: revoke its API keys, refuse its tokens and logins, and close
    its open sockets on every server."""
    redis = runtime.current().redis  # None: no server running here
    user, revoked = _run(lambda: accounts.disable_user(email=email, redis=redis))
    sockets = ("its open sockets were told to close" if redis is not None
               else "no running server was found, so no socket is open")
    click.echo(f"disabled {user.email}; revoked {revoked} API key(s); {sockets}")


@user_group.command("enable")
@click.argument("email")
def enable_user(email):
    """Let a disabled account log in again (its revoked keys stay revoked)."""
    user = _run(lambda: accounts.enable_user(email=email))
    click.echo(f"enabled {user.email}; it can log in and create new keys")


def _status(user) -> str:
    return "disabled" if user.disabled_at else "active"


@user_group.command("list")
def list_users():
    """Every user with plan, credits and status."""
    rows = [[u.email, u.name, u.plan, str(u.credits_remaining), str(u.credits_used),
             _status(u), u.created_at.strftime("%Y-%m-%d %H:%M")]
            for u in accounts.list_users()]
    click.echo(table(rows, ["EMAIL", "NAME", "PLAN", "CREDITS", "USED", "STATUS",
                            "CREATED"]))


@user_group.command("show")
@click.argument("email")
def show_user(email):
    """One user's profile, plan, credits, jobs and keys."""
    from genova.services import jobs

    user = _run(lambda: accounts.find_by_email(email))
    stats = jobs.stats(user_id=user.id)
    active_keys = keys.list_keys(user_id=user.id)
    jobs_line = (f"{stats['total_jobs']} ({stats['completed_jobs']} completed, "
                 f"{stats['failed_jobs']} failed, {stats['active_jobs']} active)")
    for label, value in (("id", user.id), ("email", user.email), ("name", user.name),
                         ("plan", f"{user.plan} ({user.subscription_status})"),
                         ("status", _status(user) + (f" since {user.disabled_at.isoformat()}"
                                                     if user.disabled_at else "")),
                         ("credits", f"{user.credits_remaining} left, {user.credits_used} used"),
                         ("jobs", jobs_line),
                         ("api keys", ", ".join(k.prefix for k in active_keys) or "none"),
                         ("created", user.created_at.isoformat())):
        click.echo(f"{label + ':':10} {value}")


@user_group.command("password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for when not given).")
def set_password(email, password):
    """Set a user's password."""
    user = _run(lambda: accounts.set_password(email=email, password=password))
    click.echo(f"password changed for {user.email}")


keys_group = AppGroup("keys", help="Issue API keys for users.", callback=_say_database)


@keys_group.command("create")
@click.argument("email")
@click.argument("name")
def create_key(email, name):
    """Issue an API key for EMAIL; it is printed once."""
    user = _run(lambda: accounts.find_by_email(email))
    key, raw = _run(lambda: keys.create_key(user_id=user.id, name=name))
    click.echo(f"created key {key.id} ({name}) for {user.email}; it is shown only once:",
               err=True)
    click.echo(raw)


token_group = AppGroup("worker-token", help="Manage pool-worker tokens for extensions.",
                       callback=_say_database)


@token_group.command("create")
@click.argument("name")
@click.option("--platform", type=click.Choice(list(PLATFORMS_ALL)), required=True)
def create_worker_token(name, platform):
    """Issue a token for a pool extension serving every user's PLATFORM jobs."""
    token, raw = _run(lambda: worker_tokens.create_token(name=name, platform=platform))
    click.echo(f"created worker token {token.id} ({name}, platform {platform}); "
               "it is shown only once:", err=True)
    click.echo(raw)


@token_group.command("list")
def list_worker_tokens():
    """List active worker tokens."""
    rows = [[t.id, t.platform, t.name,
             t.last_used_at.isoformat() if t.last_used_at else "never"]
            for t in worker_tokens.list_tokens()]
    click.echo(table(rows, ["ID", "PLATFORM", "NAME", "LAST USED"]))


@token_group.command("revoke")
@click.argument("token_id")
def revoke_worker_token(token_id):
    """Revoke a worker token; its extensions are refused from their next connection."""
    _run(lambda: worker_tokens.revoke_token(token_id=token_id))
    click.echo(f"revoked {token_id}")


db_group = AppGroup("db", help="The database schema.")


@db_group.command("upgrade")
@with_appcontext
def upgrade():
    """Apply every pending migration (python app.py does this itself before it serves; run
    it before starting separate worker.py processes against a new database)."""
    upgrade_database(db.engine)
    click.echo(f"{_database_url()}: schema up to date")


providers_group = AppGroup("providers", help="The generators serving each model.")


@providers_group.command("check")
@with_appcontext
def check_providers():
    """Call each configured provider once (a cheap call: look up each provider model) and
    report what works. Exits 1 if any check failed."""
    registry = runtime.current().generators
    rows, failed = [], 0
    for provider, models in registry.providers().items():
        for model_id in models:
            generator = registry.for_model(model_id)
            try:
                outcome = f"ok: {generator.probe()}"
            except Exception as exc:  # noqa: BLE001 - reported, never raised
                outcome, failed = f"FAILED: {getattr(exc, 'user_message', None) or exc}", 1
            rows.append([model_id, provider, generator.describe()["provider_model"],
                         outcome[:160]])
    click.echo(table(rows, ["MODEL", "PROVIDER", "PROVIDER MODEL", "CHECK"]))
    raise SystemExit(failed)


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(providers_group)
    app.cli.add_command(user_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(token_group)
