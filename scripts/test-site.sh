#!/usr/bin/env bash
# A real local "HPC site" for tests and the demo, on one Debian machine, as root:
#   - sshd on 127.0.0.1 (a free port) for the site's own unprivileged user with a fresh ed25519 key;
#   - munge + slurmctld + slurmd: a one-node cluster whose node belongs to one hidden `secure`
#     partition only (OverSubscribe=EXCLUSIVE, AllowGroups, a Prolog that checks Slurm's copy of
#     the batch script against its owner's signature, an Epilog that removes a killed job's leftovers:
#     what docs/admin.md recommends);
#   - the node side of sealbatch installed the way a site admin would (docs/admin.md): the bundle
#     (dist/sealbatch.js, rebuilt when the sources change) run by an installed Deno, the
#     decrypt_and_execute -> sudo -> node wrapper path, a node key readable by root only, a signers
#     directory with the user's public key, a node config with a tmpfs work directory;
#   - a development Vault (sealbatch's Vault-compatible stand-in) and a ready client profile.
#
# Sites share nothing: each checkout gets its own site, named by a hash of its path, with its own
# user and group, ports, Slurm config (SLURM_CONF), munge key, node config, work directory, sudo
# rule and installed copy. A second checkout's `up` never touches the first one's site.
# State that other accounts read (munge, the job user, Slurm) lives below
# /var/lib/sealbatch-test-site/<user>, reachable whatever the checkout's parents are (a 0700 home).
# `up` also stops the sites of checkouts that no longer exist.
#
# Multi-node mode (SEALBATCH_SITE_NODES=N, 2..8, for every subcommand): a site of its own (own id,
# user, ports) with N slurmd, each in its own network, UTS and mount namespace: its own address on a
# private bridge, its own host name and its own tmpfs work directory. The bridge, slurmctld and the
# login sshd live in one more namespace (the hub); every address is inside these namespaces
# (10.254.X.0/24), none on an interface of the root namespace. Loopback forwarders (socat) carry
# the client's SSH to the hub's sshd and each node's Vault traffic to the root namespace's Vault.
#
# Usage: scripts/test-site.sh up|down|env|status
#   up      start everything that is not running (idempotent); prints the env lines
#   down    stop this checkout's site: its daemons, work directory mount, sudo rule
#   env     print what a test needs, as KEY=VALUE lines
#   status  one line per daemon
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SITES=/var/lib/sealbatch-test-site
NODES=${SEALBATCH_SITE_NODES:-1}
case "$NODES" in [1-8]) ;; *)
  echo "test-site: SEALBATCH_SITE_NODES must be 1 to 8, not '$NODES'" >&2
  exit 2
  ;;
