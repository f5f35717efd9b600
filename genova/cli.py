"""Admin commands: ``flask --app app user create|plan|credits ...``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from genova.catalog import PLANS
from genova.catalog import PLATFORMS as PLATFORMS_ALL
from genova.errors import GenovaError
from genova.services import accounts, worker_tokens


def _run(action):
    try:
        return action()
    except GenovaError as exc:
        raise click.ClickException(exc.details) from None


def _describe(user) -> str:
    return (f"{user.email} (id {user.id}) plan={user.plan} "
            f"credits_remaining={user.credits_remaining}")


user_group = AppGroup("user", help="Manage user accounts.")


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
    manager = current_app.extensions["genova"].manager  # None without a reachable Redis
    user = _run(lambda: accounts.set_plan(email=email, plan=plan, manager=manager))
    click.echo(f"updated {_describe(user)}")


@user_group.command("credits")
@click.argument("email")
@click.argument("credits", type=click.IntRange(min=0))
def set_credits(email, credits):
    """Set the credits remaining this month."""
    user = _run(lambda: accounts.set_credits(email=email, credits=credits))
    click.echo(f"updated {_describe(user)}")




token_group = AppGroup("worker-token", help="Manage pool-worker tokens for extensions.")


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
    for token in worker_tokens.list_tokens():
        used = token.last_used_at.isoformat() if token.last_used_at else "never"
        click.echo(f"{token.id}  {token.platform:8}  {token.name}  last used: {used}")


@token_group.command("revoke")
@click.argument("token_id")
def revoke_worker_token(token_id):
    """Revoke a worker token; its extensions are refused from their next connection."""
    _run(lambda: worker_tokens.revoke_token(token_id=token_id))
    click.echo(f"revoked {token_id}")


def register(app: Flask) -> None:
    app.cli.add_command(user_group)
    app.cli.add_command(token_group)
