"""Whole-model passes over the flat buffers that a model's arrays tile (``vae_np.nn.params``).

* :func:`tiled_base` finds the flat buffer behind a model's parameter (or gradient) arrays;
* :func:`all_finite` checks every gradient in one pass;
* :func:`optimizer_step` is one SGD, Adagrad or Adam update for the whole model: one kernel call
  over the flat buffers instead of one NumPy expression (and several temporaries) per array.
  The update rules are the classes' own in :mod:`vae_np.nn.optim`; these kernels are tested
  against them.

The optimizer's ``state`` dict stays the source of truth: on the first flat step the state
arrays are moved into flat buffers of their own and ``state[name]`` is re-bound to views of
them. Whenever ``state`` no longer holds exactly those views (the optimizer was copied or
unpickled, or an entry was replaced) the buffers are rebuilt from ``state``'s values.
"""
from __future__ import annotations

import operator
import weakref

import numpy as np
from numba import prange

from .._validation import check_instance, check_positive_int, invalid
from ..nn.optim import SGD, Adagrad, Adam, Optimizer
from ..nn.params import empty_staggered
from ._jit import njit, wide_vectors

__all__ = ["tiled_base", "all_finite", "optimizer_step", "supports_optimizer"]


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
    if not isinstance(arrays, (list, tuple)) or not all(isinstance(a, np.ndarray) for a in arrays):
        raise invalid("arrays", "tiled_base", "a list of NumPy arrays", arrays)
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
    wide_vectors()
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
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in "fcbiu":
        raise invalid("a", "all_finite", "an array of numbers", a)
    if a.dtype not in _EXP_MASKS or not a.flags.c_contiguous:
        return bool(np.isfinite(a).all())
    itype, mask = _EXP_MASKS[a.dtype]
    return not _any_nonfinite_nb(a.reshape(-1).view(itype), itype(mask))


# ---------------------------------------------------------------- the optimizer update
# ``tiny`` is the smallest normal number of the dtype: a momentum or moment estimate below it
# is stored as 0, as vae_np.nn.optim.flush_subnormals does in the reference (arithmetic on
# subnormal numbers is slow on many CPUs). ``abs(x) < tiny`` is False for NaN: NaN stays NaN.
@njit
def _sgd_nb(p, g, vel, lr, momentum, tiny):
    wide_vectors()
    zero = p.dtype.type(0)
    for i in range(p.size):
        v = momentum * vel[i] - lr * g[i]
        v = zero if abs(v) < tiny else v
        vel[i] = v
        p[i] += v


@njit
def _adagrad_nb(p, g, acc, lr, eps):
    wide_vectors()
    for i in range(p.size):
        gi = g[i]
        a = acc[i] + gi * gi
        acc[i] = a
        p[i] -= lr * gi / (np.sqrt(a) + eps)


@njit
def _adam_nb(p, g, m, v, lr_t, b1, b2, one_minus_b1, one_minus_b2, eps_t, tiny):
    wide_vectors()
    zero = p.dtype.type(0)
    for i in range(p.size):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * gi * gi
        mi = zero if abs(mi) < tiny else mi
        vi = zero if abs(vi) < tiny else vi
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (np.sqrt(vi) + eps_t)


@njit(parallel=True)
def _adam_parts_nb(p, g, m, v, lr_t, b1, b2, one_minus_b1, one_minus_b2, eps_t, tiny, parts):
    wide_vectors()
    # pieces of a multiple of 16 elements, so each starts on a 64-byte boundary of the buffer
    step = ((p.size + parts - 1) // parts + 15) // 16 * 16
    for c in prange(parts):
        wide_vectors()           # the body runs as a function of its own
        lo, hi = c * step, min(p.size, (c + 1) * step)
        _adam_nb(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], lr_t, b1, b2, one_minus_b1,
                 one_minus_b2, eps_t, tiny)


def _sgd(opt, p, g, vel):
    t = p.dtype.type
    _sgd_nb(p, g, vel, t(opt.lr), t(opt.momentum), t(np.finfo(t).tiny))


def _adagrad(opt, p, g, acc):
    t = p.dtype.type
    _adagrad_nb(p, g, acc, t(opt.lr), t(opt.eps))


