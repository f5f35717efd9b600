"""``/api/user``: profile and statistics."""

from __future__ import annotations

from flask import Blueprint

from genova.api.auth import current_user
from genova.api.endpoint import endpoint
from genova.api.serializers import user_out
from genova.schemas import ProfileUpdate, Stats, UserOut
from genova.services import accounts, jobs

bp = Blueprint("users", __name__, url_prefix="/api/user")


@bp.get("/me")
@endpoint("Your profile, plan and credits", tag="user", responses={200: UserOut})
def me():
    return user_out(current_user())


@bp.route("/me", methods=["PATCH", "PUT"])
@endpoint("Update your profile (only the name can change)", tag="user", body=ProfileUpdate,
          responses={200: UserOut})
def update_me(body: ProfileUpdate):
    return user_out(accounts.update_profile(user_id=current_user().id, name=body.name.strip()))


@bp.get("/stats")
@endpoint("Generation statistics", tag="user", responses={200: Stats})
def stats():
    return jobs.stats(user_id=current_user().id)
