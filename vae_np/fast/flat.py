"""Whole-model passes over the flat buffers that a model's arrays tile (see ``vae_np.nn.params``)."""
from __future__ import annotations

import numpy as np

from ._jit import njit

__all__ = ["tiled_base", "all_finite"]


def _address(a):
    return a.__array_interface__["data"][0]


def tiled_base(arrays):
    """A 1-D view of the memory that ``arrays`` fill back to back, or None if they do not.

    Parameters
    ----------
    arrays : sequence of ndarray
        Tiled when all are C-contiguous views of the same buffer, of one dtype, each starting
        where the previous one ends (as :func:`vae_np.nn.params.pack` lays them out).

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


@njit
def _any_nonfinite_nb(bits, mask):
    # An IEEE float is inf or NaN exactly when all its exponent bits are set. Integer work,
    # so the loop vectorises (a float reduction would not, without reassociation).
    found = 0
    for i in range(bits.size):
        found |= (bits[i] & mask) == mask
    return found


_EXP_MASKS = {np.dtype(np.float32): (np.int32, 0x7F800000),
              np.dtype(np.float64): (np.int64, 0x7FF0000000000000)}


def all_finite(a):
    """``np.isfinite(a).all()`` in one pass, without a temporary boolean array.

    Parameters
    ----------
    a : ndarray of any shape, float32 or float64

    Returns
    -------
    bool
    """
    if a.dtype not in _EXP_MASKS or not a.flags.c_contiguous:
        return bool(np.isfinite(a).all())
    itype, mask = _EXP_MASKS[a.dtype]
    return not _any_nonfinite_nb(a.reshape(-1).view(itype), itype(mask))
