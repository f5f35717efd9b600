"""The worker process machinery.

- ``supervisor``: what ``worker.py`` (and ``python app.py``'s embedded workers) run: starts
  the worker processes and the scheduler, restarts any that die, stops them gracefully.
- ``process``: one worker process, ``python -m genova.workers.process``.
- ``rq_worker``: the RQ worker class those processes run (claims from the job manager).
- ``scheduler``: the periodic maintenance jobs, declared as data and reconciled.
- ``childproc``: spawning children that die with their parent.
"""
