#!/usr/bin/env bash
# Per-role idempotence gate for CI systems other than ours: exit 0 only if ROLE is idempotent on a
# fresh lab host. Usage: scripts/verify_idempotence.sh ROLE [dsu idempotence options]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 ROLE [options]" >&2; exit 2; }
cd "$(dirname "$(readlink -f "$0")")/.."
role=$1; shift
dsu=${DSU:-.venv/bin/dsu}   # DSU names another dsu executable
exec "$dsu" idempotence --roles "$role" --jobs 1 "$@"
