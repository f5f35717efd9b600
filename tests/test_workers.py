"""Jobs run end to end by real worker processes, and what happens when things die."""

from __future__ import annotations

import io
import os
import signal
import time

import pytest
from PIL import Image
from rq import Queue
from rq.registry import FailedJobRegistry

from genova.services import downloads
from genova.workers.rq_worker import rq_connection
from tests.helpers import get_user, job_body, register
from tests.procs import wait_until
from tests.workers import claim_then_die, running_workers, wait_for_status

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


def _create(client, user, **kw):
    response = client.post("/api/jobs", json=job_body(**kw), headers=user["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobId"]


def _download(client, user, job_id, index=None):
    query = f"?index={index}" if index is not None else ""
    redirect = client.get(f"/api/jobs/{job_id}/download{query}", headers=user["headers"])
    assert redirect.status_code == 302, redirect.get_json()
    location = redirect.headers["Location"]
    path = location.split("://", 1)[1].split("/", 1)[1]
    return client.get("/" + path)  # no auth header: the signature is the credential


def test_image_job_completes_and_downloads(app, client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user, count=2)
    with running_workers(settings):
        job = wait_for_status(client, user["headers"], job_id, {"completed", "failed"})
    assert job["status"] == "completed", job
    uid = user["user"]["id"]
    assert job["result_urls"] == [f"generated/{uid}/{job_id}/result-1.png",
                                  f"generated/{uid}/{job_id}/result-2.png"]
    assert job["result_url"] == job["result_urls"][0]
    assert job["file_size"] > 0 and job["processing_time"] >= 0
    assert job["started_at"] and job["completed_at"]
    second = _download(client, user, job_id, index=1)
    assert second.status_code == 200 and second.mimetype == "image/png"
    with Image.open(io.BytesIO(second.get_data())) as img:
        assert img.size == (1344, 756)
    bad = client.get(f"/api/jobs/{job_id}/download?index=2", headers=user["headers"])
    assert bad.status_code == 404 and bad.get_json()["field"] == "index"
    assert get_user(app, uid).credits_remaining == 9999
    # the job carries signed links too: no credentials, no API request, same bytes
    links = job["download_urls"]
    assert len(links) == 2
    direct = client.get("/" + links[1].split("://", 1)[1].split("/", 1)[1])
    assert direct.status_code == 200 and direct.get_data() == second.get_data()
    listed = client.get("/api/jobs", headers=user["headers"]).get_json()["jobs"][0]
    assert len(listed["download_urls"]) == 2


def test_video_job_makes_an_mp4(client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user, type="video", model="veo2_fast", aspectRatio="portrait",
                     count=None)
    with running_workers(settings, concurrency=1):
        job = wait_for_status(client, user["headers"], job_id, {"completed", "failed"})
    assert job["status"] == "completed", job
    assert job["result_url"].endswith("/result.mp4") and job["result_urls"] is None
    video = _download(client, user, job_id)
    assert video.status_code == 200 and video.mimetype == "video/mp4"
    assert video.get_data()[4:8] == b"ftyp"


def test_download_needs_a_completed_job_and_a_valid_signature(app, client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user)
    early = client.get(f"/api/jobs/{job_id}/download", headers=user["headers"])
    assert early.status_code == 409 and "queued" in early.get_json()["details"]
    with running_workers(settings, concurrency=1):
        job = wait_for_status(client, user["headers"], job_id, {"completed"})
    key, secret = job["result_url"], settings.secret_key
    good = downloads.sign(secret=secret, key=key, ttl=60)
    assert client.get(good).status_code == 200
    expired = downloads.sign(secret=secret, key=key, ttl=60, now=time.time() - 120)
    assert client.get(expired).status_code == 403
    assert "expired" in client.get(expired).get_json()["details"]
    assert client.get(good.replace("sig=", "sig=0")).status_code == 403
    assert client.get(good.replace("result", "resulx")).status_code == 403
    assert client.get(good.split("?")[0]).status_code == 403
    forged_key = f"generated/{user['user']['id']}/../../secret_key"
    traversal = downloads.sign(secret=secret, key=forged_key, ttl=60)
    assert client.get(traversal).status_code in (403, 404)
    outside = downloads.sign(secret=secret, key="../secret_key", ttl=60)
    assert client.get(outside).status_code in (403, 404)
    refs = downloads.sign(secret=secret, key="references/x/y/0.png", ttl=60)
    assert client.get(refs).status_code == 404
    other = register(client)
    assert client.get(f"/api/jobs/{job_id}/download", headers=other["headers"]).status_code == 404


def test_a_job_whose_worker_dies_is_requeued_once_then_failed_and_refunded(app, client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user)
    with running_workers(settings, concurrency=0):  # maintenance only
        claimed, _ = claim_then_die(settings)
        assert claimed == job_id
        assert client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()[
            "status"] == "processing"
        wait_for_status(client, user["headers"], job_id, {"queued"})
        claim_then_die(settings)
        job = wait_for_status(client, user["headers"], job_id, {"failed"})
    assert "stopped responding" in job["error_message"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 10000


def test_a_requeued_job_completes_on_a_healthy_worker(client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user)
    claim_then_die(settings)
    with running_workers(settings, concurrency=1):
        job = wait_for_status(client, user["headers"], job_id, {"completed", "failed"})
    assert job["status"] == "completed"


def test_a_killed_worker_process_is_restarted(client, settings):
    import psutil

    user = register(client, plan="business")
    with running_workers(settings, concurrency=1) as supervisor:
        first = _create(client, user)
        wait_for_status(client, user["headers"], first, {"completed"})
        children = [c for c in psutil.Process(supervisor.pid).children()
                    if "--platform" in c.cmdline()]
        assert len(children) == 1
        os.kill(children[0].pid, signal.SIGKILL)
        second = _create(client, user)
        job = wait_for_status(client, user["headers"], second, {"completed", "failed"})
    assert job["status"] == "completed"


def test_redis_flushed_mid_queue_loses_nothing(app, client, settings, raw_redis):
    user = register(client, plan="business")
    ids = [_create(client, user, prompt=f"job {i}") for i in range(6)]
    urgent = _create(client, user, prompt="urgent", priority=3)
    raw_redis.flushall()
    with running_workers(settings, concurrency=0):  # the start-up sweep rebuilds the queue
        wait_until(lambda: client.get(f"/api/jobs/{urgent}", headers=user["headers"])
                   .get_json().get("queue_position") == 1, 30)
        positions = [client.get(f"/api/jobs/{j}", headers=user["headers"]).get_json()
                     ["queue_position"] for j in ids]
        assert positions == [2, 3, 4, 5, 6, 7]
        later = _create(client, user, prompt="after the restart")
        assert client.get(f"/api/jobs/{later}", headers=user["headers"]).get_json()[
            "queue_position"] == 8
    with running_workers(settings, concurrency=2):
        for j in [*ids, urgent, later]:
            assert wait_for_status(client, user["headers"], j, {"completed"})["status"] == \
                "completed"


def test_stale_queued_jobs_fail_with_a_refund(app, client, settings):
    user = register(client, plan="business")
    job_id = _create(client, user)
    with running_workers(settings, concurrency=0, GENOVA_QUEUE_TIMEOUT=1):
        job = wait_for_status(client, user["headers"], job_id, {"failed"})
    assert "without being assigned to a worker" in job["error_message"]
    assert "refunded" in job["error_message"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 10000


def test_generator_crash_fails_and_refunds_and_rq_records_it(app, client, settings):
    import base64

    user = register(client, plan="business")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "PNG")
    job_id = _create(client, user, referenceImages={
        "images": [base64.b64encode(buf.getvalue()).decode()]})
    reference = settings.storage_root / "references" / user["user"]["id"] / job_id / "0.png"
    reference.unlink()  # the stored reference is lost before the job runs
    with running_workers(settings, concurrency=1):
        job = wait_for_status(client, user["headers"], job_id, {"failed", "completed"})
    assert job["status"] == "failed"
    assert "could not be read" in job["error_message"]
    assert str(settings.data_dir) not in job["error_message"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 10000
    connection = rq_connection(settings.redis_url)
    failed = [jid for q in Queue.all(connection=connection)
              for jid in FailedJobRegistry(queue=q).get_job_ids()]
    assert any(job_id in jid for jid in failed)


def test_a_real_redis_restart_loses_nothing(tmp_path, app, client, settings):
    """Stop the Redis that app and workers use, start an empty one on the same port, and
    every job still completes: the sweep rebuilds the queue from SQL."""
    from genova import create_app
    from genova.embedded_redis import EmbeddedRedis
    from tests.procs import free_port

    port = free_port()
    server = EmbeddedRedis(tmp_path / "own-redis", port=port)
    url = server.start()
    try:
        own = settings.with_(redis_url=url)
        api = create_app(own).test_client()
        user = register(api, plan="business")
        before = [_create(api, user, prompt=f"before {i}") for i in range(4)]
        server.stop()
        down = api.post("/api/jobs", json=job_body(), headers=user["headers"])
        assert down.status_code == 503  # refused cleanly, nothing charged
        server.start()  # empty, same port
        after = _create(api, user, prompt="after")
        with running_workers(own, concurrency=2):
            for job_id in [*before, after]:
                job = wait_for_status(api, user["headers"], job_id, {"completed", "failed"})
                assert job["status"] == "completed", job
        assert get_user(app, user["user"]["id"]).credits_remaining == 10000 - 5
    finally:
        server.stop()
