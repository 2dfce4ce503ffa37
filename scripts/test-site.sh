#!/usr/bin/env bash
# A real local "HPC site" for tests and the demo, on one Debian machine, as root:
#   - sshd on 127.0.0.1 (a free port) for the unprivileged user $SITE_USER with a fresh ed25519 key;
#   - munge + slurmctld + slurmd: a one-node cluster with a default `compute` partition and a
#     hidden `secure` partition;
#   - the node side of sealbatch installed the way a site admin would (see docs/remote.md): the
#     bundle (dist/sealbatch.js, rebuilt when the sources change) and a Deno in
#     /usr/local/lib/sealbatch, /usr/local/bin/sealbatch for job users, /usr/bin/decrypt_and_execute
#     -> sudo -> /usr/local/sbin/sealbatch-node (the same installed copy), a node key readable by
#     root only, a signers directory with the test user's public key, /etc/sealbatch/node.yaml
#     with a tmpfs work directory (/run/sealbatch).
# State, keys and logs live under one directory ($SEALBATCH_SITE_DIR, default <checkout>/.site).
#
# Usage: scripts/test-site.sh up|down|env|status
#   up      start everything that is not running (idempotent); prints the env lines
#   down    stop exactly the processes `up` started (by their pid files)
#   env     print what a test needs, as KEY=VALUE lines
#   status  one line per daemon
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SITE=${SEALBATCH_SITE_DIR:-$ROOT/.site}
SITE_USER=${SEALBATCH_SITE_USER:-sbtest}
DENO=${DENO:-$ROOT/node_modules/.bin/deno}
NODE_NAME=$(hostname -s)
LIB=/usr/local/lib/sealbatch
WORK_DIR=/run/sealbatch

die() {
  echo "test-site: $*" >&2
  exit 1
}
say() { echo "test-site: $*" >&2; }

# Replace FILE with stdin only when it differs, through a rename: readers (sbatch, the node, tests
# loading the profile) never see a half-written file while another `up` runs.
put() { # file [mode]
  cat >"$1.new"
  chmod "${2:-0644}" "$1.new"
  if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1"; fi
}

# pid file -> running?
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# A free TCP port, chosen once and remembered so that `up` stays idempotent.
pick_port() {
  local file=$1 start=$2 p
  if [ -s "$file" ]; then
    cat "$file"
    return
  fi
  for ((p = start; p < start + 1000; p++)); do
    if port_free "$p"; then
      echo "$p" >"$file"
      echo "$p"
      return
    fi
  done
  die "no free port near $start"
}

wait_for() { # seconds, description, command...
  local secs=$1 what=$2
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not come up within ${secs}s (logs: $SITE/log)"
}

