"""Small helpers shared by the API tests."""

from __future__ import annotations

import itertools

from genova.catalog import PLANS
from genova.extensions import db
from genova.models import User

_ids = itertools.count()
# POST /api/jobs: the documented body, plus the balance after the debit
CREATED_KEYS = {"success", "jobId", "status", "queuePosition", "estimatedTime",
                "creditsRemaining"}


def register(client, *, plan: str | None = None, email: str | None = None,
             password: str = "correct horse battery", name: str | None = None) -> dict:
    """Register through the API; optionally move the user to ``plan``. Returns a dict with
    the user, tokens and ready-made auth headers."""
    email = email or f"user{next(_ids)}@example.com"
    body = {"email": email, "password": password}
    if name:
        body["name"] = name
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    if plan:
        set_user(client.application, data["user"]["id"], plan=plan,
                 credits_remaining=PLANS[plan].monthly_credits)
    data["headers"] = {"Authorization": f"Bearer {data['accessToken']}"}
    data["email"] = email
    data["password"] = password
    return data


def set_user(app, user_id: str, **values) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def get_user(app, user_id: str) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def job_body(**overrides) -> dict:
    body = {"type": "image", "prompt": "A cat playing piano in a jazz club", "model": "imagen4",
            "aspectRatio": "landscape", "count": 1}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
