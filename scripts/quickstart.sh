#!/usr/bin/env bash
# The first quick-start command: install what is missing, build, start the
# local sandbox (e1, e2, ipc2 and its streaming standby ipc1) and run the
# narrated tour on it. The sandbox keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec rulectl sandbox demo
