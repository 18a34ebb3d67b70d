#!/usr/bin/env bash
# The one entry point on a fresh Debian 12 machine, as root. Safe to re-run.
#
#   ./bootstrap.sh deploy [dsu deploy options]   set up, boot a lab host as a new VPS is delivered,
#                                                deploy it from first contact over salt-ssh, verify,
#                                                and say where the evidence is
#   ./bootstrap.sh test [pytest options]         set up, then run the whole test suite
#   ./bootstrap.sh setup                         set up only: system packages and ./.venv
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# What the lab and the tests need from Debian; nothing else is assumed to be installed.
APT_PACKAGES=(
  ca-certificates debootstrap systemd-container openssh-client sshpass iproute2 gnupg
  python3 python3-venv python3-dev gcc
)

say() { printf 'bootstrap: %s\n' "$*" >&2; }

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "run as root: lab hosts are systemd-nspawn machines on a bridge (sudo ./bootstrap.sh $*)"
    exit 2
  fi
}

setup_system() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

setup_venv() {
  local stamp
  stamp=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
  if [ -x .venv/bin/dsu ] && [ "$(cat .venv/.bootstrap-stamp 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  say "creating .venv with the pinned Python dependencies (salt builds from source: a few minutes)"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]' 2>&1 \
    | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/dsu --version >/dev/null
  echo "$stamp" > .venv/.bootstrap-stamp
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  setup)
    require_root setup; setup_system; setup_venv; say "ready: .venv/bin/dsu --help" ;;
  deploy)
    require_root deploy; setup_system; setup_venv
    exec .venv/bin/dsu deploy --lab quickstart --like vps "$@" ;;
  test)
    require_root test; setup_system; setup_venv
    results=$(mktemp --suffix=.xml)
    status=0
    # Two workers, a test file each at a time (module fixtures stay together); a worker stopped
    # by a signal is not replaced. The slowest tests are listed for the time budget.
    .venv/bin/python -m pytest -n 2 --dist loadfile --max-worker-restart 0 --durations 15 \
      --junitxml="$results" "$@" || status=$?
    # Salt daemons may print shutdown chatter after pytest's summary; end with the counts.
    .venv/bin/python -m dsu.testsummary "$results" || true
    rm -f "$results"
    exit "$status" ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
