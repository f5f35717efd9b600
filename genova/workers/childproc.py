"""Child processes that never outlive us.

On Linux each child gets PR_SET_PDEATHSIG=SIGTERM, so even a SIGKILLed parent leaves no
orphan (Redis, workers, the studio). Elsewhere only a clean shutdown stops them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from queue import SimpleQueue

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process:
# if start() ran on a short-lived thread, redis would be SIGTERMed when it finished. So
# every Popen runs on one daemon thread that lives as long as the process. prctl is
# looked up here so the forked child only has to call it.
_prctl = None
if sys.platform.startswith("linux"):
    import ctypes

    _prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
_spawner: tuple[int, SimpleQueue] | None = None
_spawner_lock = threading.Lock()


def _spawner_loop(q: SimpleQueue) -> None:
    while True:
        fn, fut = q.get()
        try:
            fut.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            fut.set_exception(exc)


def spawn(args: list[str], **kw) -> subprocess.Popen:
    """``subprocess.Popen`` whose child gets SIGTERM when this process dies, even by SIGKILL."""
    global _spawner
    if _prctl is None:
        return subprocess.Popen(args, **kw)
    parent, fut = os.getpid(), Future()

    def preexec() -> None:
        _prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # parent died before prctl took effect
            os._exit(1)

    with _spawner_lock:
        if _spawner is None or _spawner[0] != parent:  # first use, or after fork()
            _spawner = (parent, SimpleQueue())
            t = threading.Thread(target=_spawner_loop, args=_spawner[1:], daemon=True)
            t.start()
        _spawner[1].put((lambda: subprocess.Popen(
            args, preexec_fn=preexec, **kw), fut))  # noqa: PLW1509 - one spawner thread
    return fut.result()


