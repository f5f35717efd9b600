# Sourced by scripts/start and scripts/test: make .venv with Python 3.11+ and install the
# given requirements file into it, again only when that file (or what it includes) changed.
set -euo pipefail
req="$1"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Genova needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.genova-$(basename "$req").sha256
want=$(cat requirements*.txt client/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $req into .venv (the first time takes a minute or two)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --progress-bar on -r "$req"
  echo "$want" > "$stamp"
fi
