"""pytest set-up for the notebooks: nbval compares every stored output, and figures on request.

The book is built from the outputs committed in the notebooks (``execute_notebooks: "off"`` in
``_config.yml``), so these checks are what guarantees that the book shows what the current code
produces. nbval itself compares text outputs only. With ``VAE_NP_COMPARE_FIGURES=1`` every PNG
figure of a compared cell is also decoded and compared pixel for pixel with the committed one
(the PNG's metadata, such as the matplotlib version, is ignored). Cells tagged
``nbval-ignore-output`` (timings) are not compared, as nbval does; their contents are checked by
asserts in the cells.

Why figures are compared on request only: a figure drawn from a trained model shows that model's
float32 rounding, which depends on the CPU's BLAS kernels and thread count and on the path (the
fast step and the NumPy reference round differently, and training amplifies the difference to
visible changes in, e.g., a scatter of latent codes). Text outputs are printed rounded, so they
match everywhere; figures match exactly only on a machine like the one that executed the
notebooks. CI, which runs on such a machine, compares them (``.ci/run``); on another computer
``pytest --nbval`` checks the text alone.

Also lets ``pytest --nbval book/NN_topic.ipynb`` use the suite's nbval set-up (tests/conftest.py).
"""
import base64
import importlib.util
import io
import os
from pathlib import Path

import numpy as np
from nbval.plugin import IPyNbCell
from PIL import Image

_spec = importlib.util.spec_from_file_location(
    "_vae_np_tests_conftest", Path(__file__).resolve().parents[1] / "tests" / "conftest.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
pytest_configure = _mod.pytest_configure


def _figures(outputs):
    return [out["data"]["image/png"] for out in outputs
            if isinstance(out.get("data"), dict) and "image/png" in out["data"]]


def _pixels(png_base64):
    data = png_base64 if isinstance(png_base64, str) else "".join(png_base64)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


_compare_text = IPyNbCell.compare_outputs


def _compare_text_and_figures(self, test, ref, skip_compare=None):
    if not _compare_text(self, test, ref, skip_compare):
        return False
    ref_figures, test_figures = _figures(ref), _figures(test)
    fix = ("re-execute the notebook (python tests/execute_notebooks.py NOTEBOOK) and commit "
           "its outputs")
    if len(ref_figures) != len(test_figures):
        self.comparison_traceback.append(
            f"the cell drew {len(test_figures)} figure(s), the notebook stores "
            f"{len(ref_figures)}: {fix}")
        return False
    for i, (r, t) in enumerate(zip(ref_figures, test_figures), start=1):
        if r == t:
            continue
        a, b = _pixels(r), _pixels(t)
        if a.shape != b.shape:
            self.comparison_traceback.append(
                f"figure {i} of the cell is {b.shape[1]}x{b.shape[0]} pixels, the stored one "
                f"{a.shape[1]}x{a.shape[0]}: {fix}")
            return False
        differ = int(np.any(a != b, axis=-1).sum())
        if differ:
            self.comparison_traceback.append(
                f"figure {i} of the cell differs from the stored one in {differ} of "
                f"{a.shape[0] * a.shape[1]} pixels: {fix}")
            return False
    return True


if os.environ.get("VAE_NP_COMPARE_FIGURES") == "1":
    IPyNbCell.compare_outputs = _compare_text_and_figures
