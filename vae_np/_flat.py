"""Flat parameter storage: every parameter array a view of one contiguous buffer.

A model's parameters (and, separately, its gradients) live in one 1-D array each; the arrays in
``model.params`` and ``model.grads`` are reshaped views of consecutive slices of it. Nothing
changes for code that reads or writes them in place, but whole-model passes become one call over
one array: the optimizer's update (one kernel call instead of one per parameter, ~25 us of Python
per step saved on the 8-array VAE) and the finite-gradient check of ``fit``.

If the views are ever separated (a deep copy, a dict with a subset of the parameters),
:func:`tiled_base` returns None and callers fall back to one call per array.
"""
from __future__ import annotations

import numpy as np


def pack(layers, dtype):
    """Move the ``params`` and ``grads`` of ``layers`` into two flat buffers, in order.

    Parameters
    ----------
    layers : list of vae_np.layers.Layer
        Their ``params[k]`` / ``grads[k]`` are re-bound to views (values kept; gradients zeroed).
        Dicts that refer to the old arrays (e.g. an MLP's) must be rebuilt by the caller.
    dtype : numpy dtype

    Returns
    -------
    flat_params, flat_grads : ndarray of shape (total,)
    """
    total = sum(p.size for layer in layers for p in layer.params.values())
    flat_params, flat_grads = np.empty(total, dtype), np.zeros(total, dtype)
    start = 0
    for layer in layers:
        for k, p in layer.params.items():
            stop = start + p.size
            view = flat_params[start:stop].reshape(p.shape)
            view[...] = p
            layer.params[k] = view
            layer.grads[k] = flat_grads[start:stop].reshape(p.shape)
            start = stop
    return flat_params, flat_grads


def _address(a):
    return a.__array_interface__["data"][0]


def tiled_base(arrays):
    """The 1-D array that ``arrays`` tile exactly (in order, no gaps, nothing left over), or None.

    Parameters
    ----------
    arrays : sequence of ndarray

    Returns
    -------
    ndarray of shape (total,) or None
    """
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    address = start = _address(base)
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous or _address(a) != address:
            return None
        address += a.nbytes
    return base if address == start + base.nbytes else None
