"""The notebooks: the committed ones carry their pictures and no errors, and each one runs top
to bottom against a real app (``python app.py`` with two workers), executed into a temporary
copy so the committed files are never touched."""

from __future__ import annotations

import hashlib
import importlib.util

import nbformat
import pytest

from tests.live import live_app
from tests.procs import ROOT

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

_spec = importlib.util.spec_from_file_location("notebooks_run", ROOT / "notebooks" / "run.py")
notebooks_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebooks_run)

NOTEBOOKS = notebooks_run.NOTEBOOKS
EXPECTED = ["01-quickstart", "02-models-and-options", "03-reference-images",
            "04-queue-and-realtime"]
MAX_TOTAL_BYTES = 8 * 1024 * 1024


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def image_count(nb) -> int:
    """Outputs that show a picture: PNG data, or HTML with an embedded image."""
    count = 0
    for output in outputs(nb):
        data = output.get("data", {})
        if "image/png" in data or '<img src="data:image/' in data.get("text/html", ""):
            count += 1
    return count


def problems(nb) -> list[str]:
    """Errors and anything written to stderr (tracebacks, warnings, progress bars)."""
    found = []
    for output in outputs(nb):
        if output.output_type == "error":
            found.append(f"{output.ename}: {output.evalue}")
        elif output.output_type == "stream" and output.name == "stderr":
            found.append(f"stderr: {output.text[:200]}")
    return found


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_all_notebooks_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED
    assert sum(path.stat().st_size for path in NOTEBOOKS) < MAX_TOTAL_BYTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_has_pictures_and_no_errors(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), "not executed top to bottom"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert image_count(nb) > 0
    assert problems(nb) == []
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    for needed in ("GENOVA_URL", "GENOVA_API_KEY", "./scripts/start", "POST /api/keys",
                   "not an AI model"):
        assert needed in first.source


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    notebooks_run.warm_up()
    with live_app(tmp_path_factory.mktemp("notebooks-app"), workers=2) as live:
        yield live


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(app, path, tmp_path):
    before = digest(path)
    user = app.user(plan="pro")
    # A failing cell raises nbclient's CellExecutionError, which fails the test.
    nb = notebooks_run.execute(path, tmp_path / path.name, url=app.url, api_key=user.key)
    assert digest(path) == before, "the committed notebook was modified"
    assert image_count(nb) > 0
    assert problems(nb) == []
