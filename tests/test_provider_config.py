"""Choosing generators by configuration (``GENOVA_GENERATORS`` and friends), and the
plumbing every provider call goes through: retries with back-off, and a cap on jobs in
flight at a provider that holds across workers (real Redis)."""

from __future__ import annotations

import threading
import time

import pytest

from genova.catalog import MODELS
from genova.config import Settings
from genova.generators import GenerationError, ProviderUnavailable, Stopped
from genova.generators.calls import Slots, Transient, with_retries
from genova.generators.config import ConfigError, ProviderSettings
from genova.generators.procedural import ProceduralGenerator
from genova.generators.registry import Registry


def providers(**env) -> ProviderSettings:
    return Settings.from_env(env).providers


def test_the_default_is_the_procedural_generator_for_every_model():
    registry = Registry(providers())
    assert {type(registry.for_model(m)) for m in ("imagen4", "freepik")} == {
        ProceduralGenerator}
    assert registry.providers() == {"procedural": list(MODELS)}


def test_models_map_to_providers_with_a_default_for_the_rest():
    s = providers(GENOVA_GENERATORS=" imagen4=google , freepik=freepik,*=procedural",
                  GENOVA_GOOGLE_API_KEY="g", GENOVA_FREEPIK_API_KEY="f",
                  GENOVA_PROVIDER_MODELS="imagen4=imagen-4.0-fast-generate-001")
    registry = Registry(s)
    assert registry.for_model("imagen4").describe()["provider_model"] == (
        "imagen-4.0-fast-generate-001")
    assert registry.for_model("nano_banana2").describe()["provider"] == "procedural"
    assert registry.providers()["freepik"] == ["freepik"]


def test_a_star_mapping_serves_every_model_it_can():
    s = providers(GENOVA_GENERATORS="*=google,freepik=procedural", GENOVA_GOOGLE_API_KEY="g")
    assert s.provider_model("veo3_quality") == "veo-3.0-generate-001"
    assert s.provider_model("nano_banana_pro") == "gemini-3-pro-image-preview"


@pytest.mark.parametrize("env, says", [
    ({"GENOVA_GENERATORS": "imagen4=google"}, "GENOVA_GOOGLE_API_KEY"),
    ({"GENOVA_GENERATORS": "freepik=freepik"}, "GENOVA_FREEPIK_API_KEY is not set"),
    ({"GENOVA_GENERATORS": "dalle=google"}, "'dalle', which is not a model"),
    ({"GENOVA_GENERATORS": "imagen4=openai"}, "providers: procedural, google, freepik"),
    ({"GENOVA_GENERATORS": "imagen4"}, "expected MODEL=VALUE"),
    ({"GENOVA_GENERATORS": "veo2_fast=freepik", "GENOVA_FREEPIK_API_KEY": "f"},
     "makes images only"),
    ({"GENOVA_GENERATORS": "*=google", "GENOVA_GOOGLE_API_KEY": "g"},
     "google has no default model for freepik"),
    ({"GENOVA_PROVIDER_TIMEOUT": "soon"}, "GENOVA_PROVIDER_TIMEOUT must be a number"),
])
def test_configurations_that_cannot_work_are_refused_at_start(env, says):
    with pytest.raises(ConfigError, match=None) as refused:
        providers(**env)
    assert says in str(refused.value)


def test_secrets_stay_out_of_the_settings_repr():
    s = providers(GENOVA_GENERATORS="freepik=freepik", GENOVA_FREEPIK_API_KEY="fpk-secret")
    assert "fpk-secret" not in repr(s) and "fpk-secret" not in repr(Settings(providers=s))


def test_transient_faults_are_retried_then_reported():
    calls = []

    def flaky():
        calls.append(time.monotonic())
        raise RuntimeError("busy")

    with pytest.raises(ProviderUnavailable, match=r"X is not answering \(HTTP 503\) after 3"):
        with_retries(flaky, classify=lambda exc: Transient("HTTP 503"), attempts=3,
                     backoff=0.01, stop=lambda: None, provider="X")
    assert len(calls) == 3


def test_a_retry_waits_at_least_the_providers_retry_after():
    calls = []

    def once_limited():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("429")
        return "ok"

    assert with_retries(once_limited, classify=lambda exc: Transient("HTTP 429", 0.3),
                        attempts=3, backoff=0.01, stop=lambda: None, provider="X") == "ok"
    assert calls[1] - calls[0] >= 0.3


def test_errors_that_are_not_transient_are_not_retried():
    calls = []

    def refused():
        calls.append(1)
        raise RuntimeError("400")

    with pytest.raises(GenerationError, match="bad prompt"):
        with_retries(refused, classify=lambda exc: GenerationError("bad prompt"), attempts=5,
                     backoff=0.01, stop=lambda: None, provider="X")
    with pytest.raises(KeyError):  # not the provider's fault: raised as it is
        with_retries(lambda: {}["x"], classify=lambda exc: None, attempts=5, backoff=0.01,
                     stop=lambda: None, provider="X")
    assert calls == [1]


def test_a_stop_ends_the_back_off_at_once():
    with pytest.raises(Stopped, match="deadline"):
        with_retries(lambda: 1 / 0, classify=lambda exc: Transient("503"), attempts=5,
                     backoff=60, stop=iter([None, None, "deadline"]).__next__, provider="X")


def test_the_provider_cap_holds_across_holders(raw_redis):
    raw_redis.flushdb()
    first = Slots(raw_redis, "test", 1, ttl=30)
    second = Slots(raw_redis, "test", 1, ttl=30)  # another worker, same Redis
    order = []
    entered = threading.Event()

    def hold_a_while():
        with first.hold(lambda: None):
            order.append("first in")
            entered.set()
            time.sleep(0.3)
            order.append("first out")

    holder = threading.Thread(target=hold_a_while)
    holder.start()
    entered.wait(5)
    with second.hold(lambda: None):
        order.append("second in")
    holder.join()
    assert order == ["first in", "first out", "second in"]


def test_a_waiting_job_that_must_stop_gives_up_its_turn(raw_redis):
    raw_redis.flushdb()
    slots = Slots(raw_redis, "test", 1, ttl=30)
    with slots.hold(lambda: None), pytest.raises(Stopped, match="deadline"):
        with slots.hold(lambda: "deadline"):
            pass


def test_a_dead_holders_slot_frees_after_its_ttl(raw_redis):
    raw_redis.flushdb()
    dead = Slots(raw_redis, "test", 1, ttl=0.3)
    dead._acquire(keys=[dead.key], args=[time.time(), 1, time.time() + 0.3, "dead-worker"])
    started = time.monotonic()
    with Slots(raw_redis, "test", 1, ttl=30).hold(lambda: None):
        assert time.monotonic() - started >= 0.2
