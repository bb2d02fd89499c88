#!/usr/bin/env bash
# Brings up a real Slurm cluster on this machine for the sweep tests: munge, slurmctld and N slurmd "nodes"
# (node1..nodeN, all on 127.0.0.1), from Debian's packages, without systemd. Needs root. Idempotent: a cluster
# this script started and that is still up is left as it is.
#   Scripts/slurm_up.sh [--nodes N] [--cpus C]
# Everything lives under $SLURM_LOCAL_DIR (default /tmp/alvlm-slurm); Scripts/slurm_down.sh stops exactly the
# processes recorded in $SLURM_LOCAL_DIR/run/started.
set -euo pipefail
nodes=3
cpus=1
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        *) echo "usage: $0 [--nodes N] [--cpus C]" >&2; exit 2 ;;
    esac
done
D=${SLURM_LOCAL_DIR:-/tmp/alvlm-slurm}
[ "$(id -u)" -eq 0 ] || { echo "slurm_up: needs root (slurmd always runs as root)" >&2; exit 1; }

# A process alive, not a zombie (PID 1 may not reap exited daemons at once).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

if [ -f "$D/run/started" ] && sinfo -h -o '%T' 2>/dev/null | grep -q idle; then
    all=1
    while read -r name pid; do alive "$pid" || all=0; done < "$D/run/started"
    [ $all -eq 1 ] && { echo "slurm_up: already up ($(sinfo -h -N | wc -l) nodes)"; exit 0; }
fi

missing=()
for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "slurm_up: installing ${missing[*]}"
    added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; added_policy=1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
    [ $added_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$D/state" "$D/spool" "$D/run" "$D/log"
: > "$D/run/started"
host=$(hostname -s)

# munge, as its own user, unless one is running already.
if ! munge -n 2>/dev/null | unmunge > /dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do [ -f /run/munge/munged.pid ] && break; sleep 0.1; done
    echo "munged $(cat /run/munge/munged.pid)" >> "$D/run/started"
fi

# Memory per node: a share of what slurmd detects (a configured value above it drains the node).
detected=$(slurmd -C 2>/dev/null | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' | head -n 1)
memory=$(( ${detected:-8000} * 90 / 100 / nodes ))
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=alvlm
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmdParameters=config_overrides
NodeName=node[1-$nodes] NodeHostname=$host NodeAddr=127.0.0.1 Port=[6821-$((6820 + nodes))] CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

/usr/sbin/slurmctld
for _ in $(seq 50); do [ -f "$D/run/slurmctld.pid" ] && break; sleep 0.1; done
echo "slurmctld $(cat "$D/run/slurmctld.pid")" >> "$D/run/started"
for i in $(seq "$nodes"); do
    /usr/sbin/slurmd -N "node$i"
    for _ in $(seq 50); do [ -f "$D/run/slurmd-node$i.pid" ] && break; sleep 0.1; done
    echo "slurmd $(cat "$D/run/slurmd-node$i.pid")" >> "$D/run/started"
done
for _ in $(seq 100); do
    [ "$(sinfo -h -N -t idle 2>/dev/null | wc -l)" -ge "$nodes" ] && { echo "slurm_up: $nodes nodes idle"; exit 0; }
    sleep 0.2
done
echo "slurm_up: the nodes did not come up; logs in $D/log" >&2
sinfo -N >&2 || true
exit 1