def _adam(opt, p, g, m, v, parts=1):
    t = p.dtype.type
    lr_t, eps_t = opt.corrected_step()
    b1, b2 = t(opt.b1), t(opt.b2)
    args = (p, g, m, v, t(lr_t), b1, b2, t(1) - b1, t(1) - b2, t(eps_t), t(np.finfo(t).tiny))
    if parts > 1:
        _adam_parts_nb(*args, parts)
    else:
        _adam_nb(*args)


# Exact classes only: a subclass may have changed the rule in its own ``_update``.
_UPDATES = {SGD: _sgd, Adagrad: _adagrad, Adam: _adam}

# Per optimizer: the last tiling seen and the flat state buffers. Keyed weakly by the optimizer,
# so a copy starts with no cache and nothing is kept alive after the optimizer is gone.
_caches = weakref.WeakKeyDictionary()


def supports_optimizer(optimizer):
    """Whether :func:`optimizer_step` has a one-call kernel for this optimizer's class."""
    return type(optimizer) in _UPDATES


def _tiles(cache, names, ps, gs):
    """The flat (params, grads) buffers that ``ps`` and ``gs`` tile, or None."""
    last = cache.get("tiling")
    if not (last and last[4] == names and all(map(operator.is_, last[0], ps))
            and all(map(operator.is_, last[1], gs))):
        last = cache["tiling"] = (ps, gs, tiled_base(ps), tiled_base(gs), names)
    flat_p, flat_g = last[2], last[3]
    if flat_p is None or flat_g is None or flat_p.dtype != flat_g.dtype:
        return None
    return flat_p, flat_g


def _flat_slots(opt, cache, names, ps, flat):
    """Flat state buffers for ``names``, their views bound into ``opt.state``."""
    per_names = cache.setdefault("slots", {})       # one entry per set of names (e.g. halves)
    cached = per_names.get(names)
    if (cached is not None and cached[0][0].dtype == flat.dtype
            and all(opt.state.get(name) is views and views[0].shape == p.shape
                    for name, views, p in zip(names, cached[1], ps))):
        return cached[0]
    current = {name: opt.slots(name, p) for name, p in zip(names, ps)}    # checked, or zeros
    bufs = tuple(empty_staggered(flat.size, flat.dtype, 2 + i) for i in range(opt.n_slots))
    all_views, start = [], 0
    for name, p in zip(names, ps):
        views = tuple(b[start:start + p.size].reshape(p.shape) for b in bufs)
        for view, old in zip(views, current[name]):
            view[...] = old
        opt.state[name] = views
        all_views.append(views)
        start += p.size
    per_names[names] = (bufs, tuple(all_views))
    return bufs


def optimizer_step(optimizer, params, grads, parts=1):
    """``optimizer.step(params, grads)``, as one kernel call when the arrays tile flat buffers.

    Parameters
    ----------
    optimizer : vae_np.SGD, vae_np.Adagrad or vae_np.Adam
        Any other optimizer (or arrays that do not tile one buffer) takes its own ``step``.
    params : dict of str -> ndarray
        Parameters, updated in place.
    grads : dict of str -> ndarray
        Gradients with the same keys and shapes.
    parts : int
        Adam only: with ``parts > 1`` the update runs on that many pieces of the buffers at
        once, one per numba thread (an elementwise rule: the same numbers as one piece).
    """
    check_instance(optimizer, Optimizer, "optimizer", "optimizer_step",
                   "a vae_np optimizer instance such as vae_np.Adam(lr=1e-3)")
    parts = check_positive_int(parts, "parts", "optimizer_step")
    update = _UPDATES.get(type(optimizer))
    if update is None:
        optimizer.step(params, grads)
        return
    names = optimizer.check_step(params, grads)
    ps = [params[name] for name in names]
    gs = [grads[name] for name in names]
    cache = _caches.setdefault(optimizer, {})
    flat = _tiles(cache, names, ps, gs)
    if flat is None:
        optimizer.step(params, grads)
        return
    slots = _flat_slots(optimizer, cache, names, ps, flat[0])
    optimizer.t += 1
    if parts > 1 and update is _adam:
        update(optimizer, *flat, *slots, parts=parts)
    else:
        update(optimizer, *flat, *slots)
