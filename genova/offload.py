"""CPU-heavy request work (decoding and resizing reference images) on real OS threads.

The web process serves every client from one gevent loop: a request that decodes images
inline stalls every other request and socket of that process for as long as it takes.
Here such work runs on gevent's pool of real threads (Pillow releases the GIL while it
decodes and resizes), with a bounded number of tasks on the pool (a request waits up to its
budget for a place, then gets 503, retry) and a time budget per call (beyond it: 400, send
smaller images). Outside a
gevent-patched process (tests, admin commands) the work simply runs inline.
"""

from __future__ import annotations

import os

from genova.errors import ServiceUnavailable, ValidationError

# One thread per core (measured: leaving a core to the event loop made both the waiting
# clients and the loop's own latency worse on 2 cores; see bench/README.md).
THREADS = max(2, os.cpu_count() or 2)
QUEUE = 4 * THREADS  # tasks running or queued on the pool; more requests wait for a place
_slots = None


def gevent_patched() -> bool:
    """Whether this process runs on gevent's patched threads (``python app.py``'s web
    workers), rather than plain ones (tests, admin commands, worker processes)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def offload(fn, *args, budget: float, what: str, field: str, **kwargs):
    """``fn(*args, **kwargs)`` on a worker thread; ``what`` and ``field`` name the work in
    the 400 a caller gets when it takes longer than ``budget`` seconds."""
    if not gevent_patched():
        return fn(*args, **kwargs)
    import gevent
    from gevent.lock import BoundedSemaphore

    global _slots
    if _slots is None:
        _slots = BoundedSemaphore(QUEUE)
        gevent.get_hub().threadpool.maxsize = THREADS
    if not _slots.acquire(timeout=budget):  # wait in line, not forever
        raise ServiceUnavailable("the server is busy decoding images for other requests; "
                                 "nothing was charged, retry in a moment")
    task = gevent.get_hub().threadpool.spawn(fn, *args, **kwargs)
    task.rawlink(lambda _: _slots.release())  # the slot is free when the thread is
    try:
        return task.get(timeout=budget)
    except gevent.Timeout:
        raise ValidationError(f"{what} took longer than {budget:g} s to process; send "
                              "smaller images", field=field) from None
