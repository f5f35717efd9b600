"""Layers point one way: the domain services and the workers do not load the web layer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.procs import ROOT

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

BELOW_THE_WEB = ["genova.services.jobs", "genova.services.lifecycle", "genova.services.accounts",
                 "genova.services.maintenance", "genova.tasks", "genova.workers.rq_worker",
                 "genova.extensions"]


@pytest.mark.parametrize("module", BELOW_THE_WEB)
def test_importing_does_not_load_the_api_layer(module):
    probe = (f"import sys, {module}; "
             "print(sorted(m for m in sys.modules if m.startswith(('genova.api', 'ui'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]", f"{module} loads {out.strip()}"


def test_a_worker_app_loads_neither_the_api_nor_the_renderer(tmp_path):
    """``create_app(web=False)`` (what a worker process runs) builds the database and the
    runtime without the HTTP API or the sockets; the renderer loads on the first job."""
    probe = ("import sys, pathlib; from genova import create_app; "
             "from genova.config import Settings; "
             f"app = create_app(Settings(data_dir=pathlib.Path({str(tmp_path)!r}), "
             "secret_key='k' * 40), web=False); "
             "print(sorted(m for m in sys.modules if m.startswith(('genova.api', "
             "'genova.realtime', 'genova.generators.procedural', 'numpy', 'ui'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]", out
