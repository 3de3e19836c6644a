"""The figure check of book/conftest.py: nbval plus a pixel comparison of every stored figure.

A two-cell notebook is executed, then checked with ``pytest --nbval`` and
``VAE_NP_COMPARE_FIGURES=1`` in a copy of the repo's test set-up: it passes as executed, and
fails once its stored figure is swapped for another (which text-only nbval does not notice).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _notebook(ys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import matplotlib.pyplot as plt"),
                nbformat.v4.new_code_cell(f"plt.plot([0, 1], {ys})\nplt.show()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def _nbval(folder, figures=True):
    env = {**os.environ, "VAE_NP_COMPARE_FIGURES": "1" if figures else "0"}
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", "book/figure.ipynb",
                           "--nbval-current-env", "-p", "no:cacheprovider", "-q"],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def test_a_changed_figure_fails_nbval(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "book" / "conftest.py", tmp_path / "book")
    for name in ("conftest.py", "sanitize.cfg"):
        shutil.copy(ROOT / "tests" / name, tmp_path / "tests")
    path = tmp_path / "book" / "figure.ipynb"
    nb = _notebook([0, 1])
    nbformat.write(nb, path)
    ok = _nbval(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "image/png" in nb.cells[1].outputs[0]["data"]
    other = _notebook([1, 0])                 # same text output, same axes, another line
    nb.cells[1].outputs = other.cells[1].outputs
    nbformat.write(nb, path)
    changed = _nbval(tmp_path)
    assert changed.returncode != 0
    assert "figure 1 of the cell differs from the stored one" in changed.stdout
    assert _nbval(tmp_path, figures=False).returncode == 0     # text alone: the same
