"""Execute notebooks in place and save their outputs (what `pytest --nbval` then checks).

Usage:  python tests/execute_notebooks.py book/00_vae_np_tour.ipynb [more.ipynb ...]

Runs each notebook top to bottom in its own folder with the `python3` kernel of the current
environment, with nbclient's `record_timing=False` so no timestamps end up in the file, and
prints how long each one took. A cell that raises (without the `raises-exception` tag) stops
the run and the file is left unchanged.
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        print(f"{arg}: executed in {execute(Path(arg)):.1f} s", flush=True)