install_packages() {
  local missing=() pkg
  for pkg in openssh-server openssh-client slurm-wlm munge gnupg cryptsetup-bin e2fsprogs bart sudo iproute2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

setup_user() {
  if ! id "$SITE_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$SITE_USER"
  fi
  # No password, but not "locked" (sshd without PAM refuses locked accounts even for keys).
  usermod -p '*' "$SITE_USER"
  local home
  home=$(getent passwd "$SITE_USER" | cut -d: -f6)
  install -d -m 0750 -o "$SITE_USER" -g "$SITE_USER" "$home"
  install -d -m 0700 -o "$SITE_USER" -g "$SITE_USER" "$home/.ssh" "$home/sealbatch"
  mkdir -p "$SITE/client"
  chmod 0700 "$SITE/client"
  if [ ! -s "$SITE/client/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N "" -C "$SITE_USER@sealbatch-test-site" -f "$SITE/client/id_ed25519"
  fi
  install -m 0600 -o "$SITE_USER" -g "$SITE_USER" "$SITE/client/id_ed25519.pub" "$home/.ssh/authorized_keys"
}

start_sshd() {
  mkdir -p "$SITE/sshd" "$SITE/run" "$SITE/log"
  install -d -m 0755 /run/sshd
  [ -s "$SITE/sshd/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N "" -C "sealbatch-test-site" -f "$SITE/sshd/ssh_host_ed25519_key"
  local port
  port=$(pick_port "$SITE/sshd/port" 22220)
  put "$SITE/sshd/sshd_config" <<EOF
# sshd of the sealbatch test site (scripts/test-site.sh)
ListenAddress 127.0.0.1
Port $port
HostKey $SITE/sshd/ssh_host_ed25519_key
PidFile $SITE/run/sshd.pid
AllowUsers $SITE_USER
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowTcpForwarding yes
X11Forwarding no
ClientAliveInterval 30
MaxStartups 50:30:100
MaxSessions 100
Subsystem sftp internal-sftp
EOF
  if alive "$SITE/run/sshd.pid"; then return; fi
  /usr/sbin/sshd -t -f "$SITE/sshd/sshd_config"
  /usr/sbin/sshd -f "$SITE/sshd/sshd_config" -E "$SITE/log/sshd.log" 9>&-
  wait_for 10 sshd alive "$SITE/run/sshd.pid"
  printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$SITE/sshd/ssh_host_ed25519_key.pub")" \
    >"$SITE/client/known_hosts"
}

start_munge() {
  install -d -m 0700 -o munge -g munge "$SITE/munge"
  [ -s "$SITE/munge/munge.key" ] || {
    dd if=/dev/urandom of="$SITE/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$SITE/munge/munge.key"
    chmod 0400 "$SITE/munge/munge.key"
  }
  # The socket directory must be reachable by every user that runs Slurm commands.
  install -d -m 0755 -o munge -g munge "$SITE/munge-run"
  if alive "$SITE/munge-run/munged.pid"; then return; fi
  setpriv --reuid munge --regid munge --init-groups /usr/sbin/munged \
    --key-file="$SITE/munge/munge.key" --socket="$SITE/munge-run/munge.socket" \
    --pid-file="$SITE/munge-run/munged.pid" --log-file="$SITE/munge/munged.log" \
    --seed-file="$SITE/munge/munged.seed" 9>&-
  wait_for 10 munged test -S "$SITE/munge-run/munge.socket"
}

write_slurm_conf() {
  mkdir -p "$SITE/slurm/state" "$SITE/slurm/spool"
  local ctld_port slurmd_port cpus mem
  ctld_port=$(pick_port "$SITE/slurm/ctld_port" 26817)
  slurmd_port=$(pick_port "$SITE/slurm/slurmd_port" $((ctld_port + 1)))
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
  put "$SITE/slurm/slurm.conf" <<EOF
# slurm.conf of the sealbatch test site (scripts/test-site.sh)
ClusterName=sealbatch
SlurmctldHost=$NODE_NAME(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SITE/munge-run/munge.socket
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$SITE/slurm/state
SlurmdSpoolDir=$SITE/slurm/spool
SlurmctldPidFile=$SITE/run/slurmctld.pid
SlurmdPidFile=$SITE/run/slurmd.pid
SlurmctldLogFile=$SITE/log/slurmctld.log
SlurmdLogFile=$SITE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$NODE_NAME NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=compute Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
PartitionName=secure Nodes=$NODE_NAME Hidden=YES MaxTime=INFINITE State=UP
EOF
  # Client commands (sbatch, squeue, ... run over SSH) read the default path.
  mkdir -p /etc/slurm
  if [ -e /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" != "$SITE/slurm/slurm.conf" ]; then
    grep -q "sealbatch test site" /etc/slurm/slurm.conf ||
      die "/etc/slurm/slurm.conf exists and is not the test site's; refusing to replace it"
  fi
  ln -sfn "$SITE/slurm/slurm.conf" /etc/slurm/slurm.conf
  [ -e /etc/slurm/cgroup.conf ] || echo "# sealbatch test site: no cgroup plugins in use" >/etc/slurm/cgroup.conf
}

start_slurm() {
  write_slurm_conf
  if ! alive "$SITE/run/slurmctld.pid"; then
    /usr/sbin/slurmctld -f "$SITE/slurm/slurm.conf" 9>&-
    wait_for 20 slurmctld scontrol ping
  fi
  if ! alive "$SITE/run/slurmd.pid"; then
    /usr/sbin/slurmd -f "$SITE/slurm/slurm.conf" -N "$NODE_NAME" 9>&-
    wait_for 20 slurmd alive "$SITE/run/slurmd.pid"
  fi
  local state
  for ((i = 0; i < 100; i++)); do
    state=$(sinfo -h -n "$NODE_NAME" -o %T 2>/dev/null | head -n1)
    case "$state" in idle* | mixed* | allocated*) return ;; esac
    if [ "$state" = "down" ] || [ "$state" = "drained" ] || [ "$state" = "down*" ]; then
      scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.2
  done
  die "node $NODE_NAME is not idle (state ${state:-unknown}); see $SITE/log/slurmd.log"
}

sealbatch() { "$DENO" run -q --no-prompt -P=sealbatch --config "$ROOT/deno.json" "$ROOT/main.ts" "$@"; }

# An OpenPGP key made with gpg (used when `sealbatch keygen` is not available).
gpg_key() { # kind name out_prefix
  local home
  home=$(mktemp -d)
  gpg 9>&- --homedir "$home" --batch --quiet --passphrase "" --quick-gen-key "$2 <$2@sealbatch-test-site>" \
    rsa3072 "$([ "$1" = node ] && echo encr || echo sign)" never 2>/dev/null
  gpg --homedir "$home" --batch --armor --export >"$3.pub.asc"
  (umask 077 && gpg --homedir "$home" --batch --armor --pinentry-mode loopback --passphrase "" \
    --export-secret-keys >"$3.sec.asc")
  gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true
  rm -rf "$home"
}

make_key() { # kind name dir
  [ -s "$3/$2.sec.asc" ] && return
  if sealbatch keygen --help 2>/dev/null | grep -q -- "--kind"; then
    sealbatch keygen --kind "$1" --name "$2" --email "$2@sealbatch-test-site" --out "$3" </dev/null >/dev/null 2>>"$SITE/log/keygen.log"
  else
    gpg_key "$1" "$2" "$3/$2"
  fi
}

# Hash of everything the bundle is built from (and the Deno that runs it): unchanged -> no rebuild.
source_hash() {
  (
    cd "$ROOT"
    find main.ts deno.json deno.lock src scripts/build.ts scripts/permissions.ts -type f -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
    "$DENO" --version | head -n 1
  ) | sha256sum | cut -d' ' -f1
}

# The wrapper every user runs: the installed Deno runs the bundle with the shipped permission flags,
# no config file, no lock file, nothing from the caller's working directory.
write_wrapper() { # path flags
  cat >"$1.new" <<EOF
#!/bin/sh
# sealbatch (installed by scripts/test-site.sh as described in docs/remote.md): one bundle run by
# its own Deno with the shipped permission flags.
exec $LIB/deno run -q --no-config --no-lock --node-modules-dir=none $2 $LIB/sealbatch.js "\$@"
EOF
  chmod 0755 "$1.new"
  chown root:root "$1.new"
  mv -f "$1.new" "$1"
}

# sealbatch installed the way an admin installs the single file: the bundle and a Deno under
# $LIB (root-owned), `sealbatch` on every user's PATH for the job script's node commands, and
# /usr/local/sbin/sealbatch-node (what the sudo rule names) running the same installed copy.
install_sealbatch() {
  local hash flags real
  hash=$(source_hash)
  if [ -x "$LIB/deno" ] && [ -s "$LIB/sealbatch.js" ] && [ -x /usr/local/bin/sealbatch ] &&
    [ -x /usr/local/sbin/sealbatch-node ] && [ "$(cat "$LIB/source.sha256" 2>/dev/null)" = "$hash" ]; then
    return
  fi
  say "building and installing the sealbatch bundle into $LIB"
  if ! (cd "$ROOT" && "$DENO" run -q -P=build scripts/build.ts bundle) >"$SITE/log/bundle.log" 2>&1; then
    # A half-edited checkout must not take the whole site down: keep a working installed copy.
    [ -s "$LIB/sealbatch.js" ] || die "cannot build the bundle: $(tail -n 3 "$SITE/log/bundle.log")"
    say "warning: the bundle does not build (see $SITE/log/bundle.log); keeping the installed copy"
    return
  fi
  flags=$(cd "$ROOT" && "$DENO" run -q scripts/permissions.ts | tr '\n' ' ')
  install -d -m 0755 -o root -g root "$LIB"
  real=$(readlink -f "$DENO")
  if ! cmp -s "$real" "$LIB/deno"; then
    install -m 0755 -o root -g root "$real" "$LIB/deno.new"
    mv -f "$LIB/deno.new" "$LIB/deno"
  fi
  install -m 0644 -o root -g root "$ROOT/dist/sealbatch.js" "$LIB/sealbatch.js.new"
  mv -f "$LIB/sealbatch.js.new" "$LIB/sealbatch.js"
  write_wrapper /usr/local/bin/sealbatch "${flags% }"
  write_wrapper /usr/local/sbin/sealbatch-node "${flags% }"
  # A job user must be able to run it (the job script calls `sealbatch node ...`).
  (cd / && setpriv --reuid "$SITE_USER" --regid "$SITE_USER" --init-groups \
    env HOME="$(getent passwd "$SITE_USER" | cut -d: -f6)" /usr/local/bin/sealbatch --version) >/dev/null ||
    die "the installed sealbatch does not run as $SITE_USER (try: /usr/local/bin/sealbatch --version)"
  echo "$hash" >"$LIB/source.sha256"
}

# Node-local memory for per-job work directories and fetched keys (node fetch-keys refuses
# anything but tmpfs/ramfs); /run is not a tmpfs on every machine.
mount_work_dir() {
  install -d -m 0711 "$WORK_DIR"
  if [ "$(stat -f -c %T "$WORK_DIR")" != tmpfs ]; then
    mount -t tmpfs -o mode=0711,size=256m,nosuid,nodev sealbatch-work "$WORK_DIR"
  fi
}

install_node_side() {
  install -d -m 0700 "$SITE/node" "$SITE/node/state"
  install -d -m 0755 "$SITE/node/signers"
  make_key node node "$SITE/node"
  chmod 0600 "$SITE/node/node.sec.asc"
  put "$SITE/client/node.pub.asc" <"$SITE/node/node.pub.asc"
  make_key user "$SITE_USER" "$SITE/client"
  put "$SITE/node/signers/$SITE_USER.asc" <"$SITE/client/$SITE_USER.pub.asc"

  install_sealbatch
  printf '#!/bin/sh\nexec sudo -n /usr/local/sbin/sealbatch-node node decrypt-and-execute "$@"\n' \
    >/usr/bin/decrypt_and_execute.new
  chmod 0755 /usr/bin/decrypt_and_execute.new
  mv /usr/bin/decrypt_and_execute.new /usr/bin/decrypt_and_execute
  cat >/etc/sudoers.d/sealbatch.new <<'EOF'
# Every user may run exactly the node's decrypt-and-execute as root (it drops to the job's user).
Defaults!/usr/local/sbin/sealbatch-node env_keep += "SLURM_JOB_ID"
ALL ALL=(root) NOPASSWD: /usr/local/sbin/sealbatch-node node decrypt-and-execute, /usr/local/sbin/sealbatch-node node decrypt-and-execute *
EOF
  chmod 0440 /etc/sudoers.d/sealbatch.new
  visudo -cq -f /etc/sudoers.d/sealbatch.new || die "sudoers rule does not parse"
  mv /etc/sudoers.d/sealbatch.new /etc/sudoers.d/sealbatch
  mkdir -p /etc/sealbatch
  {
    cat <<EOF
# node config of the sealbatch test site (scripts/test-site.sh)
node_key: $SITE/node/node.sec.asc
signers_dir: $SITE/node/signers
state_dir: $SITE/node/state
work_dir: $WORK_DIR
EOF
    # Optional: the Vault address the node uses instead of the one in each job's credentials.
    if [ -n "${SEALBATCH_SITE_VAULT_ADDR:-}" ]; then echo "vault_addr: $SEALBATCH_SITE_VAULT_ADDR"; fi
  } | put /etc/sealbatch/node.yaml
}

write_profile() {
  local port home
  port=$(cat "$SITE/sshd/port")
  home=$(getent passwd "$SITE_USER" | cut -d: -f6)
  put "$SITE/client/site.yaml" <<EOF
# Site profile of the local sealbatch test site (scripts/test-site.sh)
name: testsite
ssh:
  login: { host: 127.0.0.1, port: $port }
  user: $SITE_USER
  identity: $SITE/client/id_ed25519
  known_hosts: $SITE/client/known_hosts
remote:
  base_dir: $home/sealbatch
vault:
  addr: http://127.0.0.1:8200
node:
  public_key: $SITE/client/node.pub.asc
slurm:
  partition: secure
  exclusive: true
EOF
}

print_env() {
  [ -s "$SITE/sshd/port" ] || die "the site was never started; run: $0 up"
  local home
  home=$(getent passwd "$SITE_USER" | cut -d: -f6)
  cat <<EOF
SITE_DIR=$SITE
SITE_HOST=127.0.0.1
SITE_PORT=$(cat "$SITE/sshd/port")
SITE_USER=$SITE_USER
SITE_IDENTITY=$SITE/client/id_ed25519
SITE_KNOWN_HOSTS=$SITE/client/known_hosts
SITE_KNOWN_HOSTS_LINE=$(cat "$SITE/client/known_hosts")
SITE_HOST_KEY_PUB=$SITE/sshd/ssh_host_ed25519_key.pub
SITE_REMOTE_DIR=$home/sealbatch
SITE_PROFILE=$SITE/client/site.yaml
SITE_NODE_PUBKEY=$SITE/client/node.pub.asc
SITE_USER_SECKEY=$SITE/client/$SITE_USER.sec.asc
SITE_SSHD_PID=$(cat "$SITE/run/sshd.pid" 2>/dev/null || true)
SITE_NODE=$NODE_NAME
EOF
}

# Job directories stay on the site after a run (ciphertext only, as on a real cluster); a test
# site used over and over would fill its disk, so jobs older than an hour are removed.
prune_jobs() {
  local jobs
  jobs=$(getent passwd "$SITE_USER" | cut -d: -f6)/sealbatch/jobs
  [ -d "$jobs" ] || return 0
  find "$jobs" -mindepth 1 -maxdepth 1 -type d -mmin +60 -exec rm -rf -- {} + || true
}

stop_pidfile() { # name pidfile
  if alive "$2"; then
    local pid
    pid=$(cat "$2")
    kill "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped $1 ($pid)"
  fi
  rm -f "$2"
}

case "${1:-}" in
up)
  [ "$(id -u)" = 0 ] || die "must run as root (it starts sshd, munge and Slurm)"
  mkdir -p "$SITE"
  chmod 0755 "$SITE"
  exec 9>"$SITE/.lock"
  flock 9
  install_packages
  setup_user
  prune_jobs
  start_sshd
  start_munge
  start_slurm
  mount_work_dir
  install_node_side
  write_profile
  print_env
  ;;
down)
  [ -d "$SITE" ] || exit 0
  stop_pidfile slurmd "$SITE/run/slurmd.pid"
  stop_pidfile slurmctld "$SITE/run/slurmctld.pid"
  stop_pidfile munged "$SITE/munge-run/munged.pid"
  stop_pidfile sshd "$SITE/run/sshd.pid"
  if mountpoint -q "$WORK_DIR"; then umount "$WORK_DIR" && say "unmounted $WORK_DIR"; fi
  ;;
env) print_env ;;
status)
  for d in sshd:run/sshd.pid munged:munge-run/munged.pid slurmctld:run/slurmctld.pid slurmd:run/slurmd.pid; do
    if alive "$SITE/${d#*:}"; then echo "${d%%:*} running ($(cat "$SITE/${d#*:}"))"; else echo "${d%%:*} stopped"; fi
  done
  ;;
*)
  echo "usage: $0 up|down|env|status" >&2
  exit 2
  ;;
esac
