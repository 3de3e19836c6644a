"""Execute notebooks in place and save their outputs (what `pytest --nbval` then checks).

Usage:  python tests/execute_notebooks.py [--jobs N] book/00_vae_np_tour.ipynb [more.ipynb ...]

Runs each notebook top to bottom in its own folder with the `python3` kernel of the current
environment, with nbclient's `record_timing=False` so no timestamps end up in the file, and
prints how long each one took. A cell that raises (without the `raises-exception` tag) stops
that notebook and its file is left unchanged; the new file replaces the old one in one rename,
so an interrupted run never leaves a half-written notebook. `--jobs N` runs N notebooks at once
(each notebook limits itself to one BLAS thread, so two jobs suit two cores).
"""
import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, 0o644)                  # mkstemp makes it private; a notebook is not
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    for path in args.notebooks:
        if not path.is_file():
            parser.error(f"no such notebook: {path}")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for path, seconds in zip(args.notebooks, pool.map(execute, args.notebooks)):
            print(f"{path}: executed in {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
