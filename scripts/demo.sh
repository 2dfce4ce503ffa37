#!/usr/bin/env bash
# Smoke demo of the sealed job envelope, on this machine, outside Slurm:
# keys for a user and a node, `job seal` on a small script, then the node side
# (`node decrypt-and-execute`) verifies, decrypts and runs it; a second run of
# the same job is refused as a replay. Everything lives in a temporary
# directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
deno=$(bash scripts/bootstrap.sh)
sb() { "$deno" run -q -P=sealbatch main.ts "$@"; }
step() {
  if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
account=$(id -un)

step "keys: a user key (signs jobs) and a node key (decrypts them)"
sb keygen --kind user --name alice --email alice@example.org --out "$tmp/client" </dev/null
sb keygen --kind node --name node01 --email root@node01.example.org --out "$tmp/node" </dev/null

step "node setup: the user's public key registered for account $account"
mkdir -p "$tmp/node/signers" "$tmp/node/work"
chmod 700 "$tmp/node/work"
cp "$tmp/client/alice.pub.asc" "$tmp/node/signers/$account.asc"
cat >"$tmp/node/node.yaml" <<YAML
node_key: node01.sec.asc
signers_dir: signers
state_dir: state
work_dir: work
YAML

step "client: seal a small job"
cat >"$tmp/command.sh" <<'SH'
#!/bin/bash
echo "hello from the sealed job, running as $(id -un) on $(hostname)"
echo "private work dir: $SEALBATCH_WORK_DIR"
SH
sb job seal --command "$tmp/command.sh" --node-key "$tmp/node/node01.pub.asc" \
  --sign-key "$tmp/client/alice.sec.asc" --out "$tmp/job" --user "$account" --expires 1h
echo "--- run.sh (what Slurm would run):"
head -n 5 "$tmp/job/run.sh"
echo "..."
tail -n 2 "$tmp/job/run.sh"
echo

step "node: decrypt-and-execute (bash feeds the here-document on stdin)"
message() { sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' "$tmp/job/run.sh"; }
message | sb node decrypt-and-execute --config "$tmp/node/node.yaml" --script "$tmp/job/run.sh"

step "node: the same job again is refused (replay), exit status 4"
set +e
message | sb node decrypt-and-execute --config "$tmp/node/node.yaml" --script "$tmp/job/run.sh"
status=$?
set -e
echo "exit status: $status"
[ "$status" = 4 ]
step "done; temporary files removed"
