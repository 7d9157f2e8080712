#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine:
# Debian packages (only the missing ones), a Python venv with the project, and the
# cached Asterisk build. Idempotent: a second run takes seconds.
#   scripts/bootstrap.sh          runtime + test dependencies
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[bootstrap] %s\n' "$*" >&2; }

# Asterisk build deps, SIPp, Redis, prompt synthesis and audio tools, browser for dashboard tests,
# PostgreSQL (the production records database; tests start their own with initdb/pg_ctl).
APT_PACKAGES=(
  build-essential pkg-config libedit-dev libjansson-dev libxml2-dev libsqlite3-dev uuid-dev
  libssl-dev libncurses-dev bzip2 patch xz-utils dpkg-dev
  asterisk-core-sounds-en asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm
  sip-tester redis-server espeak-ng sox ffmpeg python3-venv python3-dev
  chromium fonts-wqy-microhei fontconfig systemd postgresql
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV="$ROOT/.venv"
stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "creating the Python environment in .venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/pip" install -q -e "$ROOT[dev]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c "import ivr, agi" || { say "pip install failed"; exit 1; }
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

# Package names are not enough: check the files and commands the project relies on, and name what is
# missing (e.g. /usr/share/asterisk/sounds/en is an alternatives link only asterisk-core-sounds-en makes).
bash "$ROOT/scripts/check-system.sh"

say "Asterisk (cached build outside the repo; the first build takes ~5 minutes)"
bash "$ROOT/scripts/build-asterisk.sh" >/dev/null
say "ready"
