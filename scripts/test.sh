#!/usr/bin/env bash
# Set up, then run the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The browser test of `softtarget view` drives Debian's Chromium, and the MP4 test of
# `softtarget animate` needs ffmpeg; install them when missing.
if { [ ! -x /usr/bin/chromium ] || ! command -v ffmpeg >/dev/null 2>&1; } \
    && command -v apt-get >/dev/null 2>&1; then
    sudo=()
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    fi
    if [ "$(id -u)" -eq 0 ] || [ ${#sudo[@]} -gt 0 ]; then
        echo "installing chromium and ffmpeg for the browser and MP4 tests (apt-get)" >&2
        "${sudo[@]}" apt-get update -qq \
            && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ffmpeg \
                >/dev/null \
            || true
    fi
fi
if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
    echo "warning: chromium is not installed and could not be; tests/test_view.py will be skipped" >&2
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Tests spread over the machine's cores (pytest-xdist; one per core, "worksteal" so that a
# worker that is done takes tests queued for another); PYTEST_WORKERS=0 runs them in one.
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist worksteal "$@"