esac
# The multi-node site of a checkout is a second site: it coexists with the one-node site.
ID=$(printf '%s%s' "${SEALBATCH_SITE_DIR:-$ROOT}" "$([ "$NODES" = 1 ] || echo "#nodes=$NODES")" | sha256sum | cut -c1-8)
SITE_USER=${SEALBATCH_SITE_USER:-sbt$ID}
SITE_GROUP=sbs$ID
SITE=${SEALBATCH_SITE_DIR:-$SITES/$SITE_USER}
DENO=${DENO:-$ROOT/node_modules/.bin/deno}
NODE_NAME=$(hostname -s)
HUB=$SITE_USER-hub # network namespaces: the hub and $SITE_USER-n0 ... (multi-node mode)
NET=10.254.$((0x${ID:0:2} % 254 + 1))
if [ "$NODES" = 1 ]; then NODE_LIST=$NODE_NAME; else NODE_LIST=$(for ((i = 0; i < NODES; i++)); do printf 'sb%sn%s ' "$ID" "$i"; done); fi
NODE_LIST=${NODE_LIST% }
LIB=$SITE/lib
WORK_DIR=/run/sealbatch-test-site/$SITE_USER
WORK_DIR_SIZE=256M # the tmpfs, and what the profile tells clients (node.work_dir_size)
NODE_CONFIG=$SITE/etc/node.yaml
export SLURM_CONF=$SITE/slurm/slurm.conf
# The one wrapper at the path every run.sh names; it hands each site's job user to that site's copy.
WRAPPER=/usr/bin/decrypt_and_execute

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

multi() { [ "$NODES" != 1 ]; }
# Slurm commands of the site: in multi-node mode only the hub's namespace reaches slurmctld.
in_hub() { if multi; then ip netns exec "$HUB" "$@"; else "$@"; fi; }

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# A free TCP port, chosen once and remembered so that `up` stays idempotent. Ports the other sites
# remembered count as taken even while their daemons are down. A remembered port is kept while the
# daemon that uses it runs (pid file), or while it is still free; one that something else took
# meanwhile is chosen anew.
pick_port() { # file start [pidfile]
  local file=$1 start=$2 p
  if [ -s "$file" ]; then
    p=$(cat "$file")
    if { [ -n "${3:-}" ] && alive "$3"; } || port_free "$p"; then
      echo "$p"
      return
    fi
    rm -f "$file"
  fi
  for ((p = start; p < start + 1000; p++)); do
    if port_free "$p" && ! cat "$SITES"/*/sshd/port "$SITES"/*/slurm/*_port "$SITES"/*/vault/port 2>/dev/null | grep -qx "$p"; then
      echo "$p" >"$file"
      echo "$p"
      return
    fi
  done
  die "no free port near $start"
}

wait_for() { # seconds, description, command...
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not come up within ${secs}s (logs: $SITE/log)"
}

install_packages() {
  local missing=() pkg pkgs=(openssh-server openssh-client slurm-wlm munge gnupg gpgv cryptsetup-bin e2fsprogs bart sudo iproute2)
  if multi; then pkgs+=(socat); fi
  for pkg in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

# The site's directory: root-owned and traversable, whatever the checkout's parents are.
make_site_dir() {
  install -d -m 0755 -o root -g root "$SITES" "$SITE"
  if [ -s "$SITE/owner" ] && [ "$(cat "$SITE/owner")" != "$ROOT" ]; then
    die "$SITE belongs to the checkout $(cat "$SITE/owner"), not to $ROOT"
  fi
  echo "$ROOT" >"$SITE/owner"
  install -d -m 0755 "$SITE/run" "$SITE/log"
}

setup_user() {
  getent group "$SITE_GROUP" >/dev/null || groupadd "$SITE_GROUP"
  if ! id "$SITE_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --groups "$SITE_GROUP" "$SITE_USER"
  fi
  # No password, but not "locked" (sshd without PAM refuses locked accounts even for keys).
  usermod -p '*' -aG "$SITE_GROUP" "$SITE_USER"
  local home
  home=$(getent passwd "$SITE_USER" | cut -d: -f6)
  install -d -m 0750 -o "$SITE_USER" -g "$SITE_USER" "$home"
  install -d -m 0700 -o "$SITE_USER" -g "$SITE_USER" "$home/.ssh" "$home/sealbatch"
  install -d -m 0700 "$SITE/client"
  if [ ! -s "$SITE/client/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N "" -C "$SITE_USER@sealbatch-test-site" -f "$SITE/client/id_ed25519"
  fi
  install -m 0600 -o "$SITE_USER" -g "$SITE_USER" "$SITE/client/id_ed25519.pub" "$home/.ssh/authorized_keys"
}

# Multi-node mode: the hub namespace holds the bridge (and slurmctld and sshd, the "login node");
# each node's namespace is linked to it by a veth pair made inside the two namespaces, so no
# interface or address of the root namespace is touched. Idempotent, step by step.
setup_net() {
  multi || return 0
  # Output first, then the match: `cmd | grep -q` fails under pipefail when grep stops early.
  shows() { local out; out=$("${@:2}" 2>/dev/null) && [[ $out == *"$1"* ]]; }
  install -d -m 0755 "$SITE/net"
  [ -e "/run/netns/$HUB" ] || ip netns add "$HUB"
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link show br0 >/dev/null 2>&1 || ip -n "$HUB" link add br0 type bridge
  shows "inet $NET.1/" ip -n "$HUB" addr show dev br0 || ip -n "$HUB" addr add "$NET.1/24" dev br0
  ip -n "$HUB" link set br0 up
  local i=0 name ns
  {
    echo "# hosts of the nodes of the sealbatch test site (scripts/test-site.sh)"
    echo "127.0.0.1 localhost"
    echo "$NET.1 $NODE_NAME"
  } >"$SITE/net/hosts.list"
  for name in $NODE_LIST; do
    ns=$SITE_USER-n$i
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link show eth0 >/dev/null 2>&1 || ip -n "$HUB" link add "n$i" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "n$i" master br0 up
    shows "inet $NET.$((10 + i))/" ip -n "$ns" addr show dev eth0 || ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "$NET.$((10 + i)) $name" >>"$SITE/net/hosts.list"
    i=$((i + 1))
  done
  put "$SITE/net/hosts" <"$SITE/net/hosts.list"
  rm -f "$SITE/net/hosts.list"
}

# A loopback forwarder: socat listening on 127.0.0.1:PORT in namespace NS ("" = the root
# namespace); each connection runs TARGET (a socat that enters the other namespace; socat's own
# address syntax, so its colons are escaped).
start_forward() { # name ns port target
  local pidfile=$SITE/run/fwd-$1.pid pre=()
  alive "$pidfile" && return 0
  if [ -n "$2" ]; then pre=(ip netns exec "$2"); fi
  setsid "${pre[@]}" socat TCP-LISTEN:"$3",bind=127.0.0.1,fork,reuseaddr EXEC:"$4" \
    </dev/null >>"$SITE/log/fwd-$1.log" 2>&1 &
  echo $! >"$pidfile"
  listening() { [ -n "$("${pre[@]}" ss -Htln "sport = :$1")" ]; }
  wait_for 10 "the forwarder $1" listening "$3"
}

start_sshd() {
  mkdir -p "$SITE/sshd"
  install -d -m 0755 /run/sshd
  [ -s "$SITE/sshd/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N "" -C "sealbatch-test-site" -f "$SITE/sshd/ssh_host_ed25519_key"
  local port
  port=$(pick_port "$SITE/sshd/port" 22220 "$SITE/run/sshd.pid")
  put "$SITE/sshd/sshd_config" <<EOF
# sshd of the sealbatch test site (scripts/test-site.sh)
ListenAddress $(if multi; then echo "$NET.1"; else echo 127.0.0.1; fi)
Port $(if multi; then echo 22; else echo "$port"; fi)
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
# This site's Slurm: every command the user runs (and every job it submits) finds it.
SetEnv SLURM_CONF=$SLURM_CONF
Subsystem sftp internal-sftp
EOF
  if alive "$SITE/run/sshd.pid"; then
    # A changed config (a new SetEnv, say) reaches new sessions after a reload.
    if [ "$SITE/sshd/sshd_config" -nt "$SITE/run/sshd.pid" ]; then
      kill -HUP "$(cat "$SITE/run/sshd.pid")"
      touch "$SITE/run/sshd.pid"
    fi
  else
    /usr/sbin/sshd -t -f "$SITE/sshd/sshd_config"
    in_hub /usr/sbin/sshd -f "$SITE/sshd/sshd_config" -E "$SITE/log/sshd.log"
    wait_for 10 sshd alive "$SITE/run/sshd.pid"
  fi
  # The client reaches the hub's sshd through 127.0.0.1:PORT of the root namespace.
  if multi; then start_forward sshd "" "$port" "ip netns exec $HUB socat STDIO TCP\:$NET.1\:22"; fi
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
    --seed-file="$SITE/munge/munged.seed"
  wait_for 10 munged test -S "$SITE/munge-run/munge.socket"
}

# Prolog (docs/admin.md): before any of a job's code runs, Slurm's stored batch script must verify
# against its owner's registered key. The test site cancels a refused job instead of draining its
# only node, and logs to a file (no syslog here).
write_prolog() {
  put "$SITE/slurm/prolog.sh" 0755 <<EOF
#!/bin/sh
# Prolog of the sealbatch test site (scripts/test-site.sh), as docs/admin.md recommends. Runs as root.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
SLURM_CONF=$SLURM_CONF
export SLURM_CONF
SIGNERS=$SITE/node/signers
[ "\$SLURM_JOB_PARTITION" = secure ] || exit 0
tmp=\$(mktemp -d) || exit 1
trap 'rm -rf "\$tmp"' EXIT
refuse() {
  echo "\$(date -u +%FT%TZ) job \$SLURM_JOB_ID of \$SLURM_JOB_USER refused: \$1" >>$SITE/log/prolog.log
  scancel "\$SLURM_JOB_ID"
  exit 0
}
job=\$(scontrol show job -o "\$SLURM_JOB_ID")
# Test hook of this site only: jobs so named skip the Prolog, so that tests reach the node's own
# check of the script Slurm runs (the second line of defence). Only the submitting user names a job.
case "\$job" in *" JobName=sealbatch-test-no-prolog-"*) exit 0 ;; esac
script=\$(printf '%s\\n' "\$job" | sed -n 's/.* Command=\(\/.*\) WorkDir=.*/\1/p')
[ -n "\$script" ] || refuse "no batch script path"
scontrol write batch_script "\$SLURM_JOB_ID" "\$tmp/run.sh" >/dev/null || refuse "cannot read the batch script"
GNUPGHOME=\$tmp gpg --batch --dearmor <"\$SIGNERS/\$SLURM_JOB_USER.asc" >"\$tmp/signer.gpg" 2>/dev/null || refuse "no registered key"
gpgv --homedir "\$tmp" --keyring "\$tmp/signer.gpg" "\$script.sig" "\$tmp/run.sh" 2>/dev/null || refuse "bad signature"
exit 0
EOF
  # Epilog: on an exclusive node, whatever the job's user left below work_dir is the ended job's
  # (decrypt_and_execute wipes its own directory; only a SIGKILL leaves anything). Logged, so that
  # tests can tell a node side that cleaned up from an Epilog that had to.
  put "$SITE/slurm/epilog.sh" 0755 <<EOF
#!/bin/sh
# Epilog of the sealbatch test site (scripts/test-site.sh), as docs/admin.md recommends. Runs as root.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ "\$SLURM_JOB_PARTITION" = secure ] || exit 0
[ -n "\$SLURM_JOB_USER" ] || exit 0
left=\$(find $WORK_DIR -mindepth 1 -maxdepth 1 -user "\$SLURM_JOB_USER" 2>/dev/null)
[ -n "\$left" ] || exit 0
echo "\$(date -u +%FT%TZ) job \$SLURM_JOB_ID of \$SLURM_JOB_USER: removed \$(echo "\$left" | wc -l) leftover(s) below $WORK_DIR" >>$SITE/log/epilog.log
echo "\$left" | while IFS= read -r p; do rm -rf -- "\$p"; done
exit 0
EOF
}

write_slurm_conf() {
  mkdir -p "$SITE/slurm/state" "$SITE/slurm/spool"
  local ctld_port slurmd_port cpus mem
  ctld_port=$(pick_port "$SITE/slurm/ctld_port" 26817 "$SITE/run/slurmctld.pid")
  slurmd_port=$(pick_port "$SITE/slurm/slurmd_port" $((ctld_port + 1)) "$(slurmd_pidfile "${NODE_LIST%% *}")")
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 / NODES))
  write_prolog
  local ctld_addr=127.0.0.1 slurmd_files="SlurmdPidFile=$SITE/run/slurmd.pid
SlurmdSpoolDir=$SITE/slurm/spool
SlurmdLogFile=$SITE/log/slurmd.log" nodes_conf name i=0
  if multi; then
    ctld_addr=$NET.1
    # One file of each per node (%n: the node's name); every slurmd has an address of its own.
    slurmd_files="SlurmdPidFile=$SITE/run/slurmd-%n.pid
SlurmdSpoolDir=$SITE/slurm/spool/%n
SlurmdLogFile=$SITE/log/slurmd-%n.log
# The Prolog runs on every node of a job when it is allocated, not at its first step there.
PrologFlags=Alloc"
  fi
  for name in $NODE_LIST; do
    if multi; then
      mkdir -p "$SITE/slurm/spool/$name"
      nodes_conf+="NodeName=$name NodeAddr=$NET.$((10 + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"$'\n'
    else
      nodes_conf+="NodeName=$name NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN"$'\n'
    fi
    i=$((i + 1))
  done
  put "$SITE/slurm/slurm.conf" <<EOF
# slurm.conf of the sealbatch test site (scripts/test-site.sh)
ClusterName=sb$ID
SlurmctldHost=$NODE_NAME($ctld_addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SITE/munge-run/munge.socket
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$SITE/slurm/state
SlurmctldPidFile=$SITE/run/slurmctld.pid
SlurmctldLogFile=$SITE/log/slurmctld.log
$slurmd_files
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
Prolog=$SITE/slurm/prolog.sh
Epilog=$SITE/slurm/epilog.sh
${nodes_conf%$'\n'}
# The secure node is in this partition and no other (docs/admin.md).
PartitionName=secure Nodes=${NODE_LIST// /,} Hidden=YES OverSubscribe=EXCLUSIVE AllowGroups=$SITE_GROUP MaxTime=INFINITE State=UP
EOF
  [ -e "$SITE/slurm/cgroup.conf" ] || echo "# sealbatch test site: no cgroup plugins in use" >"$SITE/slurm/cgroup.conf"
}

slurmd_pidfile() { if multi; then echo "$SITE/run/slurmd-$1.pid"; else echo "$SITE/run/slurmd.pid"; fi; }

# Multi-node mode: node I's slurmd (and every job step below it) runs in the node's network
# namespace, with its own host name (UTS namespace) and, in its own mount namespace, its own tmpfs
# work directory and an /etc/hosts naming the nodes. A node's work directory is node-local: no other
# node, and not the root namespace, sees it.
start_slurmd() { # name index
  if ! multi; then
    /usr/sbin/slurmd -f "$SLURM_CONF" -N "$1"
    return
  fi
  install -d -m 0755 "$(dirname "$WORK_DIR")"
  install -d -m 0711 "$WORK_DIR"
  # nsenter, not `ip netns exec`: that one mounts a fresh /sys, without the cgroup file system.
  # shellcheck disable=SC2016 # expanded by the inner shell
  nsenter --net="/run/netns/$SITE_USER-n$2" unshare --uts --mount --propagation slave sh -c '
    mount -t tmpfs -o mode=0711,size=256m,nosuid,nodev sealbatch-work "$1" &&
      mount --bind "$2" /etc/hosts && hostname "$3" &&
      exec /usr/sbin/slurmd -f "$4" -N "$3"' sh "$WORK_DIR" "$SITE/net/hosts" "$1" "$SLURM_CONF"
}

start_slurm() {
  write_slurm_conf
  if ! alive "$SITE/run/slurmctld.pid"; then
    in_hub /usr/sbin/slurmctld -f "$SLURM_CONF"
    wait_for 20 slurmctld in_hub scontrol ping
  elif [ "$SLURM_CONF" -nt "$SITE/run/slurmctld.pid" ]; then
    in_hub scontrol reconfigure >/dev/null && touch "$SITE/run/slurmctld.pid"
  fi
  local name state i=0
  for name in $NODE_LIST; do
    if ! alive "$(slurmd_pidfile "$name")"; then
      start_slurmd "$name" "$i"
      wait_for 20 "slurmd $name" alive "$(slurmd_pidfile "$name")"
    fi
    i=$((i + 1))
  done
  for name in $NODE_LIST; do
    for ((i = 0; i < 100; i++)); do
      state=$(in_hub sinfo -h -a -n "$name" -o %T 2>/dev/null | head -n1)
      case "$state" in idle* | mixed* | allocated*) continue 2 ;; esac
      if [ "$state" = "down" ] || [ "$state" = "drained" ] || [ "$state" = "down*" ]; then
        in_hub scontrol update NodeName="$name" State=RESUME >/dev/null 2>&1 || true
      fi
      sleep 0.2
    done
    die "node $name is not idle (state ${state:-unknown}); see $SITE/log/slurmd*.log"
  done
}

sealbatch() { "$DENO" run -q --no-prompt -P=sealbatch --config "$ROOT/deno.json" "$ROOT/main.ts" "$@"; }

make_key() { # kind name dir
  [ -s "$3/$2.sec.asc" ] && return
  sealbatch keygen --kind "$1" --name "$2" --email "$2@sealbatch-test-site" --out "$3" </dev/null >/dev/null 2>>"$SITE/log/keygen.log" ||
    die "cannot make the $1 key $2 (see $SITE/log/keygen.log)"
}

# Hash of everything the bundle is built from (and the Deno that runs it): unchanged -> no rebuild.
source_hash() {
  (
    cd "$ROOT"
    find main.ts deno.json deno.lock src scripts/build.ts scripts/permissions.ts scripts/test-site.sh -type f -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
    "$DENO" --version | head -n 1
  ) | sha256sum | cut -d' ' -f1
}

# The wrapper users run: the installed Deno runs the bundle with the shipped permission flags, no
# config file, no lock file, nothing from the caller's working directory. The node config and the
# Slurm config are the site's, set here by root: sudo passes neither through from the caller.
write_wrapper() { # path flags deno
  cat >"$1.new" <<EOF
#!/bin/sh
# sealbatch (installed by scripts/test-site.sh as docs/admin.md describes): one bundle run by its own
# Deno with the shipped permission flags.
SEALBATCH_NODE_CONFIG=$NODE_CONFIG SLURM_CONF=$SLURM_CONF
export SEALBATCH_NODE_CONFIG SLURM_CONF
exec $3 run -q --no-config --no-lock --node-modules-dir=none $2 $LIB/sealbatch.js "\$@"
EOF
  chmod 0755 "$1.new"
  chown root:root "$1.new"
  mv -f "$1.new" "$1"
}

# sealbatch installed the way an admin installs the single file: the bundle under $LIB (root-owned)
# run by an installed Deno (content-addressed, so that sites share it safely), `sealbatch` for the
# job script's node commands, and `sealbatch-node` (what the sudo rule names) running the same copy.
install_sealbatch() {
  local hash flags real runtime
  hash=$(source_hash)
  if [ -s "$LIB/sealbatch.js" ] && [ -x "$LIB/sealbatch" ] && [ -x "$LIB/sealbatch-node" ] &&
    [ "$(cat "$LIB/source.sha256" 2>/dev/null)" = "$hash" ]; then
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
  install -d -m 0755 -o root -g root "$LIB" "$SITES/runtime"
  real=$(readlink -f "$DENO")
  runtime=$SITES/runtime/deno-$(sha256sum "$real" | cut -c1-16)
  if [ ! -x "$runtime" ]; then
    install -m 0755 -o root -g root "$real" "$runtime.new.$$"
    mv -f "$runtime.new.$$" "$runtime"
  fi
  install -m 0644 -o root -g root "$ROOT/dist/sealbatch.js" "$LIB/sealbatch.js.new"
  mv -f "$LIB/sealbatch.js.new" "$LIB/sealbatch.js"
  write_wrapper "$LIB/sealbatch" "${flags% }" "$runtime"
  write_wrapper "$LIB/sealbatch-node" "${flags% }" "$runtime"
  # A job user must be able to run it (the job script calls `sealbatch node ...`).
  (cd / && setpriv --reuid "$SITE_USER" --regid "$SITE_USER" --init-groups \
    env HOME="$(getent passwd "$SITE_USER" | cut -d: -f6)" "$LIB/sealbatch" --version) >/dev/null ||
    die "the installed sealbatch does not run as $SITE_USER (try: $LIB/sealbatch --version)"
  echo "$hash" >"$LIB/source.sha256"
}

# Node-local memory for per-job work directories and fetched keys (node fetch-keys refuses
# anything but tmpfs/ramfs); /run is not a tmpfs on every machine.
mount_work_dir() {
  multi && return 0 # each node mounts its own (start_slurmd)
  install -d -m 0755 "$(dirname "$WORK_DIR")"
  install -d -m 0711 "$WORK_DIR"
  if ! mountpoint -q "$WORK_DIR"; then
    mount -t tmpfs -o "mode=0711,size=$WORK_DIR_SIZE,nosuid,nodev" sealbatch-work "$WORK_DIR"
  fi
}

# decrypt_and_execute at the path every run.sh names: the same file for every site (so that sites
# never fight over it); it runs, through sudo, the node side of the site the job's user belongs to.
install_wrapper() {
  put "$WRAPPER" 0755 <<EOF
#!/bin/sh
# decrypt_and_execute of the sealbatch test sites (scripts/test-site.sh): each site has its own job
# user and its own installed node side; the sudo rule for that user names exactly that copy.
exec sudo -n "$SITES/\$(id -un)/lib/sealbatch-node" node decrypt-and-execute "\$@"
EOF
  if [ "$SITE" != "$SITES/$SITE_USER" ]; then ln -sfn "$SITE" "$SITES/$SITE_USER"; fi
  local rule=/etc/sudoers.d/sealbatch-test-$SITE_USER
  cat >"$rule.new" <<EOF
# The site's job user may run exactly the node's decrypt-and-execute as root (it drops to the job's user).
Defaults!$SITES/$SITE_USER/lib/sealbatch-node env_keep += "SLURM_JOB_ID SLURMD_NODENAME"
$SITE_USER ALL=(root) NOPASSWD: $SITES/$SITE_USER/lib/sealbatch-node node decrypt-and-execute, $SITES/$SITE_USER/lib/sealbatch-node node decrypt-and-execute *
EOF
  chmod 0440 "$rule.new"
  visudo -cq -f "$rule.new" || die "sudoers rule does not parse"
  mv -f "$rule.new" "$rule"
}

install_node_side() {
  # The key and the nonces are root's; the config is read by job users too (node fetch-keys).
  install -d -m 0700 "$SITE/node" "$SITE/node/state"
  install -d -m 0755 "$SITE/node/signers" "$SITE/etc"
  make_key node node "$SITE/node"
  chmod 0600 "$SITE/node/node.sec.asc"
  put "$SITE/client/node.pub.asc" <"$SITE/node/node.pub.asc"
  make_key user "$SITE_USER" "$SITE/client"
  put "$SITE/node/signers/$SITE_USER.asc" <"$SITE/client/$SITE_USER.pub.asc"

  install_sealbatch
  install_wrapper
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
  } | put "$NODE_CONFIG"
}

# The site's Vault: sealbatch's development server (a stand-in for HashiCorp Vault), on loopback.
# Its root token goes to a root-only file that the profile names; it is never in argv.
start_vault() {
  install -d -m 0700 "$SITE/vault"
  local port
  port=$(pick_port "$SITE/vault/port" 28200 "$SITE/run/vault.pid")
  if alive "$SITE/run/vault.pid"; then return; fi
  rm -f "$SITE/vault/out" "$SITE/client/vault-token"
  # Detached from this script entirely (its own session, no inherited descriptors): `up` returns
  # while the server runs on.
  install -m 0600 /dev/null "$SITE/vault/out"
  setsid -f "$DENO" run -q --no-prompt -P=sealbatch --config "$ROOT/deno.json" "$ROOT/main.ts" \
    kms dev-server --listen "127.0.0.1:$port" >"$SITE/vault/out" 2>>"$SITE/log/vault.log" </dev/null
  wait_for 20 "the development Vault" grep -q '^Root Token: ' "$SITE/vault/out"
  pgrep -f -n -- "--listen 127.0.0.1:$port" >"$SITE/run/vault.pid" || die "the development Vault did not stay up"
  (umask 077 && sed -n 's/^Root Token: //p' "$SITE/vault/out" >"$SITE/client/vault-token")
  rm -f "$SITE/vault/out"
}

# Multi-node mode: the Vault at 127.0.0.1:PORT of the client is at 127.0.0.1:PORT on every node
# too, through a forwarder in the node's namespace into the root namespace, which gets a name
# for that (USER-root: a name only; nothing in the root namespace changes).
forward_vault() {
  multi || return 0
  local port i=0 name
  port=$(cat "$SITE/vault/port")
  [ -e "/run/netns/$SITE_USER-root" ] || ip netns attach "$SITE_USER-root" $$
  for name in $NODE_LIST; do
    start_forward "vault-$name" "$SITE_USER-n$i" "$port" "ip netns exec $SITE_USER-root socat STDIO TCP\:127.0.0.1\:$port"
    i=$((i + 1))
  done
}

# The admin's self-test of the node (docs/admin.md), with the installed copy; in multi-node mode on
# every node, inside its namespaces.
check_nodes() {
  local name pre=()
  for name in $NODE_LIST; do
    if multi; then pre=(nsenter -t "$(cat "$(slurmd_pidfile "$name")")" -n -m -u); fi
    "${pre[@]}" "$LIB/sealbatch-node" node check --user "$SITE_USER" >"$SITE/log/node-check.log" 2>&1 ||
      die "node $name fails its own check: $(grep -A1 '^FAIL' "$SITE/log/node-check.log" | tr '\n' ' ')"
  done
}

write_profile() {
  local home
  home=$(getent passwd "$SITE_USER" | cut -d: -f6)
  put "$SITE/client/site.yaml" <<EOF
# Site profile of the local sealbatch test site (scripts/test-site.sh)
name: testsite
sign_key: $SITE/client/$SITE_USER.sec.asc
ssh:
  login: { host: 127.0.0.1, port: $(cat "$SITE/sshd/port") }
  user: $SITE_USER
  identity: $SITE/client/id_ed25519
  known_hosts: $SITE/client/known_hosts
remote:
  base_dir: $home/sealbatch
vault:
  addr: http://127.0.0.1:$(cat "$SITE/vault/port")
  token_source: file:$SITE/client/vault-token
node:
  public_key: $SITE/client/node.pub.asc
  command: [$LIB/sealbatch]
  work_dir_size: $WORK_DIR_SIZE
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
SITE_GROUP=$SITE_GROUP
SITE_IDENTITY=$SITE/client/id_ed25519
SITE_KNOWN_HOSTS=$SITE/client/known_hosts
SITE_KNOWN_HOSTS_LINE=$(cat "$SITE/client/known_hosts")
SITE_HOST_KEY_PUB=$SITE/sshd/ssh_host_ed25519_key.pub
SITE_REMOTE_DIR=$home/sealbatch
SITE_PROFILE=$SITE/client/site.yaml
SITE_NODE_PUBKEY=$SITE/client/node.pub.asc
SITE_USER_SECKEY=$SITE/client/$SITE_USER.sec.asc
SITE_SSHD_PID=$(cat "$SITE/run/sshd.pid" 2>/dev/null || true)
SITE_NODE=${NODE_LIST%% *}
SITE_NODES=$NODES
SITE_NODE_LIST=$NODE_LIST
SITE_NODE_PIDS=$(for n in $NODE_LIST; do printf '%s ' "$(cat "$(slurmd_pidfile "$n")" 2>/dev/null)"; done)
SITE_SLURM_CONF=$SLURM_CONF
SITE_NODE_CONFIG=$NODE_CONFIG
SITE_WORK_DIR=$WORK_DIR
SITE_SEALBATCH=$LIB/sealbatch
SITE_VAULT_ADDR=http://127.0.0.1:$(cat "$SITE/vault/port" 2>/dev/null || true)
SITE_VAULT_TOKEN_FILE=$SITE/client/vault-token
SITE_LOG_DIR=$SITE/log
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

# Stop one site (this one, or one whose checkout is gone): daemons, mount, sudo rule.
stop_site() { # site dir
  local dir=$1 user
  user=$(basename "$dir")
  local f ns
  for f in "$dir"/run/slurmd.pid "$dir"/run/slurmd-*.pid; do stop_pidfile "$(basename "$f" .pid)" "$f"; done
  stop_pidfile slurmctld "$dir/run/slurmctld.pid"
  for f in "$dir"/run/fwd-*.pid; do stop_pidfile "$(basename "$f" .pid)" "$f"; done
  stop_pidfile vault "$dir/run/vault.pid"
  stop_pidfile munged "$dir/munge-run/munged.pid"
  stop_pidfile sshd "$dir/run/sshd.pid"
  if mountpoint -q "/run/sealbatch-test-site/$user"; then
    umount "/run/sealbatch-test-site/$user" && say "unmounted /run/sealbatch-test-site/$user"
  fi
  rm -f "/etc/sudoers.d/sealbatch-test-$user"
  # Multi-node mode: the namespaces (their links and addresses go with them).
  for ns in "/run/netns/$user"-*; do
    if [ -e "$ns" ]; then ip netns del "${ns##*/}" && say "removed network namespace ${ns##*/}"; fi
  done
}

# Sites whose checkout was deleted would keep their daemons forever: stop them and free their state.
reap_orphans() {
  local dir owner
  for dir in "$SITES"/sbt*; do
    [ -d "$dir" ] && [ -s "$dir/owner" ] || continue
    owner=$(cat "$dir/owner")
    [ -f "$owner/scripts/test-site.sh" ] && continue
    say "stopping the site of the deleted checkout $owner"
    stop_site "$dir"
    userdel -r "$(basename "$dir")" 2>/dev/null || true
    groupdel "sbs${dir##*/sbt}" 2>/dev/null || true
    rm -rf -- "$(readlink -f "$dir")" "$dir"
  done
}

case "${1:-}" in
up)
  [ "$(id -u)" = 0 ] || die "must run as root (it starts sshd, munge and Slurm)"
  # Daemons must not inherit the caller's descriptors: a lock held by a caller (flock) would be
  # held by munged forever. 255 is the script bash is reading.
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then eval "exec $fd>&-"; fi
  done
  install -d -m 0755 -o root -g root "$SITES"
  # One `up` at a time on this machine: ports and the shared wrapper are picked consistently. The
  # lock is held by flock itself (-o): no daemon started below can inherit it.
  if [ "${SEALBATCH_SITE_LOCKED:-}" != "$SITES" ]; then
    exec env SEALBATCH_SITE_LOCKED="$SITES" flock -o "$SITES/.up.lock" bash "$0" up
  fi
  reap_orphans
  make_site_dir
  install_packages
  setup_user
  prune_jobs
  setup_net
  start_sshd
  start_munge
  start_slurm
  mount_work_dir
  install_node_side
  start_vault
  forward_vault
  write_profile
  check_nodes
  print_env
  ;;
down)
  [ -d "$SITE" ] || exit 0
  stop_site "$SITE"
  ;;
env) print_env ;;
status)
  daemons="sshd:run/sshd.pid munged:munge-run/munged.pid slurmctld:run/slurmctld.pid"
  for n in $NODE_LIST; do
    if multi; then daemons+=" slurmd-$n:run/slurmd-$n.pid fwd-vault-$n:run/fwd-vault-$n.pid"; else daemons+=" slurmd:run/slurmd.pid"; fi
  done
  if multi; then daemons+=" fwd-sshd:run/fwd-sshd.pid"; fi
  for d in $daemons vault:run/vault.pid; do
    if alive "$SITE/${d#*:}"; then echo "${d%%:*} running ($(cat "$SITE/${d#*:}"))"; else echo "${d%%:*} stopped"; fi
  done
  ;;
*)
  echo "usage: $0 up|down|env|status" >&2
  exit 2
  ;;
esac
