"""The shipped notebooks 01-04, converted with `alvlm convert --to ipynb` at the reduced sizes the Swift suite
uses, run through the kernel by nbclient without error outputs, and their text equals `alvlm run`'s on the same
parameters (values shown as Out[n] count as text; figures arrive as PNG displays)."""
import json
import os
import shutil
import subprocess
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ALVLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = ["train=400", "test_per_class=5", "epochs=3"]
RUNS = [
    ("01-quickstart", SMALL + ["seeds=1", "rounds=2"]),
    ("02-budget-what-if", SMALL + ["seeds=1", "rounds=2", "budgets=[1%, 5%]"]),
    ("03-calibration", SMALL + ["seeds=1", "rounds=2"]),
    ("04-human-in-the-loop", SMALL + ["workdir={dir}/hitl"]),
]


def cell_texts(cells):
    """Per code cell: stdout text, Out[n] values and displayed tables in order (progress on stderr left out), and the
    figure count. A table is a display (Markdown with a text form) in the kernel and printed text in `alvlm run`."""
    texts = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        text, figures = "", 0
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream" and out["name"] == "stdout":
                text += out["text"]
            elif out["output_type"] == "execute_result" or (out["output_type"] == "display_data" and "text/markdown" in out["data"]):
                text += out["data"]["text/plain"] + "\n"
            elif out["output_type"] == "display_data" and "image/png" in out["data"]:
                figures += 1
        texts.append((cell.get("id"), text, figures))
    return texts


@pytest.mark.parametrize("name,parameters", RUNS, ids=[r[0] for r in RUNS])
def test_shipped_notebook_runs_in_the_kernel_as_in_alvlm_run(name, parameters):
    with tempfile.TemporaryDirectory() as tmp:
        params = [p.format(dir=tmp) for p in parameters]
        flags = [x for p in params for x in ("-p", p)]
        source = os.path.join(ROOT, "Notebooks", name + ".alnb")
        env = dict(os.environ, ALVLM_CACHE=os.path.join(tmp, "cache"))
        ipynb = os.path.join(tmp, name + ".ipynb")
        subprocess.run([ALVLM, "convert", source, "--to", "ipynb", "-o", ipynb] + flags, check=True, env=env, cwd=tmp)
        nb = nbformat.read(ipynb, as_version=4)
        assert nb.metadata.kernelspec.name == "alvlm"
        old = os.environ.get("ALVLM_CACHE"), os.getcwd()
        os.environ["ALVLM_CACHE"] = env["ALVLM_CACHE"]
        os.chdir(tmp)
        try:
            NotebookClient(nb, timeout=300, startup_timeout=60, kernel_name="alvlm").execute()
        finally:
            os.environ["ALVLM_CACHE"] = old[0] or ""
            os.chdir(old[1])
        # The reference run afterwards, on the same parameters and from the same state of the disk (the folders
        # the kernel's run created are removed; the feature cache stays, as it does between runs).
        shutil.rmtree(os.path.join(tmp, "hitl"), ignore_errors=True)
        subprocess.run([ALVLM, "run", source, "-o", os.path.join(tmp, "ref.md"), "--ipynb", os.path.join(tmp, "ref.ipynb")] + flags,
                       check=True, env=env, cwd=tmp, stderr=subprocess.DEVNULL)
        for cell in nb.cells:
            if "raises-exception" in cell.metadata.get("tags", []):
                assert [o["output_type"] for o in cell.outputs if o["output_type"] == "error"] == ["error"], cell.source
                continue
            for out in cell.get("outputs", []):
                assert out["output_type"] != "error", (cell.source, out)
        with open(os.path.join(tmp, "ref.ipynb")) as f:
            reference = json.load(f)
        reference_cells = [(c.get("id"), "".join(o["text"] for o in c.get("outputs", []) if o["output_type"] == "stream"),
                            sum(1 for o in c.get("outputs", []) if o["output_type"] == "display_data"))
                           for c in reference["cells"] if c["cell_type"] == "code"]
        assert cell_texts(nb.cells) == reference_cells
