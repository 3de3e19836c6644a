"""Optimizers that update parameter arrays in place.

An optimizer keeps its state per parameter name, so one instance serves one model::

    opt = Adam(lr=1e-3)
    loss, grads = model.loss_and_grads(X, eps)
    opt.step(model.params, grads)

The update rules are written out in each class's Notes; the arithmetic lives in
:mod:`vae_np.kernels` (a numba kernel and a NumPy reference for each).
"""
from __future__ import annotations

import operator

import numpy as np

from . import _flat, kernels
from ._validation import check_positive_float

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam"]


class Optimizer:
    """Base class. ``step(params, grads)`` updates every ``params[name]`` in place.

    ``state[name]`` is the optimizer's memory for ``params[name]`` (a tuple of arrays of its shape
    and dtype). With the numba backend, when the parameters are views that tile one flat buffer
    and so are the gradients (every ``VAE`` and ``Autoencoder``, see ``vae_np/_flat.py``), one
    kernel call updates all of them; the state arrays are then views of flat buffers too, rebuilt
    with their values whenever ``state`` no longer holds exactly those views (after a copy or a
    pickle of the optimizer, or if an entry was replaced). Both ways give the same numbers.
    Subclasses implement ``_update(name, p, g)``; on the flat path it is called once, with
    ``name=None`` and the flat buffers.
    """

    def __init__(self, lr):
        self.lr = check_positive_float(lr, "lr")
        self.t = 0
        self.state: dict[str, tuple] = {}
        self._tiling = None      # (params, grads, flat params, flat grads, names) of last step
        self._flat_state = {}    # names -> (flat slot buffers, the views put in state, by name)

    def __getstate__(self):      # copies and pickles keep ``state``; the flat caches are rebuilt
        return {**self.__dict__, "_tiling": None, "_flat_state": {}}

    def __setstate__(self, state):   # (also for optimizers pickled before the caches existed)
        self.__dict__.update({"_tiling": None, "_flat_state": {}, **state})

    @staticmethod
    def _check_slots(name, slots, p):
        for s in slots:
            if s.shape != p.shape or s.dtype != p.dtype:
                raise ValueError(
                    f"the optimizer's state for {name!r} has shape {s.shape} and dtype {s.dtype}, "
                    f"but the parameter has shape {p.shape} and dtype {p.dtype}; use a new "
                    "optimizer for a different model")

    def _slots(self, name, p, count):
        if name is None:                       # the flat update: p is the flat buffer
            return self._flat_slots(p, count)
        slots = self.state.get(name)
        if slots is None:
            slots = self.state[name] = tuple(np.zeros_like(p) for _ in range(count))
        else:
            self._check_slots(name, slots, p)  # a kernel must never see arrays of other sizes
        return slots

    def _flat_slots(self, flat, count):
        names, ps = self._tiling[4], self._tiling[0]
        cached = self._flat_state.get(names)    # one entry per set of names (e.g. two halves)
        if (cached is not None and cached[0][0].dtype == flat.dtype
                and all(self.state.get(name) is views and views[0].shape == p.shape
                        for name, views, p in zip(names, cached[1], ps))):
            return cached[0]
        for name, p in zip(names, ps):
            if name in self.state:
                self._check_slots(name, self.state[name], p)
        bufs = tuple(_flat.empty_staggered(flat.size, flat.dtype, 2 + i) for i in range(count))
        all_views, start = [], 0
        for name, p in zip(names, ps):
            views = tuple(b[start:start + p.size].reshape(p.shape) for b in bufs)
            for view, old in zip(views, self.state.get(name, (0,) * count)):
                view[...] = old                  # the values so far (zeros for a new parameter)
            self.state[name] = views
            all_views.append(views)
            start += p.size
        self._flat_state[names] = (bufs, tuple(all_views))
        return bufs

    def _tiles(self, names, ps, gs):
        """Flat params and grads buffers if ``ps`` and ``gs`` tile them, else None."""
        last = self._tiling
        if not (last and last[4] == names and all(map(operator.is_, last[0], ps))
                and all(map(operator.is_, last[1], gs))):
            last = self._tiling = (ps, gs, _flat.tiled_base(ps), _flat.tiled_base(gs), names)
        return (last[2], last[3]) if last[2] is not None and last[3] is not None else None

    def step(self, params, grads):
        """Apply one update.

        Parameters
        ----------
        params : dict of str -> ndarray
            Parameters, updated in place.
        grads : dict of str -> ndarray
            Gradients with the same keys and shapes.
        """
        if params.keys() != grads.keys():
            raise ValueError("params and grads must have the same keys, got "
                             f"{sorted(set(params) ^ set(grads))} in only one of them")
        names, ps = tuple(params), list(params.values())
        gs = [grads[name] for name in names]
        for name, p, g in zip(names, ps, gs):
            if g.shape != p.shape:
                raise ValueError(f"gradient {name!r} has shape {g.shape}, parameter has {p.shape}")
        self.t += 1
        # One call over the flat buffers with the numba kernels. The NumPy reference stays per
        # array: its temporaries of a 2.6 MB buffer would not fit in L2 (3.3x slower, measured).
        flat = self._tiles(names, ps, gs) if kernels.get_backend() == "numba" else None
        if flat is not None and flat[0].dtype == flat[1].dtype:
            self._update(None, *flat)
            return
        for name, p, g in zip(names, ps, gs):
            self._update(name, p, g)

    def _update(self, name, p, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr:g})"


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    Parameters
    ----------
    lr : float
        Learning rate.
    momentum : float
        In [0, 1); 0 gives plain SGD.

    Notes
    -----
    ``v <- momentum * v - lr * g``; ``p <- p + v``.
    """

    def __init__(self, lr=0.01, momentum=0.0):
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def _update(self, name, p, g):
        (vel,) = self._slots(name, p, 1)
        kernels.sgd_update(p, g, vel, self.lr, self.momentum)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), the optimizer of Kingma & Welling (2013).

    Parameters
    ----------
    lr : float
        Global step size (the VAE paper picked it from {0.01, 0.02, 0.1}).
    eps : float
        Added to the root of the accumulator.

    Notes
    -----
    ``a <- a + g**2``; ``p <- p - lr * g / (sqrt(a) + eps)``.
    """

    def __init__(self, lr=0.01, eps=1e-8):
        super().__init__(lr)
        self.eps = check_positive_float(eps, "eps")

    def _update(self, name, p, g):
        (acc,) = self._slots(name, p, 1)
        kernels.adagrad_update(p, g, acc, self.lr, self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1) with the standard defaults.

    Parameters
    ----------
    lr : float
        Step size alpha (default 1e-3).
    betas : tuple of float
        Decay rates ``(beta1, beta2)`` of the moment estimates (default ``(0.9, 0.999)``).
    eps : float
        Added to ``sqrt(v_hat)`` (default 1e-8).

    Notes
    -----
    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g**2``;
    ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m/(1-b1**t)``,
    ``v_hat = v/(1-b2**t)``. It is computed in the paper's equivalent form
    ``p <- p - lr_t * m / (sqrt(v) + eps_t)``, ``lr_t = lr sqrt(1-b2**t)/(1-b1**t)``,
    ``eps_t = eps sqrt(1-b2**t)``.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must each be in [0, 1), got {betas!r}")
        self.b1, self.b2 = float(b1), float(b2)
        self.eps = check_positive_float(eps, "eps")

    def _update(self, name, p, g):
        m, v = self._slots(name, p, 2)
        c2 = np.sqrt(1 - self.b2 ** self.t)
        lr_t = self.lr * c2 / (1 - self.b1 ** self.t)
        kernels.adam_update(p, g, m, v, lr_t, self.b1, self.b2, self.eps * c2)
