#!/usr/bin/env bash
# Runs every check and test: deno fmt --check, lint, type check, then the test suite.
# Usage: bash scripts/test.sh [extra deno test args, e.g. a test file]
set -euo pipefail
cd "$(dirname "$0")/.."
deno=$(bash scripts/bootstrap.sh)
export PATH="$(dirname "$deno"):$PATH"

"$deno" fmt --check
"$deno" lint
"$deno" task -q check
# The local test site (sshd, munge, Slurm, the node side of sealbatch) for the remote, Slurm and
# end-to-end tests: brought up once here, so that a site that cannot start fails as itself.
# The sites the tests use, this checkout's own: the one-node site and the 3-node cluster of
# tests/multinode. One that was not running before is taken down again at the end.
log=$(mktemp)
started=()
cleanup() {
  rm -f "$log"
  for n in "${started[@]}"; do
    SEALBATCH_SITE_NODES=$n bash scripts/test-site.sh down >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then
  for n in 1 3; do
    case "$(SEALBATCH_SITE_NODES=$n bash scripts/test-site.sh status 2>/dev/null)" in
    *"sshd running"*) ;;
    *) started+=("$n") ;;
    esac
  done
  bash scripts/test-site.sh up >/dev/null
else
  echo "test.sh: not root: the tests that need the local test site are skipped" >&2
fi
set +e
"$deno" test -q -P=test --parallel "${@:-tests/}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line that any CI reader understands.
summary=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -aE '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1 || true)
passed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) passed.*/\1/p')
failed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')
ignored=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p')
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${ignored:-0} skipped"
exit "$status"
