#!/usr/bin/env bash
# The main job: set up, then compare public_only with public_private on the built-in festival
# scenario (40 paired replications each, all cores), print the comparison and the results path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/softtarget batch festival --config public_only --config public_private \
    --reps "${REPS:-40}" "$@"
echo "next: .venv/bin/softtarget compare <results path above>   (or: report, plot)"
