#!/usr/bin/env bash
# Create the project's virtual environment in .venv (Python 3.11+) and install softtarget with
# its test tools, at the versions in constraints.txt. Safe to run again: it reinstalls only
# when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "softtarget needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.softtarget-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing softtarget and its dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -c constraints.txt -e ".[dev]"
    echo "$want" > "$stamp"
fi
