"""``/api/models``: the model catalogue, public (it is the same for everyone)."""

from __future__ import annotations

from flask import Blueprint

from genova import runtime
from genova.api.endpoint import endpoint
from genova.schemas import ModelList
from genova.services.catalog_view import describe_models

bp = Blueprint("models", __name__, url_prefix="/api/models")


@bp.get("")
@endpoint("The seven models: platform, type, aspect ratios with pixel sizes, counts, "
          "qualities, reference modes, defaults, cost, and the generator serving each "
          "(the built-in procedural one is not an AI model)", tag="models", auth=False,
          responses={200: ModelList})
def index():
    return {"models": describe_models(runtime.current().generators)}
