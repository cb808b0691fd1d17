#!/usr/bin/env bash
# Builds Plexus and serves the bundled example integrations on port 8080,
# with the embedded SQLite store in ./var. Extra arguments go to `plexus serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec build/bin/plexus serve --integrations integrations --data var "$@"
