#!/usr/bin/env bash
# Build Asterisk from Debian's *source* package (unstable suite) into a cache
# outside the repository. Debian 12 ships no Asterisk binary; sid ships the
# source. The install is keyed by upstream version + module list + this
# script, so CI and later runs reuse it and rebuild only when the key changes.
#
# Usage: scripts/build-asterisk.sh            build if the cache is missing
#        scripts/build-asterisk.sh --print-prefix   print the cached prefix (no build)
# Env:   IVR_ASTERISK_CACHE  cache root (default ~/.cache/hotline-ivr/asterisk)
set -euo pipefail

CACHE_ROOT="${IVR_ASTERISK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotline-ivr/asterisk}"
say() { printf '[asterisk-build] %s\n' "$*" >&2; }
die() { printf '[asterisk-build] ERROR: %s\n' "$*" >&2; exit 1; }

# Modules we build. Everything else is disabled: fewer deps, faster build.
APPS="app_queue app_dial app_playback app_read app_mixmonitor app_chanspy app_originate
app_verbose app_echo app_senddtmf app_exec app_stack app_record app_waituntil app_system
app_userevent app_softhangup app_transfer app_playtones app_while app_dumpchan app_cdr
app_channelredirect app_controlplayback app_sayunixtime app_milliwatt app_stasis app_audiosocket"
RES="res_agi res_speech res_musiconhold res_rtp_asterisk res_timing_timerfd res_sorcery_config
res_sorcery_memory res_sorcery_astdb res_sorcery_realtime res_sorcery_memory_cache res_pjproject
res_http_websocket res_stasis res_clioriginate res_mutestream res_format_attr_opus res_audiosocket"
CHANNELS="chan_pjsip chan_bridge_media chan_audiosocket"
CODECS="codec_ulaw codec_alaw codec_gsm codec_a_mu codec_resample"
FORMATS="format_wav format_gsm format_pcm format_wav_gsm format_sln"
PBX="pbx_config pbx_spool"
MODULE_LIST="$APPS $RES res_pjsip* $CHANNELS $CODECS $FORMATS $PBX funcs:* bridges:*"

# Bump when the build steps change in a way that needs a rebuild (the key also covers version + modules).
BUILD_REVISION=1
key_hash() { printf '%s rev%s' "$MODULE_LIST" "$BUILD_REVISION" | sha256sum | cut -c1-12; }

APTDIR="$CACHE_ROOT/apt"
apt_opts() {
  printf '%s\n' -o "Dir::Etc::SourceList=$APTDIR/sources.list" -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d" \
    -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache" -o "Debug::NoLocking=1" \
    -o "APT::Get::Only-Source=true"
}

debian_mirror() {
  # Same mirror as the machine's own apt sources; we never modify those.
  local m
  m=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $NF}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m="http://deb.debian.org/debian"
  printf '%s' "$m"
}

fetch_source() {
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d" "$CACHE_ROOT/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) sid main" >"$APTDIR/sources.list"
  say "step 1/6: fetching the asterisk source package list (sid, private apt config)"
  # shellcheck disable=SC2046
  apt-get $(apt_opts) -q update >"$CACHE_ROOT/apt-update.log" 2>&1 || { cat "$CACHE_ROOT/apt-update.log" >&2; die "apt-get update for sid sources failed"; }
  local ver
  # shellcheck disable=SC2046
  ver=$(apt-cache $(apt_opts) showsrc asterisk 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -n1)
  [ -n "$ver" ] || die "no asterisk source package in sid"
  case "$ver" in
    *:22.*|22.*) ;;
    *) die "sid has asterisk $ver; this project supports Asterisk 22.x only" ;;
  esac
  SRC_VERSION="$ver"
  UPSTREAM="${ver#*:}"; UPSTREAM="${UPSTREAM%%[+~-]*}"
  say "found asterisk $ver (upstream $UPSTREAM)"
}

