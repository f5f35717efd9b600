"""How a running job's failures reach its user: an infrastructure fault is the platform's
problem (the job goes back in line), and no message shows internal addresses or paths."""

from __future__ import annotations

import pytest
import redis

from genova import runtime, tasks
from genova.extensions import db
from genova.models import Job
from genova.services import lifecycle
from genova.workers.rq_worker import GenovaWorker
from tests.helpers import job_body, register


class Broken:
    """A generator that fails the way its surroundings can."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def generate(self, request, progress):
        raise self.exc

    def describe(self) -> dict:
        return {}


def _run_with(app, client, monkeypatch, exc: Exception) -> dict:
    user = register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]
    monkeypatch.setattr(runtime.of(app).generators, "for_model", lambda model: Broken(exc))
    with app.app_context():
        claim, _ = lifecycle.claim_next(runtime.of(app), platform="flow",
                                        worker_id="test-worker")
        with pytest.raises(type(exc)):
            tasks.generate(claim.job_id, claim.lease)
    return client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()


def test_the_generation_task_runs_a_job_in_process(app, client):
    """The RQ task end to end without a worker process: a bug here fails in a second, not as
    a job that never completes."""
    user = register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(count=2),
                         headers=user["headers"]).get_json()["jobId"]
    with app.app_context():
        claim, _ = lifecycle.claim_next(runtime.of(app), platform="flow", worker_id="in-process")
        outcome = tasks.generate(claim.job_id, claim.lease)
        assert tasks.generate(claim.job_id, claim.lease) == {
            "skipped": "the job is no longer held by this lease"}  # a second run is harmless
    assert outcome["completed"] is True and len(outcome["files"]) == 2
    job = client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()
    assert job["status"] == "completed" and len(job["download_urls"]) == 2
    assert job["generator"]["ai_model"] is False and len(job["result_urls"]) == 2
    download = client.get(f"/api/jobs/{job_id}/download?index=1", headers=user["headers"])
    assert download.status_code == 302
    second = client.get(download.headers["Location"])
    assert second.status_code == 200 and second.data.startswith(b"\x89PNG")


def test_losing_redis_mid_job_sends_it_back_in_line(app, client, monkeypatch):
    """It used to fail with "Error 111 connecting to 127.0.0.1:57871"."""
    job = _run_with(app, client, monkeypatch,
                    redis.ConnectionError("Error 111 connecting to 127.0.0.1:57871."))
    assert job["status"] == "queued" and "error_message" not in job


def test_a_generator_error_names_no_address_or_path(app, client, monkeypatch):
    job = _run_with(app, client, monkeypatch, RuntimeError(
        "upstream 10.0.0.5:8080 refused /srv/genova/var/files/x.png"))
    assert job["status"] == "failed"
    message = job["error_message"]
    assert "10.0.0.5" not in message and "/srv/" not in message
    assert message.startswith("generation failed: upstream <server> refused <path>")


def test_a_claim_goes_straight_to_rqs_executor(app, client):
    """A claimed job is handed to RQ as its dequeue would (saved, never pushed onto the
    private queue and popped back), so no claimed job waits where a stopping worker could
    strand it; RQ still runs and records it."""
    user = register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]
    with app.app_context():
        worker = GenovaWorker(runtime.of(app), platforms=["flow"], maintenance=False)
        rq_job, queue = worker._claim()
        assert queue is worker.private and worker.private.count == 0
        assert rq_job.args[0] == job_id and rq_job.origin == worker.private.name
        worker.execute_job(rq_job, queue)
        assert rq_job.get_status(refresh=True) == "finished"
    job = client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()
    assert job["status"] == "completed"


def test_a_claim_rq_cannot_record_goes_back_in_line(app, client, monkeypatch):
    user = register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]

    def refuse(self, *args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    with app.app_context():
        worker = GenovaWorker(runtime.of(app), platforms=["flow"], maintenance=False)
        monkeypatch.setattr("rq.job.Job.save", refuse)
        with pytest.raises(redis.ConnectionError):
            worker._claim()
        db.session.expire_all()
        assert db.session.get(Job, job_id).attempts == 0  # the attempt does not count
    job = client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()
    assert job["status"] == "queued" and job["queue_position"] == 1
