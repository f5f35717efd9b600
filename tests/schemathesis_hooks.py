"""Schemathesis hooks for the contract run (see schemathesis.toml at the repository root).

The OpenAPI document marks reference images with ``format: image-base64``; JSON Schema
cannot say "a decodable PNG, JPEG or WEBP", so this strategy makes real ones (data URLs and
plain base64). The run also must not revoke the API key it authenticates with.
"""

from __future__ import annotations

import base64
import io
import os

import schemathesis
from hypothesis import strategies as st
from PIL import Image

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _encode(fmt: str, width: int, height: int, color: tuple, data_url: bool) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    payload = base64.b64encode(buf.getvalue()).decode()
    return f"data:{FORMATS[fmt]};base64,{payload}" if data_url else payload


IMAGES = st.builds(_encode, st.sampled_from(sorted(FORMATS)), st.integers(1, 48),
                   st.integers(1, 48), st.tuples(*[st.integers(0, 255)] * 3), st.booleans())
schemathesis.openapi.format("image-base64", IMAGES)


ABSENT_KEY = "00000000-0000-4000-8000-000000000000"


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Any phase, stateful links included, may find the run's own key in GET /api/keys and
    revoke it, leaving every later call a 401; aim such a call at a key that does not
    exist instead (a 404, still checked)."""
    own = os.environ.get("GENOVA_FUZZ_KEY_ID")
    params = case.path_parameters
    if own and params and params.get("key_id") == own:
        params["key_id"] = ABSENT_KEY
