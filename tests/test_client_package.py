"""``genova-client`` is its own distribution: it installs into a fresh virtualenv without
the server's dependencies, and importing it loads nothing of the server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv

import pytest

from tests.procs import ROOT

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

CHECK = """
import sys
import genova_client
from genova_client import AsyncClient, Client, cli
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("flask", "genova", "sqlalchemy", "rq", "gradio"))
print(loaded)
sys.exit(1 if loaded else 0)
"""


def test_importing_the_client_loads_neither_flask_nor_the_server():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            cwd="/", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_installs_into_a_fresh_virtualenv_without_the_server(tmp_path):
    env_dir, source = tmp_path / "venv", tmp_path / "client"
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(source)],
                   check=True, capture_output=True, timeout=600)
    result = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, cwd="/",
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for server_only in ("flask", "sqlalchemy", "redis", "rq"):
        probe = subprocess.run([python, "-c", f"import {server_only}"], capture_output=True,
                               check=False)
        assert probe.returncode != 0, f"{server_only} was installed with the client"
    help_text = subprocess.run([str(env_dir / "bin" / "genova"), "--help"], check=True,
                               capture_output=True, text=True).stdout
    assert "generate" in help_text
