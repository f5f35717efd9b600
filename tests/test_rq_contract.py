"""``GenovaWorker`` replaces RQ's dequeue loop and reads two of its private attributes; RQ
offers no public hook for "claim work when the queues are empty". These pins fail on an RQ
upgrade that changes what the override mirrors, so it is reviewed then, not discovered as
workers that never pick up a job."""

from __future__ import annotations

import inspect

from rq.worker import BaseWorker

from genova import runtime
from genova.workers.rq_worker import GenovaWorker


def test_the_dequeue_loop_we_replace_still_has_the_same_shape():
    sig = inspect.signature(BaseWorker.dequeue_job_and_maintain_ttl)
    assert list(sig.parameters) == ["self", "timeout", "max_idle_time"]
    source = inspect.getsource(BaseWorker.dequeue_job_and_maintain_ttl)
    for step in ("self.heartbeat()", "self.should_run_maintenance_tasks",
                 "self.run_maintenance_tasks()", "self.queue_class.dequeue_any(",
                 "self._ordered_queues", "self.set_state(WorkerStatus.IDLE)"):
        assert step in source, f"RQ's dequeue loop no longer does {step}"


def test_the_private_attributes_we_read_exist_and_mean_what_we_assume(app):
    with app.app_context():
        worker = GenovaWorker(runtime.of(app), platforms=["flow"], maintenance=True)
    assert worker._stop_requested is False
    assert [q.name for q in worker._ordered_queues] == [q.name for q in worker.queues]
    assert worker._ordered_queues[0] is worker.private  # our own queue is read first
    # a warm stop (SIGTERM) mid-job sets the flag our loop checks
    assert "self._stop_requested = True" in inspect.getsource(BaseWorker._shutdown)


def test_every_periodic_job_names_a_real_task():
    """The scheduler names its jobs by dotted path (so the supervisor stays small); each must
    resolve to the task function the workers run."""
    from rq.utils import import_attribute

    from genova import tasks
    from genova.workers.scheduler import PERIODIC

    assert [import_attribute(p.func) for p in PERIODIC] == [tasks.sweep]
