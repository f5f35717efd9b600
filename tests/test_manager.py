"""The job manager's queue semantics, against a real Redis."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis

from genova.services.manager import JobManager


@pytest.fixture
def manager(raw_redis):
    raw_redis.flushdb()
    m = JobManager(raw_redis)
    m.next_seq(sql_floor=lambda: 0)
    return m


def submit(m, job, user="u1", platform="flow", priority=0, cap=10):
    return m.submit(job_id=job, user_id=user, platform=platform, priority=priority,
                    seq=m.next_seq(sql_floor=lambda: 0), cap=cap, model="imagen4")[0]


def drain(m, platform="flow"):
    out = []
    while (c := m.claim(platform=platform, worker_id="w", lease_ttl=30)) is not None:
        out.append(c.job_id)
    return out


def test_priority_then_creation_order_with_exact_positions(manager):
    assert [submit(manager, j) for j in ("a", "b", "c")] == [1, 2, 3]
    assert submit(manager, "urgent", priority=5) == 1
    assert submit(manager, "low", priority=-1) == 5
    assert [manager.position(j) for j in ("urgent", "a", "b", "c", "low")] == [1, 2, 3, 4, 5]
    assert drain(manager) == ["urgent", "a", "b", "c", "low"]
    assert manager.position("a") is None


def test_platforms_are_separate_queues(manager):
    submit(manager, "f1")
    assert submit(manager, "p1", platform="freepik") == 1
    assert drain(manager, "freepik") == ["p1"]
    assert drain(manager, "flow") == ["f1"]


def test_a_capped_user_does_not_block_others(manager):
    for j in ("a1", "a2", "a3", "a4"):
        submit(manager, j, user="alice", cap=2)
    assert submit(manager, "b1", user="bob", cap=2) == 3  # behind alice's two ready jobs
    # alice's held jobs are behind everything claimable now, in her own order
    assert manager.position("a3") == 4 and manager.position("a4") == 5
    claims = [manager.claim(platform="flow", worker_id="w", lease_ttl=30) for _ in range(4)]
    assert [c.job_id if c else None for c in claims] == ["a1", "a2", "b1", None]
    # a finished job frees a slot: alice's next job becomes claimable
    assert manager.finish(job_id="a1", lease=claims[0].lease) == 1
    assert manager.position("a3") == 1
    assert drain(manager) == ["a3"]


def test_cap_counts_running_jobs_across_platforms(manager):
    submit(manager, "flow1", user="u", cap=1)
    submit(manager, "pik1", user="u", platform="freepik", cap=1)
    assert manager.position("flow1") == 1 and manager.position("pik1") == 1
    assert drain(manager, "freepik") == ["pik1"]  # the one slot is now taken...
    assert drain(manager, "flow") == []  # ...so the flow job went back to waiting
    claim = manager.r.hget("genova:job:pik1", "lease")
    manager.finish(job_id="pik1", lease=claim)
    assert drain(manager, "flow") == ["flow1"]


def test_jobs_stuck_on_one_platform_do_not_block_the_other(manager):
    """Freepik jobs with no Freepik worker around must not hold the user's Flow job back."""
    submit(manager, "pik1", user="u", platform="freepik", cap=2)
    submit(manager, "pik2", user="u", platform="freepik", cap=2)
    submit(manager, "flow1", user="u", cap=2)
    assert manager.position("flow1") == 1
    assert drain(manager, "flow") == ["flow1"]
    assert drain(manager, "freepik") == ["pik1"]  # one slot left: the better one
    assert manager.position("pik2") == 1  # held until a slot frees


def test_a_better_job_from_a_capped_user_takes_the_slot(manager):
    submit(manager, "old1", user="u", cap=1)
    submit(manager, "old2", user="u", cap=1)
    assert submit(manager, "vip", user="u", priority=9, cap=1) == 1
    assert manager.position("old1") == 2
    assert drain(manager) == ["vip"]


def test_finish_and_heartbeat_are_fenced_by_the_lease(manager):
    submit(manager, "j")
    claim = manager.claim(platform="flow", worker_id="w", lease_ttl=30)
    assert manager.heartbeat(job_id="j", lease="999", lease_ttl=30) == 0
    assert manager.finish(job_id="j", lease="999") == -1
    assert manager.heartbeat(job_id="j", lease=claim.lease, lease_ttl=30) == 1
    assert manager.requeue(job_id="j", lease=claim.lease, user_id="u1", model="imagen4") == 1
    assert manager.finish(job_id="j", lease=claim.lease) == -1  # the old lease is dead
    again = manager.claim(platform="flow", worker_id="w2", lease_ttl=30)
    assert again.job_id == "j" and again.lease != claim.lease
    assert manager.finish(job_id="j", lease=again.lease) == 1
    assert manager.finish(job_id="j", lease=again.lease) == 0


def test_requeued_job_keeps_its_place(manager):
    submit(manager, "first")
    submit(manager, "second")
    claim = manager.claim(platform="flow", worker_id="w", lease_ttl=30)
    manager.requeue(job_id="first", lease=claim.lease, user_id="u1", model="imagen4")
    assert drain(manager) == ["first", "second"]


