#!/usr/bin/env bash
# Installs the Debian packages alvlm builds and runs with, when they are missing (idempotent).
# Sourced by the Quick start scripts and by CI; needs root (or sudo) only when something is missing. Arguments name
# further packages (Scripts/test_jupyter.sh asks for python3-venv where Python has no venv module).
set -euo pipefail
packages=(pkg-config libopenblas-dev libjpeg-dev libpng-dev libedit-dev gnuplot-nox libgnuplot-iostream-dev libzmq3-dev tmux "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "alvlm: installing Debian packages: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
