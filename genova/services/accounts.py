"""Users: registration, login, profile, plans and credits administration."""

from __future__ import annotations

import functools
import re
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from genova.catalog import DEFAULT_PLAN, PLANS
from genova.errors import Conflict, NotFound, Unauthorized, ValidationError
from genova.extensions import db
from genova.models import ApiKey, CreditEntry, User, utcnow
from genova.services import events

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


def current_period(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y-%m")


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationError(f"{email!r} is not a valid email address", field="email")
    return email


def check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise ValidationError(f"unknown plan {plan!r}; use one of {', '.join(PLANS)}", field="plan")
    return plan


def create_user(*, email: str, password: str, name: str | None = None,
                plan: str = DEFAULT_PLAN) -> User:
    """Create a user with the plan's monthly credits; 409 if the email is taken."""
    email = normalize_email(email)
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"password must be at least {MIN_PASSWORD} characters",
                              field="password")
    check_plan(plan)
    credits = PLANS[plan].monthly_credits
    user = User(email=email, name=(name or "").strip() or email.split("@")[0],
                password_hash=generate_password_hash(password), plan=plan,
                credits_remaining=credits, credits_used=0, credits_period=current_period())
    db.session.add(user)
    try:
        db.session.flush()
        db.session.add(CreditEntry(user_id=user.id, delta=credits, reason="signup",
                                   balance_after=credits))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"an account with email {email} already exists",
                       error="Email already registered", field="email") from None
    return user


@functools.cache
def _decoy_hash() -> str:
    """Checked against when the email is unknown, so that a wrong email costs the same
    hashing time as a wrong password and answer times do not reveal which accounts exist."""
    return generate_password_hash(secrets.token_hex(16))


def authenticate(*, email: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    stored = user.password_hash if user is not None else _decoy_hash()
    if not check_password_hash(stored, password or "") or user is None:
        raise Unauthorized("email or password is incorrect", error="Invalid credentials")
    return ensure_enabled(user)


def ensure_enabled(user: User) -> User:
    """A disabled account's every credential is refused, whatever it is."""
    if user.disabled_at is not None:
        raise Unauthorized("this account has been disabled; contact the operator",
                           error="Account disabled")
    return user


def get_user(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise Unauthorized("the account for this credential no longer exists")
    return ensure_enabled(user)


def find_by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def update_profile(*, user_id: str, name: str) -> User:
    user = get_user(user_id)
    user.name = name
    db.session.commit()
    return user


def refresh_period(*, user_id: str, now: datetime | None = None) -> None:
    """Reset credits to the plan allowance at the first request of a new calendar month (UTC).

    The conditional UPDATE makes concurrent requests reset at most once.
    """
    period = current_period(now)
    user = db.session.get(User, user_id)
    if user is None or user.credits_period == period:
        return
    allowance = PLANS[user.plan].monthly_credits
    result = db.session.execute(
        User.__table__.update()
        .where(User.id == user_id, User.credits_period == user.credits_period)
        .values(credits_remaining=allowance, credits_used=0, credits_period=period)
    )
    if result.rowcount:
        db.session.add(CreditEntry(user_id=user_id, delta=allowance, reason="monthly_reset",
                                   balance_after=allowance))
    db.session.commit()
    db.session.refresh(user)


def set_plan(*, email: str, plan: str, manager=None, redis=None) -> User:
    """Change plan; this month's allowance becomes the new plan's, less what was used. With
    the job manager at hand, the new concurrency limit applies to queued jobs at once; with
    Redis, the user's sockets are closed with 1012 so that clients reconnect under the new
    plan (the credential is still good: not 4401, which clients take as "log in again")."""
    user = find_by_email(email)
    user.plan = check_plan(plan)
    user.credits_remaining = max(0, PLANS[plan].monthly_credits - user.credits_used)
    db.session.add(CreditEntry(user_id=user.id, delta=0, reason="plan_change",
                               balance_after=user.credits_remaining))
    db.session.commit()
    if manager is not None:
        manager.set_cap(user_id=user.id, cap=PLANS[plan].concurrent_jobs)
    if redis is not None:
        events.close_sockets(redis, user_id=user.id, code=1012,
                             reason=f"the account moved to the {plan} plan; reconnect")
    return user


def set_credits(*, email: str, credits: int) -> User:
    if credits < 0:
        raise ValidationError("credits cannot be negative", field="credits")
    user = find_by_email(email)
    delta = credits - user.credits_remaining
    user.credits_remaining = credits
    db.session.add(CreditEntry(user_id=user.id, delta=delta, reason="admin",
                               balance_after=credits))
    db.session.commit()
    return user


def set_password(*, email: str, password: str) -> User:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"password must be at least {MIN_PASSWORD} characters",
                              field="password")
    user = find_by_email(email)
    user.password_hash = generate_password_hash(password)
    db.session.commit()
    return user


def disable_user(*, email: str, redis=None) -> tuple[User, int]:
    """Refuse the account's every credential from now on: API keys are revoked, tokens and
    logins refused, and (with Redis at hand) its open sockets in every server process are
    closed. Returns the user and how many keys were revoked. Jobs already queued run."""
    user = find_by_email(email)
    now = utcnow()
    user.disabled_at = user.disabled_at or now
    revoked = db.session.execute(update(ApiKey).where(
        ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    db.session.commit()
    if redis is not None:
        events.close_sockets(redis, user_id=user.id, code=4401,
                             reason="unauthorized: this account has been disabled")
    return user, revoked.rowcount


def enable_user(*, email: str) -> User:
    """Let a disabled account log in again; its revoked keys stay revoked."""
    user = find_by_email(email)
    user.disabled_at = None
    db.session.commit()
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.created_at, User.email)))
