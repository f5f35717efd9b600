"""The worker process machinery.

- ``supervisor``: what ``worker.py`` (and ``python app.py``'s embedded workers) run: starts
  the worker processes and the scheduler, restarts any that die, stops them gracefully.
- ``process``: one worker process, ``python -m genova.workers.process``.
- ``rq_worker``: the RQ worker class those processes run (claims from the job manager).
- ``scheduler``: the periodic maintenance jobs, declared as data and reconciled.
- ``childproc``: spawning children that die with their parent.

What the supervisor and the scheduler share with the workers lives here, so that they do
not import the application (Flask, SQLAlchemy, the generators) just to name a queue: they
stay small processes.
"""

from __future__ import annotations

MAINTENANCE_QUEUE = "genova-maintenance"


def rq_connection(url: str):
    """RQ stores binary payloads: it needs a connection without response decoding."""
    import redis

    return redis.Redis.from_url(url)