def test_expired_leases_are_reported(manager):
    submit(manager, "slow")
    submit(manager, "fast")
    slow = manager.claim(platform="flow", worker_id="w", lease_ttl=0.05)
    manager.claim(platform="flow", worker_id="w", lease_ttl=60)
    deadline = time.monotonic() + 5
    while not manager.expired() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert manager.expired() == [("slow", slow.lease)]


def test_sequence_survives_a_flush(manager, raw_redis):
    for j in ("a", "b"):
        submit(manager, j)
    raw_redis.flushdb()
    assert manager.next_seq(sql_floor=lambda: 41) == 42


def _claimer(url, n_out):
    m = JobManager(redis.Redis.from_url(url, decode_responses=True))
    got = []
    while (c := m.claim(platform="flow", worker_id="w", lease_ttl=60)) is not None:
        got.append(c.job_id)
    n_out.put(got)


def test_parallel_claims_never_hand_out_a_job_twice(manager, redis_url):
    jobs = [f"job{i}" for i in range(2000)]
    for j in jobs:
        submit(manager, j, user=f"user{int(j[3:]) % 50}", cap=1000)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(redis_url, out)) for _ in range(4)]
    for p in procs:
        p.start()
    claimed = [j for _ in procs for j in out.get(timeout=60)]
    for p in procs:
        p.join(10)
    assert sorted(claimed) == sorted(jobs)


def test_submit_announces_job_queued_to_the_user_atomically(manager, raw_redis):
    import json

    pubsub = raw_redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("genova:events:u1")
    submit(manager, "a")
    position, eta = manager.submit(job_id="b", user_id="u1", platform="flow", priority=0,
                                   seq=manager.next_seq(sql_floor=lambda: 0), cap=10,
                                   model="veo3_fast")
    events, deadline = [], time.monotonic() + 10
    while len(events) < 2 and time.monotonic() < deadline:
        if msg := pubsub.get_message(timeout=1):
            events.append(json.loads(msg["data"]))
    assert events[1] == {"type": "job_queued", "jobId": "b", "queuePosition": 2,
                         "estimatedTime": eta, "model": "veo3_fast"}
    assert position == 2 and eta == manager.estimate(model="veo3_fast", position=2)
    # nothing measured, no live worker: one platform-average job ahead, then a VEO 3 Fast
    assert eta == round((30 + 25 + 25 + 180 + 300 + 120) / 6 + 180)


def test_estimates_follow_measured_durations_and_live_workers(manager):
    assert manager.estimate(model="imagen4", position=1) == 30  # the default until measured
    manager.record_duration(model="imagen4", seconds=2.0)
    assert manager.durations("imagen4") == (2.0, 2.0)
    manager.record_duration(model="imagen4", seconds=12.0)  # moving average, weight 0.2
    assert manager.durations("imagen4") == (4.0, 4.0)
    assert manager.estimate(model="imagen4", position=5) == 4 * 4 + 4  # one worker
    manager.touch_worker(worker_id="w1", platforms=["flow"])
    manager.touch_worker(worker_id="w2", platforms=["flow"])
    assert manager.estimate(model="imagen4", position=5) == 2 * 4 + 4  # two share the queue
    manager.drop_worker(worker_id="w2", platforms=["flow"])
    assert manager.estimate(model="imagen4", position=5) == 4 * 4 + 4


def test_leases_stay_unique_after_redis_loses_its_state(manager, raw_redis):
    submit(manager, "j")
    first = manager.claim(platform="flow", worker_id="w1", lease_ttl=30)
    raw_redis.flushdb()
    assert manager.heartbeat(job_id="j", lease=first.lease, lease_ttl=30) == -1  # unknown
    manager.next_seq(sql_floor=lambda: 0)
    submit(manager, "j")  # the rebuild re-queues it
    second = manager.claim(platform="flow", worker_id="w2", lease_ttl=30)
    assert second.job_id == "j" and second.lease != first.lease
    assert manager.finish(job_id="j", lease=first.lease) == -1


def test_adopting_running_jobs_enforces_the_cap(manager):
    submit(manager, "q1", user="u", cap=2)
    submit(manager, "q2", user="u", cap=2)
    for job in ("r1", "r2"):  # found running in SQL after a restart
        manager.adopt_running(job_id=job, user_id="u", platform="flow", priority=0, seq=0,
                              lease=f"lease-{job}", worker_id="w", lease_ttl=30, cap=2)
    assert drain(manager) == []  # the two running jobs fill the slots
    assert manager.position("q1") == 1  # held, first in line for the user
    manager.finish(job_id="r1", lease="lease-r1")
    assert drain(manager) == ["q1"]


def test_a_plan_change_applies_to_queued_jobs_at_once(manager):
    for job in ("a", "b", "c", "d"):
        submit(manager, job, user="u", cap=4)
    manager.set_cap(user_id="u", cap=1)  # downgrade: only one may be ready
    first = manager.claim(platform="flow", worker_id="w", lease_ttl=30)
    assert first.job_id == "a" and drain(manager) == []
    manager.set_cap(user_id="u", cap=3)  # upgrade: two more become claimable
    assert drain(manager) == ["b", "c"]
