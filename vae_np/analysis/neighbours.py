"""Nearest training neighbours: does a generative model copy its training images?

A model that memorised its training set would produce samples that sit next to training images,
much closer than a new image of the same kind does. :func:`nearest_neighbours` finds, for each
query image, the closest reference image in pixel space, in batches so that a few thousand
queries against a few thousand references fit in memory.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int
from .metrics import nearest_template

__all__ = ["nearest_neighbours"]


def nearest_neighbours(queries, references, batch_size=500):
    """For each query, the nearest reference and the root-mean-square distance to it.

    Parameters
    ----------
    queries : ndarray of shape (n, d)
        E.g. prior samples or reconstructions (pixel probabilities).
    references : ndarray of shape (m, d)
        E.g. the training images.
    batch_size : int
        Queries compared at once (memory: ``batch_size * m`` floats).

    Returns
    -------
    index : ndarray of shape (n,) of int
        Row of the nearest reference.
    rms : ndarray of shape (n,)
        ``sqrt(mean_j (query_j - reference_j)^2)``: the Euclidean distance divided by
        ``sqrt(d)``, so it reads as a typical per-pixel difference.

    Notes
    -----
    Each batch is :func:`vae_np.analysis.metrics.nearest_template` (the squared distance expanded
    as ``|q|^2 - 2 q.r + |r|^2``, the winner's distance recomputed directly).
    """
    queries = check_array(queries, "queries", dtype=np.float64)
    references = check_array(references, "references", n_features=queries.shape[1],
                             dtype=np.float64)
    batch_size = check_positive_int(batch_size, "batch_size", "nearest_neighbours")
    index = np.empty(len(queries), dtype=np.intp)
    rms = np.empty(len(queries))
    for s in range(0, len(queries), batch_size):
        index[s:s + batch_size], rms[s:s + batch_size] = nearest_template(
            queries[s:s + batch_size], references)
    return index, rms