cache_key() { printf '%s-%s' "$UPSTREAM" "$(key_hash)"; }

download_source() {
  local dl="$CACHE_ROOT/src/$SRC_VERSION"
  mkdir -p "$dl"
  if ! ls "$dl"/*.dsc >/dev/null 2>&1; then
    say "step 2/6: downloading source (apt-get source --download-only)"
    # shellcheck disable=SC2046
    (cd "$dl" && apt-get $(apt_opts) -q source --download-only "asterisk=$SRC_VERSION" >"$CACHE_ROOT/apt-source.log" 2>&1) \
      || { cat "$CACHE_ROOT/apt-source.log" >&2; die "apt-get source failed"; }
  else
    say "step 2/6: source already downloaded ($dl)"
  fi
  DL="$dl"
}

unpack_and_patch() {
  local work="$1"
  rm -rf "$work"; mkdir -p "$work"
  say "step 3/6: unpacking and applying debian/patches"
  local orig; orig=$(ls "$DL"/asterisk_*.orig.tar.* | head -n1)
  tar -xf "$orig" -C "$work" --strip-components=1
  local pj; pj=$(ls "$DL"/asterisk_*.orig-Xpjproject.tar.* 2>/dev/null | head -n1 || true)
  [ -n "$pj" ] || die "no orig-Xpjproject tarball in $DL"
  mkdir -p "$work/Xpjproject"
  tar -xf "$pj" -C "$work/Xpjproject" --strip-components=1
  tar -xf "$(ls "$DL"/asterisk_*.debian.tar.* | head -n1)" -C "$work"
  local p applied=0 skipped=""
  while read -r p _; do
    case "$p" in ''|'#'*) continue ;; esac
    if patch -d "$work" -p1 --forward --dry-run -s <"$work/debian/patches/$p" >/dev/null 2>&1; then
      patch -d "$work" -p1 --forward -s <"$work/debian/patches/$p" >/dev/null
      applied=$((applied + 1))
    else
      skipped="$skipped ${p%.patch}"
    fi
  done <"$work/debian/patches/series"
  say "applied $applied patches; skipped:${skipped:- none}"
  for must in 2008_disable_ilbc 2014_pjproject_unbreak; do
    case " $skipped " in *" $must "*) die "required patch $must did not apply" ;; esac
  done
}

bundle_pjproject() {
  local work="$1" ext="$2" pjver=""
  local maj min rev
  maj=$(sed -nE 's/^export PJ_VERSION_MAJOR +:= *([0-9]+).*/\1/p' "$work/Xpjproject/version.mak")
  min=$(sed -nE 's/^export PJ_VERSION_MINOR +:= *([0-9]+).*/\1/p' "$work/Xpjproject/version.mak")
  rev=$(sed -nE 's/^export PJ_VERSION_REV +:= *([0-9]+).*/\1/p' "$work/Xpjproject/version.mak")
  [ -n "$maj" ] && [ -n "$min" ] && pjver="$maj.$min${rev:+.$rev}"
  [ -n "$pjver" ] || die "cannot read pjproject version from Xpjproject/version.mak"
  say "step 4/6: bundling pjproject $pjver from Xpjproject"
  mkdir -p "$ext"
  rm -rf "$ext/pjproject-$pjver"; cp -a "$work/Xpjproject" "$ext/pjproject-$pjver"
  tar -C "$ext" -cjf "$ext/pjproject-$pjver.tar.bz2" "pjproject-$pjver"
  rm -rf "$ext/pjproject-$pjver"
  sed -i "s/^PJPROJECT_VERSION *=.*/PJPROJECT_VERSION = $pjver/" "$work/third-party/versions.mak"
  (cd "$ext" && md5sum "pjproject-$pjver.tar.bz2") >"$work/third-party/pjproject/pjproject-$pjver.tar.bz2.md5"
}

