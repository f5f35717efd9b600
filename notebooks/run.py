"""Execute the notebooks against a temporary Genova app and save them with their outputs.

    PYTHONPATH=. .venv/bin/python notebooks/run.py [NOTEBOOK.ipynb ...]

``scripts/notebooks`` runs this to refresh the committed outputs (every notebook by default,
in place). ``tests/test_notebooks.py`` uses ``execute`` to run copies.

The app is ``python app.py`` with its own Redis, SQLite file and two workers (``tests/live.py``);
each notebook gets a new user on the Pro plan with an API key, handed to the kernel as
``GENOVA_URL`` and ``GENOVA_API_KEY``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = sorted(HERE.glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = 180  # seconds per cell


def kernel_env(url: str, api_key: str) -> dict:
    """This process's environment without any other GENOVA_ setting, plus the app's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(GENOVA_URL=url, GENOVA_API_KEY=api_key)
    return env


def execute(source: Path, target: Path, *, url: str, api_key: str,
            timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run ``source`` top to bottom in a fresh ``python3`` kernel and write it to ``target``
    (which may be ``source`` itself). A failing cell raises ``CellExecutionError`` and writes
    nothing."""
    nb = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory(prefix="genova-notebook-") as workdir:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                coalesce_streams=True, resources={"metadata": {"path": workdir}})
        client.execute(env=kernel_env(url, api_key))
    nbformat.validate(nb)
    nbformat.write(nb, target)
    return nb


def warm_up() -> None:
    """Build matplotlib's font cache here, so that its one-time notice never lands in a
    notebook's outputs."""
    import matplotlib.font_manager  # noqa: F401  (importing it builds the cache)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.live import live_app

    paths = [Path(arg).resolve() for arg in argv] or NOTEBOOKS
    warm_up()
    with tempfile.TemporaryDirectory(prefix="genova-notebooks-") as base:
        print("starting a temporary app ...", flush=True)
        with live_app(Path(base), workers=2) as app:
            for path in paths:
                user = app.user(plan="pro")
                print(f"running {path.relative_to(ROOT)} ...", flush=True)
                try:
                    execute(path, path, url=app.url, api_key=user.key)
                except CellExecutionError as exc:
                    print(f"{path.name} failed (left unchanged):\n{exc}", file=sys.stderr)
                    return 1
                print(f"  saved, {path.stat().st_size / 1e6:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
