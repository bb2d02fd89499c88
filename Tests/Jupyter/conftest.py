"""Shared set-up for the Jupyter kernel tests: Scripts/test_jupyter.sh sets ALVLM (the binary) and JUPYTER_PATH
(where `alvlm kernel install --prefix` put the kernelspec); every kernel gets its own cache folder."""
import os
import tempfile

ALVLM = os.environ.get("ALVLM", "alvlm")
CACHE = tempfile.mkdtemp(prefix="alvlm-jupyter-cache-")
os.environ["ALVLM_CACHE"] = CACHE
