#!/usr/bin/env bash
# Installs what sealbatch needs on a fresh Debian machine:
#  - Deno (pinned) from the npm registry into ./node_modules (never globally);
#  - when run as root, the Debian packages the tests and the demo use.
# Idempotent: a second run only checks. Prints the path of the project's deno.
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
APT_PACKAGES=(gnupg cryptsetup-bin e2fsprogs openssh-server openssh-client slurm-wlm munge bart openssl util-linux iproute2 sudo squashfs-tools curl chromium)

if [ "$(id -u)" = 0 ] && [ "${SEALBATCH_SKIP_APT:-}" = "" ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
fi

deno=node_modules/.bin/deno
if [ ! -x "$deno" ] || ! "$deno" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
  echo "bootstrap: installing deno $DENO_VERSION from the npm registry into ./node_modules" >&2
  npm install --no-save --no-package-lock --no-audit --no-fund --silent "deno@$DENO_VERSION" >&2
fi
# Fetch the pinned npm dependencies once, so tests and tasks start warm.
"$deno" install -q >&2
echo "$PWD/$deno"