select_modules() {
  local work="$1" m opts
  cd "$work"
  make menuselect.makeopts >>"$LOG" 2>&1
  local cats="MENUSELECT_ADDONS MENUSELECT_APPS MENUSELECT_BRIDGES MENUSELECT_CDR MENUSELECT_CEL
    MENUSELECT_CHANNELS MENUSELECT_CODECS MENUSELECT_FORMATS MENUSELECT_FUNCS MENUSELECT_PBX
    MENUSELECT_RES MENUSELECT_TESTS MENUSELECT_UTILS MENUSELECT_AGIS MENUSELECT_CORE_SOUNDS
    MENUSELECT_MOH MENUSELECT_EXTRA_SOUNDS"
  opts=""
  for m in $cats; do opts="$opts --disable-category $m"; done
  for m in $MODULE_LIST; do
    case "$m" in
      funcs:*) opts="$opts --enable-category MENUSELECT_FUNCS" ;;
      bridges:*) opts="$opts --enable-category MENUSELECT_BRIDGES" ;;
      *'*') for x in res/$m.c; do x=${x#res/}; opts="$opts --enable ${x%.c}"; done ;;
      *) opts="$opts --enable $m" ;;
    esac
  done
  # shellcheck disable=SC2086
  menuselect/menuselect $opts menuselect.makeopts >>"$LOG" 2>&1 || die "menuselect failed (see $LOG)"
}

progress_filter() {
  awk '/\[CC\]|gcc .* -c /{n++; if (n % 100 == 0) {printf "[asterisk-build]   ... %d files compiled\n", n; fflush()}}' >&2
}

build() {
  local prefix="$1" work="$CACHE_ROOT/work-$KEY" ext="$CACHE_ROOT/externals"
  LOG="$CACHE_ROOT/build-$KEY.log"; : >"$LOG"
  unpack_and_patch "$work"
  bundle_pjproject "$work" "$ext"
  say "step 5/6: configure (log: $LOG)"
  (cd "$work" && ./configure --with-pjproject-bundled --with-externals-cache="$ext" --without-sdl \
      --disable-xmldoc --prefix="$prefix" >>"$LOG" 2>&1) || { tail -n 30 "$LOG" >&2; die "configure failed"; }
  select_modules "$work"
  say "step 6/6: make -j$(nproc) && make install (about 5 minutes on 2 cores)"
  (cd "$work" && make -j"$(nproc)" 2>&1 | tee -a "$LOG" | progress_filter; exit "${PIPESTATUS[0]}") \
    || { tail -n 40 "$LOG" >&2; die "make failed"; }
  (cd "$work" && make install >>"$LOG" 2>&1) || { tail -n 30 "$LOG" >&2; die "make install failed"; }
  printf '%s\n' "$SRC_VERSION" >"$prefix/.debian-source-version"
  rm -rf "$work"
}

main() {
  local stamp="$CACHE_ROOT/current"
  if [ "${1:-}" = "--print-prefix" ]; then
    [ -f "$stamp" ] && cat "$stamp" && exit 0
    exit 1
  fi
  # Fast path: a finished build for the current script + module list needs no network.
  if [ -f "$stamp" ] && [ -x "$(cat "$stamp")/sbin/asterisk" ] && [ "$(cat "$(cat "$stamp")/.key-hash" 2>/dev/null)" = "$(key_hash)" ]; then
    say "cached build: $(cat "$stamp")"; cat "$stamp"; exit 0
  fi
  mkdir -p "$CACHE_ROOT"
  fetch_source
  KEY=$(cache_key)
  local prefix="$CACHE_ROOT/install-$KEY"
  if [ ! -x "$prefix/sbin/asterisk" ]; then
    download_source
    rm -rf "$prefix"
    build "$prefix"
  fi
  printf '%s' "$(key_hash)" >"$prefix/.key-hash"
  printf '%s\n' "$prefix" >"$stamp"
  say "done: $prefix/sbin/asterisk ($("$prefix/sbin/asterisk" -V))"
  echo "$prefix"
}

main "$@"
