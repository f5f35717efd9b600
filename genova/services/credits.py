"""Credit debits and refunds, always inside the caller's transaction.

The debit is a conditional UPDATE (``credits_remaining >= 1``), so concurrent creations can
never drive a balance below zero. Refunds are guarded twice: callers only refund after they
won the job's status transition, and the ledger's unique ``(job_id, reason)`` rejects a
second refund row for the same job.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from genova.errors import PaymentRequired
from genova.extensions import db
from genova.models import CreditEntry, User


def debit_for_job(*, user_id: str, job_id: str) -> int:
    """Take one credit for ``job_id`` and return the balance left; raises 402 (and changes
    nothing) when none is left."""
    remaining = db.session.execute(
        update(User)
        .where(User.id == user_id, User.credits_remaining >= 1)
        .values(credits_remaining=User.credits_remaining - 1,
                credits_used=User.credits_used + 1)
        .returning(User.credits_remaining)
    ).scalar()
    if remaining is None:
        raise PaymentRequired("no credits remaining this month; upgrade your plan or wait "
                              "for the monthly reset")
    db.session.add(CreditEntry(user_id=user_id, job_id=job_id, delta=-1, reason="job"))
    return remaining


def refund_job(*, user_id: str, job_id: str) -> int | None:
    """Give back the job's credit unless it was refunded already. Returns the new balance,
    or None if nothing was refunded."""
    try:
        with db.session.begin_nested():
            db.session.add(CreditEntry(user_id=user_id, job_id=job_id, delta=1,
                                       reason="refund"))
    except IntegrityError:
        return None
    return db.session.execute(_one_back(user_id).returning(User.credits_remaining)).scalar()


def undo_debit(*, user_id: str, job_id: str) -> None:
    """Erase a job's debit as if it never happened (a creation the queue refused): its ledger
    rows go too, unlike a refund, which is recorded."""
    db.session.execute(delete(CreditEntry).where(CreditEntry.job_id == job_id))
    db.session.execute(_one_back(user_id))


def _one_back(user_id: str):
    """The arithmetic of giving one credit back."""
    return update(User).where(User.id == user_id).values(
        credits_remaining=User.credits_remaining + 1, credits_used=User.credits_used - 1)
