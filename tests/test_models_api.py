"""``GET /api/models``: the catalogue as data, matching what job creation accepts."""

from __future__ import annotations

from genova.catalog import MODELS, PLATFORMS
from tests.helpers import job_body, register


def test_lists_every_model_with_its_options(client):
    response = client.get("/api/models")  # public: no credentials
    assert response.status_code == 200
    models = {m["id"]: m for m in response.get_json()["models"]}
    assert set(models) == set(MODELS)
    imagen = models["imagen4"]
    assert (imagen["platform"], imagen["type"], imagen["max_count"]) == ("flow", "image", 4)
    assert imagen["aspect_ratios"][0] == {"value": "landscape", "ratio": "16:9",
                                          "width": 1344, "height": 756}
    assert imagen["qualities"] == [] and imagen["reference_modes"] == ["ingredients"]
    veo = models["veo3_fast"]
    assert veo["type"] == "video" and veo["max_count"] == 1
    assert [r["value"] for r in veo["aspect_ratios"]] == ["landscape", "portrait"]
    freepik = models["freepik"]
    assert freepik["qualities"] == ["1K", "2K"] and freepik["default_quality"] == "1K"
    assert freepik["reference_modes"] == list(PLATFORMS["freepik"].reference_modes)
    wide = next(r for r in freepik["aspect_ratios"] if r["value"] == "16:9")
    assert wide["sizes"]["2K"] == {"width": 2048, "height": 1152}
    assert all(m["credit_cost"] == 1 for m in models.values())
    assert imagen["generator"] == {"provider": "procedural", "provider_model":
                                   "genova-procedural", "ai_model": False}


def test_says_which_provider_serves_each_model(provider_app):
    app = provider_app(generators={"imagen4": "google", "freepik": "freepik"},
                       google_api_key="k", freepik_api_key="k",
                       provider_models={"imagen4": "imagen-4.0-ultra-generate-001"})
    models = {m["id"]: m for m in app.test_client().get("/api/models").get_json()["models"]}
    assert models["imagen4"]["generator"] == {
        "provider": "google", "provider_model": "imagen-4.0-ultra-generate-001",
        "ai_model": True}
    assert models["freepik"]["generator"]["provider_model"] == "mystic/realism"
    assert models["veo3_fast"]["generator"]["provider"] == "procedural"


def test_every_listed_combination_is_accepted(client):
    """What the catalogue offers, job creation takes (and the defaults are real values)."""
    user = register(client, plan="business")
    for model in client.get("/api/models").get_json()["models"]:
        assert model["default_aspect_ratio"] in [r["value"] for r in model["aspect_ratios"]]
        for ratio in model["aspect_ratios"]:
            body = job_body(type=model["type"], model=model["id"], aspectRatio=ratio["value"],
                            count=model["max_count"], quality=model["default_quality"])
            response = client.post("/api/jobs", json=body, headers=user["headers"])
            assert response.status_code == 201, (model["id"], response.get_json())


def test_the_catalogue_costs_no_request_budget(tmp_path, database_url, redis_url):
    from genova import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url, redis_url,
                                   anonymous_rate_limit="2 per minute"))
    c = app.test_client()
    assert {c.get("/api/models").status_code for _ in range(5)} == {200}
