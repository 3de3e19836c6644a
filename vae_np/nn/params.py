"""Flat parameter storage: a model's parameters are views of one contiguous vector.

A model's parameters (and, separately, its gradients) live in one 1-D array each; the arrays in
``model.params`` and ``model.grads`` are reshaped views of consecutive slices of it. Code that
reads or writes them in place sees ordinary arrays, while whole-model operations (an optimizer's
update, a check that every gradient is finite) can treat the model as one vector, which is how
the maths writes it: one parameter vector theta.

A deep copy or an unpickled model has separate arrays again, and is packed anew
(``Model.__setstate__``).
"""
from __future__ import annotations

import numpy as np


def empty_staggered(size, dtype, slot):
    """A 1-D array whose start sits ``(slot * 1024) % 4096`` bytes into a 4 KiB page.

    Why: large arrays from the allocator all start at the same offset within a page, so element
    ``i`` of the parameters, the gradients and the optimizer's state would share the low 12
    address bits. A CPU checks loads against earlier stores by those bits first ("4K aliasing"),
    so a loop that reads and writes all of them at once stalls on false matches. Starting each
    buffer at its own offset avoids that; the numbers are the same either way.

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
    layers : list of vae_np.nn.layers.Layer
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
