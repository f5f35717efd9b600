"""The client's retry policy and error mapping, against a scripted HTTP server: a 5xx, a
429 or a dropped connection on demand, which the real app never gives us reliably."""

from __future__ import annotations

import asyncio

import pytest

import genova_client as gc
from tests.httpfakes import ScriptedServer

ME = {"id": "u1", "email": "a@example.com", "name": "A", "plan": "free",
      "subscription_status": "active", "credits_remaining": 5, "credits_used": 0}
CREATED = {"success": True, "jobId": "j1", "status": "queued", "queuePosition": 1,
           "estimatedTime": 30}
BUSY = (429, {"Retry-After": "1"}, {"error": "Rate limit exceeded", "details": "10 per 1 minute"})
BROKEN = (500, {}, {"error": "Internal error", "details": "boom"})


def test_a_get_is_retried_after_429_honouring_retry_after():
    with ScriptedServer([BUSY, (200, {}, ME)]) as server:
        me = gc.Client(server.url, api_key="af_x", max_retries=2).user.me()
    assert me.email == "a@example.com" and len(server.requests) == 2


def test_a_get_is_retried_on_5xx_then_raises_server_error():
    with ScriptedServer([BROKEN]) as server, pytest.raises(gc.ServerError) as caught:
        gc.Client(server.url, api_key="af_x", max_retries=2).user.me()
    assert len(server.requests) == 3
    assert caught.value.status == 500 and caught.value.details == "boom"


def test_job_creation_is_not_retried_after_a_5xx_or_a_lost_answer():
    for step, error in ((BROKEN, gc.ServerError), ("drop", gc.ConnectionError)):
        with ScriptedServer([step, (201, {}, CREATED)]) as server, pytest.raises(error):
            gc.Client(server.url, api_key="af_x", max_retries=3).jobs.create("A cat")
        assert server.requests == [("POST", "/api/jobs")]  # a credit is never spent twice


def test_job_creation_is_retried_after_429_and_503_which_charge_nothing():
    unavailable = (503, {"Retry-After": "1"}, {"error": "Queue unavailable", "details": "x"})
    with ScriptedServer([BUSY, unavailable, (201, {}, CREATED)]) as server:
        created = gc.Client(server.url, api_key="af_x", max_retries=2).jobs.create("A cat")
    assert created.job_id == "j1" and len(server.requests) == 3


def test_retries_can_be_turned_off():
    with ScriptedServer([BUSY, (200, {}, ME)]) as server, \
            pytest.raises(gc.RateLimited) as caught:
        gc.Client(server.url, api_key="af_x", max_retries=0).user.me()
    assert caught.value.retry_after == 1 and len(server.requests) == 1


def test_a_non_json_error_body_still_gives_a_clear_exception():
    with ScriptedServer([(502, {}, "not json")]) as server, \
            pytest.raises(gc.ServerError) as caught:
        gc.Client(server.url, api_key="af_x", max_retries=0).user.me()
    assert caught.value.status == 502


def test_the_async_client_follows_the_same_policy():
    async def run():
        async with gc.AsyncClient(server.url, api_key="af_x", max_retries=2) as client:
            with pytest.raises(gc.ServerError):
                await client.jobs.create("A cat")
            return await client.user.me()

    with ScriptedServer([BROKEN, BUSY, (200, {}, ME)]) as server:
        me = asyncio.run(run())
    assert me.id == "u1" and len(server.requests) == 3
