#!/usr/bin/env bash
# The first command after `git clone`: installs what is missing and runs
# `sealbatch demo`, the reference tutorial end to end on this machine
# (development Vault, a local directory standing in for the shared file
# system, the node side run as Slurm would run it). No HPC account needed.
#
#   scripts/demo.sh                    # demo in ./sealbatch-demo
#   scripts/demo.sh --dir /tmp/demo    # any option of `sealbatch demo`
#   scripts/demo.sh --site test        # against the local test site (scripts/test-site.sh up)
#
# Installs: Deno (pinned, from the npm registry, into ./node_modules) and, when
# run as root, the Debian packages (bart, cryptsetup-bin, e2fsprogs, gnupg, ...).
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null && [ ! -x node_modules/.bin/deno ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "demo: installing npm (to fetch Deno)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >&2
  else
    echo "demo: npm is missing; install it (Debian: sudo apt-get install npm) and run again" >&2
    exit 1
  fi
fi
deno=$(bash scripts/bootstrap.sh)

# The node side keeps job keys on memory-backed storage only. Login sessions
# have $XDG_RUNTIME_DIR; a root shell in a container may have none, so mount
# a private tmpfs for the demo's lifetime.
memory_backed() { [ -n "${1:-}" ] && [ -d "$1" ] && [[ "$(stat -f -c %T "$1")" =~ ^(tmpfs|ramfs)$ ]]; }
if ! memory_backed "${XDG_RUNTIME_DIR:-}" && ! memory_backed "/run/user/$(id -u)"; then
  if [ "$(id -u)" = 0 ]; then
    runtime=$(mktemp -d)
    if mount -t tmpfs -o size=1g,mode=700 sealbatch-demo "$runtime" 2>/dev/null; then
      trap 'umount "$runtime" 2>/dev/null; rmdir "$runtime"' EXIT
      export XDG_RUNTIME_DIR=$runtime
    else
      rmdir "$runtime"
    fi
  fi
fi

# `sealbatch demo` writes into ./sealbatch-demo of the directory this script was started from.
args=("$@")
if [[ " ${args[*]} " != *" --dir "* && " ${args[*]} " != *" --dir="* ]]; then
  args=(--dir "$here/sealbatch-demo" "${args[@]}")
fi
PATH="$PWD/node_modules/.bin:$PATH" "$deno" task -q sealbatch demo "${args[@]}"
