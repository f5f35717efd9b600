"""``AsyncClient`` against a real running app: the same calls as the sync client, as
coroutines and async iterators."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import genova_client as gc
from tests.live import live_app

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("aclient"), workers=2) as app:
        yield app


def run(coro):
    return asyncio.run(coro)


def test_every_call_as_a_coroutine(live, tmp_path):
    user = live.user(plan="pro")

    async def scenario():
        async with gc.AsyncClient(live.url, api_key=user.key) as client:
            me = await client.user.update(name="Async Ada")
            results = await client.generate("An async cat", count=2, progress=False)
            created = await client.jobs.create("A second", model="nano_banana2")
            job = await client.wait(created.job_id, progress=False)
            page = await client.jobs.list(limit=1)
            every = [j.id async for j in client.jobs.iter(page_size=1)]
            data = await client.jobs.download(job.id)
            saved = await client.jobs.download(results.job.id, index=1, path=tmp_path)
            key = await client.keys.create("async")
            keys = await client.keys.list()
            revoked = await client.keys.revoke(key.id)
            stats = await client.user.stats()
            return me, results, job, page, every, data, saved, key, keys, revoked, stats

    me, results, job, page, every, data, saved, key, keys, revoked, stats = run(scenario())
    assert me.name == "Async Ada"
    assert len(results) == 2 and results[0].image.size == (1344, 756)
    assert job.status == "completed" and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.total == 2 and len(page) == 1 and len(every) == 2
    assert saved.read_bytes() == results[1].content
    assert key.key.startswith("af_") and key.id in {k.id for k in keys} and revoked
    assert (stats.completed_jobs, stats.images_generated) == (2, 3)


def test_auth_events_cancel_and_errors(live):
    email = f"async-{uuid.uuid4().hex[:8]}@example.com"

    async def scenario():
        # Default retries: after the seconds spent on the socket, the keep-alive connection
        # may have been closed by the server just as the next GET reuses it; retrying an
        # idempotent GET on that is the client's documented behaviour.
        async with gc.AsyncClient(live.url, api_key="") as client:
            tokens = await client.auth.register(email, "correct horse battery")
            assert client.token == tokens.access_token
            await client.auth.refresh()
            stream = client.events()
            welcome = await anext(stream)
            created = await client.jobs.create("Live", model="veo2_fast")
            kinds = []
            async for event in stream:
                if event.job_id == created.job_id:
                    kinds.append(event.type)
                if event.final:
                    break
            await stream.aclose()
            with pytest.raises(gc.NotFound):
                await client.jobs.get(str(uuid.uuid4()))
            with pytest.raises(gc.ValidationError) as bad:
                await client.jobs.create("x", model="veo2_fast", count=2)
            return tokens, welcome, kinds, bad.value

    tokens, welcome, kinds, bad = run(scenario())
    assert welcome.type == "welcome" and welcome.userId == tokens.user.id
    assert kinds[:2] == ["job_created", "job_queued"] and kinds[-1] == "job_completed"
    assert "job_progress" in kinds
    assert bad.field == "count"


def test_async_wait_times_out_and_cancel_refunds(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("aidle"), workers=0) as idle:
        user = idle.user()

        async def scenario():
            async with gc.AsyncClient(idle.url, api_key=user.key) as client:
                created = await client.jobs.create("Never picked up")
                with pytest.raises(gc.WaitTimeout):
                    await client.wait(created.job_id, timeout=1.5, progress=False)
                before = (await client.user.me()).credits_remaining
                assert await client.jobs.cancel(created.job_id)
                with pytest.raises(gc.Conflict):
                    await client.jobs.cancel(created.job_id)
                return before, (await client.user.me()).credits_remaining

        before, after = run(scenario())
        assert after == before + 1
