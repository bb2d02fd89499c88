#!/usr/bin/env bash
# The Jupyter kernel's tests: Jupyter's own kernel test suite (jupyter_kernel_test) and nbclient running the shipped
# notebooks through the kernel, under pytest, in a virtual environment made here (.build/jupyter-venv, pinned
# versions from PyPI). Uses the release build that Scripts/test.sh made; run by Scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/jupyter-venv
packages=(jupyter_client==8.10.0 jupyter_kernel_test==0.7.0 nbclient==0.11.0 nbformat==5.11.1 pytest==9.2.0)
if ! "$venv/bin/python" -c "import jupyter_kernel_test, nbclient, pytest" 2>/dev/null; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian's own python3 needs its venv module as a package.
        bash Scripts/deps.sh python3-venv
        /usr/bin/python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}"
fi
bin="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/alvlm"
prefix="$PWD/.build/jupyter"
"$bin" kernel install --prefix "$prefix" >/dev/null
ALVLM="$bin" JUPYTER_PATH="$prefix/share/jupyter" "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/Jupyter "$@"
