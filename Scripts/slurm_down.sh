#!/usr/bin/env bash
# Stops the cluster Scripts/slurm_up.sh started: cancels its jobs, then stops exactly the processes it recorded
# (slurmd and slurmctld first, munged last and only if it started it), and removes its folder.
set -uo pipefail
D=${SLURM_LOCAL_DIR:-/tmp/alvlm-slurm}
[ -f "$D/run/started" ] || exit 0
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
scancel --user=root 2>/dev/null || true
for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
stop() {
    local want=$1
    while read -r name pid; do
        [ "$name" = "$want" ] || continue
        alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && kill "$pid" 2>/dev/null
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -9 "$pid" 2>/dev/null
    done < "$D/run/started"
}
stop slurmd
stop slurmctld
stop munged
rm -rf "$D"
echo "slurm_down: stopped"
