"""The periodic sweep: rebuild the live queue from SQL, reclaim jobs of dead workers, and
fail jobs that waited too long. Idempotent, and never run twice at once (a Redis lock).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import select

from genova.catalog import PLANS
from genova.extensions import db
from genova.models import Job, JobStatus, User
from genova.runtime import Runtime
from genova.services import lifecycle
from genova.services.lifecycle import max_seq
from genova.services.manager import Claim

log = logging.getLogger(__name__)
LOCK_KEY = "genova:sweep:lock"
BATCH = 1000
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class SweepReport:
    ran: bool = True
    rebuilt: int = 0
    adopted: int = 0
    requeued: int = 0
    lost: int = 0
    stale: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def sweep(rt: Runtime, *, lock_ttl: float = 300) -> SweepReport:
    """One maintenance pass, unless another one holds the lock."""
    token = secrets.token_hex(8)
    if not rt.redis.set(LOCK_KEY, token, nx=True, px=int(lock_ttl * 1000)):
        return SweepReport(ran=False)
    try:
        report = SweepReport()
        report.rebuilt, report.adopted = rebuild_queue(rt)
        report.requeued, report.lost = reclaim_expired(rt)
        report.stale = lifecycle.fail_stale(rt)
        if report.rebuilt or report.adopted or report.requeued or report.lost or report.stale:
            log.info("sweep: %s", report.to_dict())
        return report
    finally:
        rt.redis.eval(_RELEASE, 1, LOCK_KEY, token)


def _caps(user_ids: set[str]) -> dict[str, int]:
    rows = db.session.execute(select(User.id, User.plan).where(User.id.in_(user_ids)))
    return {uid: PLANS[plan].concurrent_jobs for uid, plan in rows}


def _active_pages(status: str):
    """Jobs in ``status`` in seq order, a page at a time (keyset pagination)."""
    last = -1
    while True:
        page = list(db.session.scalars(select(Job).where(Job.status == status, Job.seq > last)
                                       .order_by(Job.seq).limit(BATCH)))
        if not page:
            return
        yield page
        last = page[-1].seq


def rebuild_queue(rt: Runtime) -> tuple[int, int]:
    """Put back every queued or processing job that SQL has and Redis lost (a restart)."""
    rt.manager.next_seq(sql_floor=max_seq)  # re-seeds the sequence first if Redis is empty
    rebuilt = adopted = 0
    for status in (JobStatus.PROCESSING, JobStatus.QUEUED):  # running first: they hold slots
        for page in _active_pages(status):
            missing = [j for j, known in zip(page, rt.manager.known([j.id for j in page]),
                                             strict=True) if not known]
            caps = _caps({j.user_id for j in missing}) if missing else {}
            for job in missing:
                common = {"job_id": job.id, "user_id": job.user_id, "platform": job.platform,
                          "priority": job.priority, "seq": job.seq, "cap": caps[job.user_id]}
                if status == JobStatus.QUEUED:
                    rt.manager.submit(**common, model=job.model, announce=False)
                    rebuilt += 1
                else:
                    rt.manager.adopt_running(**common, lease=job.lease_id or "",
                                             worker_id=job.worker_id or "",
                                             lease_ttl=rt.settings.lease_ttl)
                    adopted += 1
            db.session.rollback()  # end the read transaction between pages
    return rebuilt, adopted


def reclaim_expired(rt: Runtime) -> tuple[int, int]:
    """Jobs whose worker stopped heartbeating: back in line once, then failed and refunded."""
    requeued = lost = 0
    for job_id, lease in rt.manager.expired():
        outcome = lifecycle.abandon(rt, Claim(job_id, lease))
        requeued += outcome == "requeued"
        lost += outcome == "failed"
    return requeued, lost


