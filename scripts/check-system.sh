#!/usr/bin/env bash
# Check what the project relies on from the system, beyond package names: commands, Asterisk's
# sounds, espeak-ng voices, a CJK font. Prints every missing item with the Debian package that
# provides it, and exits 1 if anything is missing. Run by scripts/bootstrap.sh after apt-get.
set -uo pipefail
missing=()
need() { missing+=("$1 (Debian package $2)"); }

for spec in sipp:sip-tester redis-server:redis-server redis-cli:redis-tools espeak-ng:espeak-ng sox:sox \
            ffmpeg:ffmpeg ffprobe:ffmpeg chromium:chromium fc-list:fontconfig dpkg-source:dpkg-dev \
            make:build-essential gcc:build-essential patch:patch bzip2:bzip2 xz:xz-utils \
            systemd-analyze:systemd; do
  command -v "${spec%%:*}" >/dev/null 2>&1 || need "command ${spec%%:*}" "${spec#*:}"
done

# The private Asterisk links its sounds to /usr/share/asterisk/sounds; prompts the dialplan and the
# flows play by name must exist in the en folder (GSM is the format Debian ships).
ASTERISK_SHARE=${ASTERISK_SHARE:-/usr/share/asterisk}  # overridable so a test can point it at an empty tree
SOUNDS=$ASTERISK_SHARE/sounds/en
for f in beep vm-goodbye vm-intro; do
  [ -e "$SOUNDS/$f.gsm" ] || need "$SOUNDS/$f.gsm" "asterisk-core-sounds-en + asterisk-core-sounds-en-gsm"
done
ls "$ASTERISK_SHARE"/moh/*.gsm >/dev/null 2>&1 || need "music on hold $ASTERISK_SHARE/moh/*.gsm" asterisk-moh-opsound-gsm

# Prompts are synthesized in Mandarin and US English.
if command -v espeak-ng >/dev/null 2>&1; then
  for voice in cmn en-us; do
    espeak-ng -v "$voice" -q "test" >/dev/null 2>&1 || need "espeak-ng voice $voice" espeak-ng-data
  done
fi
# Dashboard pages show Chinese: without a CJK font Chromium draws boxes.
if command -v fc-list >/dev/null 2>&1; then
  [ -n "$(fc-list :lang=zh family 2>/dev/null)" ] || need "a CJK font (fc-list :lang=zh)" fonts-wqy-microhei
fi
# Records database (docs/storage.md): tests run a private PostgreSQL server with initdb and pg_ctl,
# which Debian keeps off PATH in /usr/lib/postgresql/<major>/bin.
PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
for tool in initdb pg_ctl postgres; do
  [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/$tool" ] || need "PostgreSQL's $tool (/usr/lib/postgresql/<major>/bin)" postgresql
done
python3 -c "import venv, ensurepip" 2>/dev/null || need "python3 venv/ensurepip" python3-venv

if [ "${#missing[@]}" -gt 0 ]; then
  printf '[bootstrap] missing on this machine:\n' >&2
  printf '[bootstrap]   %s\n' "${missing[@]}" >&2
  exit 1
fi
