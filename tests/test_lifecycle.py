"""The job state machine: the transitions are data (``lifecycle.TRANSITIONS``), every path
through them works, and every other move is refused without changing anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from genova import runtime
from genova.errors import Conflict
from genova.extensions import db
from genova.models import Job, JobStatus, utcnow
from genova.services import jobs, lifecycle
from genova.services.manager import Claim
from tests.helpers import job_body, register

S = JobStatus
FINAL = {S.COMPLETED, S.FAILED, S.CANCELLED}


def test_the_table_is_a_state_machine():
    targets = {t.target for t in lifecycle.TRANSITIONS.values()}
    assert targets | {S.PENDING} == set(S)  # every state but the unused pending is reached
    for name, transition in lifecycle.TRANSITIONS.items():
        assert not transition.sources & FINAL, f"{name} leaves a final state"
    assert {n for n, t in lifecycle.TRANSITIONS.items() if not t.sources} == {"create"}
    assert lifecycle.allowed(None, S.QUEUED) and not lifecycle.allowed(None, S.PROCESSING)
    for final in FINAL:
        assert not any(lifecycle.allowed(final, s) for s in S)
    assert lifecycle.allowed(S.PROCESSING, S.QUEUED)  # a lost worker's job goes back in line
    assert not lifecycle.allowed(S.QUEUED, S.COMPLETED)  # nothing completes unclaimed


@pytest.fixture
def made(app, client):
    """``made()`` creates a queued job for a business user; returns (job id, headers)."""
    user = register(client, plan="business")

    def make() -> str:
        return client.post("/api/jobs", json=job_body(),
                           headers=user["headers"]).get_json()["jobId"]
    make.headers = user["headers"]
    return make


def _status(job_id: str) -> JobStatus:
    db.session.expire_all()
    return JobStatus(db.session.get(Job, job_id).status)


def _claim(rt) -> Claim:
    claim, _ = lifecycle.claim_next(rt, platform="flow", worker_id="test")
    return claim


def test_every_path_through_the_machine(app, made):
    rt = runtime.of(app)
    done, lost, cancelled, stale = made(), made(), made(), made()
    seen = []
    with app.app_context():
        def step(job_id, action, expected):
            before = _status(job_id)
            action()
            after = _status(job_id)
            assert after == expected and lifecycle.allowed(before, after)
            seen.append((before, after))

        claim = None

        def claim_done():
            nonlocal claim
            claim = _claim(rt)
            assert claim.job_id == done
        step(done, claim_done, S.PROCESSING)
        step(done, lambda: lifecycle.progress(rt, claim, user_id=db.session.get(
            Job, done).user_id, percent=50), S.PROCESSING)
        step(done, lambda: lifecycle.complete(rt, claim, files=[]), S.COMPLETED)
        lost_claim = _claim(rt)
        assert lost_claim.job_id == lost
        step(lost, lambda: lifecycle.abandon(rt, lost_claim), S.QUEUED)  # requeue
        again = _claim(rt)
        assert again.job_id == lost  # it kept its place at the head of the line
        step(lost, lambda: lifecycle.fail(rt, again, error="boom"), S.FAILED)
        step(cancelled, lambda: lifecycle.cancel_job(
            rt, job=db.session.get(Job, cancelled)), S.CANCELLED)
        db.session.execute(update(Job).where(Job.id == stale).values(
            queued_at=utcnow() - timedelta(seconds=rt.settings.queue_timeout + 60)))
        db.session.commit()
        step(stale, lambda: lifecycle.fail_stale(rt), S.FAILED)
    every_move = {(source, t.target) for t in lifecycle.TRANSITIONS.values()
                  for source in t.sources if source != S.PENDING}  # no job rests in pending
    assert set(seen) == every_move


def test_moves_the_table_does_not_allow_change_nothing(app, made):
    rt = runtime.of(app)
    queued, finished = made(), made()
    with app.app_context():
        claim = _claim(rt)  # the oldest: queued is still waiting
        assert claim.job_id == queued
        lifecycle.complete(rt, claim, files=[])
        waiting = db.session.get(Job, finished)
        fake = Claim(finished, "no-such-lease")
        assert lifecycle.complete(rt, fake, files=[]) is False  # queued -> completed
        assert lifecycle.fail(rt, fake, error="x") is False  # queued -> failed
        assert lifecycle.abandon(rt, Claim(queued, claim.lease)) == "gone"  # completed ->
        with pytest.raises(Conflict):
            lifecycle.cancel_job(rt, job=db.session.get(Job, queued))  # completed -> cancelled
        assert _status(queued) == S.COMPLETED and _status(waiting.id) == S.QUEUED
        running = _claim(rt)
        assert running.job_id == finished
        with pytest.raises(Conflict):
            jobs.cancel_job(rt, user_id=waiting.user_id, job_id=finished)  # processing ->
        assert lifecycle.fail_stale(rt) == 0 and _status(finished) == S.PROCESSING
