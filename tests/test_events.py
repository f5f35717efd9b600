"""Every socket message is built by one constructor in ``genova.services.events``; the one
event Lua builds itself (``job_queued``, published from the script that queued the job) must
have exactly the constructor's shape."""

from __future__ import annotations

import json

import pytest

from genova.services import events
from genova.services.manager import JobManager


@pytest.fixture
def manager(raw_redis):
    raw_redis.flushdb()
    return JobManager(raw_redis)


def _heard(raw_redis, user_id: str, action) -> dict:
    pubsub = raw_redis.pubsub()
    pubsub.subscribe(events.channel(user_id))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    action()
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    return json.loads(message["data"])


def test_the_lua_job_queued_is_the_python_job_queued(manager, raw_redis):
    heard = _heard(raw_redis, "u1", lambda: manager.submit(
        job_id="j1", user_id="u1", platform="flow", priority=0, seq=1, cap=5,
        model="imagen4"))
    assert heard == events.job_queued(job_id="j1", queue_position=1, model="imagen4",
                                      estimated_time=heard["estimatedTime"])
    assert type(heard["estimatedTime"]) is int and heard["estimatedTime"] > 0


def test_the_lua_requeued_job_queued_is_the_python_one(manager, raw_redis):
    manager.submit(job_id="j1", user_id="u1", platform="flow", priority=0, seq=1, cap=5,
                   model="imagen4", announce=False)
    claim = manager.claim(platform="flow", worker_id="w", lease_ttl=30)
    heard = _heard(raw_redis, "u1", lambda: manager.requeue(
        job_id="j1", lease=claim.lease, user_id="u1", model="imagen4"))
    assert heard == events.job_queued(job_id="j1", queue_position=1, model="imagen4",
                                      estimated_time=heard["estimatedTime"], requeued=True)


def test_the_lua_job_created_is_the_python_one_and_comes_first(manager, raw_redis):
    """The submission script publishes job_created (its place filled in by Lua) and then
    job_queued, in the one round trip that queues the job."""
    manager.submit(job_id="ahead", user_id="u0", platform="flow", priority=0, seq=1, cap=5,
                   model="imagen4", announce=False)
    created = events.job_created(job_id="j1", job_type="image", prompt="A café, «quoted»",
                                 settings={"model": "imagen4", "count": 2,
                                           "referenceImages": {"mode": "ingredients",
                                                               "count": 1}},
                                 created_at="2026-11-28T12:00:00Z", queue_position=None,
                                 estimated_time=None, credits_remaining=41)
    pubsub = raw_redis.pubsub()
    pubsub.subscribe(events.channel("u1"))
    pubsub.get_message(timeout=5)
    pos, eta = manager.submit(job_id="j1", user_id="u1", platform="flow", priority=0, seq=2,
                              cap=5, model="imagen4", created=created)
    first, second = (json.loads(pubsub.get_message(timeout=5)["data"]) for _ in range(2))
    pubsub.close()
    assert first == {**created, "queuePosition": 2, "estimatedTime": eta} and pos == 2
    assert second["type"] == "job_queued" and second["queuePosition"] == 2


def test_a_silent_submission_publishes_nothing(manager, raw_redis):
    pubsub = raw_redis.pubsub()
    pubsub.subscribe(events.channel("u1"))
    pubsub.get_message(timeout=5)
    manager.submit(job_id="j1", user_id="u1", platform="flow", priority=0, seq=1, cap=5,
                   model="imagen4", announce=False)
    assert pubsub.get_message(timeout=0.5) is None
    pubsub.close()


def test_the_table_lists_exactly_the_messages_the_constructors_build():
    """The module's table is the documentation: every type it lists has a constructor, and
    every constructor's type is listed."""
    documented = set()
    for line in events.__doc__.splitlines():
        for word in line.split("``")[1::2]:
            if word.startswith(("job_", "new_", "welcome", "pong", "error", "ack", "ping",
                                "request_")):
                documented.add(word)
    samples = [
        events.job_created(job_id="j", job_type="image", prompt="p", settings={},
                           created_at="t", queue_position=1, estimated_time=2,
                           credits_remaining=3),
        events.job_queued(job_id="j", queue_position=1, estimated_time=2, model="imagen4"),
        events.job_started(job_id="j"),
        events.job_progress(job_id="j", progress=5, message="m"),
        events.job_completed(job_id="j", result_urls=[], download_urls=[], generator=None),
        events.job_failed(job_id="j", error="e"), events.job_cancelled(job_id="j"),
        events.user_welcome(user_id="u"),
        events.worker_welcome(worker_id="w", extension_type="flow", scope="pool",
                              heartbeat_interval=10.0),
        events.pong(), events.error("e"), events.job_error(job_id="j", error="e"),
        events.new_job(job_id="j", lease="l", job={}),
        events.job_revoked(job_id="j", error="e"), events.ack(job_id="j", status="failed"),
        events.ping(), events.request_job(), events.report_progress(
            job_id="j", progress=1, message=""), events.report_completed(job_id="j"),
        events.report_failed(job_id="j", error="e")]
    assert {s["type"] for s in samples} == documented
