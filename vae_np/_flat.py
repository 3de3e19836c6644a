"""Flat parameter storage: every parameter array a view of one contiguous buffer.

A model's parameters (and, separately, its gradients) live in one 1-D array each; the arrays in
``model.params`` and ``model.grads`` are reshaped views of consecutive slices of it. Nothing
changes for code that reads or writes them in place, but whole-model passes become one call over
one array: the optimizer's update (one kernel call instead of one per parameter, ~25 us of Python
per step saved on the 8-array VAE) and the finite-gradient check of ``fit``.

A deep copy or an unpickled model is packed again (``_Model.__setstate__``). Where the arrays do
not fill one buffer back to back (a dict with a gap or in another order, arrays of one's own),
:func:`tiled_base` returns None and callers fall back to one call per array; a contiguous run of
them (say the decoder's parameters alone) is tiled, by its own part of the buffer.
"""
from __future__ import annotations

import numpy as np


def empty_staggered(size, dtype, slot):
    """A 1-D array whose start sits ``(slot * 1024) % 4096`` bytes into a 4 KiB page.

    Large arrays from the allocator all start at the same offset within a page, so element ``i``
    of the parameters, gradients and optimizer state would share the low 12 address bits. The
    CPU's store-to-load check compares only those bits ("4K aliasing") and stalls the update
    loop on false matches. On this machine the Adam kernel alone, over four equally-aligned
    2.6 MB buffers, took 221-239 us; with the four buffers staggered by 1 KiB, 193 us.

    Parameters
    ----------
    size : int
    dtype : numpy dtype
    slot : int
        0 for the parameters, 1 for the gradients, 2, 3, ... for the optimizer's state arrays.

    Returns
    -------
    ndarray of shape (size,)
    """
    dtype = np.dtype(dtype)
    raw = np.empty(size * dtype.itemsize + 8192, np.uint8)
    start = (slot * 1024 - raw.__array_interface__["data"][0]) % 4096
    return raw[start:start + size * dtype.itemsize].view(dtype)


def pack(layers, dtype):
    """Move the ``params`` and ``grads`` of ``layers`` into two flat buffers, in order.

    Parameters
    ----------
    layers : list of vae_np.layers.Layer
        Their ``params[k]`` / ``grads[k]`` are re-bound to views (values kept). Dicts that refer
        to the old arrays (e.g. an MLP's) must be rebuilt by the caller.
    dtype : numpy dtype

    Returns
    -------
    flat_params, flat_grads : ndarray of shape (total,)
    """
    total = sum(p.size for layer in layers for p in layer.params.values())
    flat_params, flat_grads = empty_staggered(total, dtype, 0), empty_staggered(total, dtype, 1)
    start = 0
    for layer in layers:
        for k, p in layer.params.items():
            stop = start + p.size
            for arrays, flat in ((layer.params, flat_params), (layer.grads, flat_grads)):
                view = flat[start:stop].reshape(p.shape)
                view[...] = arrays[k]
                arrays[k] = view
            start = stop
    return flat_params, flat_grads


def _address(a):
    return a.__array_interface__["data"][0]


def tiled_base(arrays):
    """A 1-D view of the memory that ``arrays`` fill back to back, or None if they do not.

    Parameters
    ----------
    arrays : sequence of ndarray
        Tiled when all are C-contiguous views of the same buffer, of one dtype, each starting
        where the previous one ends (as :func:`pack` lays them out).

    Returns
    -------
    ndarray of shape (sum of sizes,) or None
        Writing to it writes to the arrays.
    """
    if not arrays:
        return None
    owner, dtype = arrays[0].base, arrays[0].dtype
    if not isinstance(owner, np.ndarray) or owner.ndim != 1 or not owner.flags.c_contiguous:
        return None
    first = address = _address(arrays[0])
    for a in arrays:
        if (a.base is not owner or a.dtype != dtype or not a.flags.c_contiguous
                or _address(a) != address):
            return None
        address += a.nbytes
    offset = first - _address(owner)
    return owner.view(np.uint8)[offset:offset + address - first].view(dtype)
