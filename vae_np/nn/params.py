"""Flat parameter storage: a model's parameters are views of one contiguous vector.

A model's parameters (and, separately, its gradients) live in one 1-D array each; the arrays in
``model.params`` and ``model.grads`` are reshaped views of consecutive slices of it. Code that
reads or writes them in place sees ordinary arrays, while whole-model operations (an optimizer's
update, a check that every gradient is finite) can treat the model as one vector, which is how
the maths writes it: one parameter vector theta.

A deep copy or an unpickled model has separate arrays again, and is packed anew
(``Model.__setstate__``).

``params`` and ``grads`` (of a layer, an MLP or a model) are :class:`ParamDict` mappings: read
like dicts, but an assignment ``model.params[name] = new_array`` raises. It could not work: the
layers compute with their own arrays, so the new one would be ignored by the forward pass (while
``save`` wrote it). Values are written in place: ``model.params[name][...] = new_values``.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_int

__all__ = ["ParamDict", "empty_staggered", "pack"]


class ParamDict(dict):
    """A read-only dict of parameter (or gradient) names to arrays, in a stable order.

    Reading is a dict's (``d[name]``, ``d.items()``, ``dict(d)``, ``{**d}``; as fast, since the
    training step reads it every time). The arrays themselves are updated in place
    (``d[name][...] = values``, ``d[name] += step``); replacing an array (``d[name] = other``),
    deleting, adding or clearing names raises ``TypeError``.

    Parameters
    ----------
    arrays : dict of str -> ndarray, optional
    what : str
        How the mapping is named in error messages (e.g. ``"model.params"``).
    """

    def __init__(self, arrays=None, what="params"):
        super().__init__(arrays or {})
        self._what = what
        self._version = 0                # bumped by every _bind: lets checks be cached

    def __missing__(self, name):
        raise KeyError(f"{name!r} is not a name in {self._what}; the names are {list(self)}")

    def __contains__(self, name):
        try:
            return super().__contains__(name)
        except TypeError:                # an unhashable key is simply not a name
            return False

    def __setitem__(self, name, value):
        if value is self.get(name, self):
            return                       # ``d[name] += x`` updated the array in place
        raise TypeError(
            f"{self._what}[{name!r}] = ... would replace an array that the layers do not read "
            f"(the forward pass would ignore it while save wrote it); write the values in place "
            f"instead: {self._what}[{name!r}][...] = new_values")

    def _read_only(self, *args, **kwargs):
        raise TypeError(f"{self._what} is read-only: names cannot be added, removed or "
                        f"re-bound; write values in place ({self._what}[name][...] = values)")

    __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _read_only

    def _bind(self, name, array):
        """Set or re-bind ``name`` (for the code that builds layers and models only)."""
        dict.__setitem__(self, name, array)
        self._version += 1

    def __reduce__(self):                # copies and pickles rebuild it without __setitem__
        return (type(self), (dict(self), self._what))

    def __repr__(self):
        inner = ", ".join(f"{k!r}: array(shape={v.shape}, dtype={v.dtype})"
                          for k, v in self.items())
        return f"ParamDict({{{inner}}})"


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
    size = check_int(size, "size", "empty_staggered", low=0)
    slot = check_int(slot, "slot", "empty_staggered", low=0)
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
                if isinstance(arrays, ParamDict):
                    arrays._bind(k, view)
                else:
                    arrays[k] = view
            start = stop
    return flat_params, flat_grads
