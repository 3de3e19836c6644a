"""Optimizers that update parameter arrays in place, in plain NumPy.

An optimizer keeps its state per parameter name, so one instance serves one model::

    opt = Adam(lr=1e-3)
    loss, grads = model.loss_and_grads(X, eps)
    opt.step(model.params, grads)

Each class writes its update rule once, in ``_update`` (and in its Notes). ``vae_np.fit`` may run
the same rule as one compiled call over all parameters at once (:func:`vae_np.fast.flat.optimizer_step`,
tested against these classes); the state it keeps is this ``state`` dict either way.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_float

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam"]


class Optimizer:
    """Base class. ``step(params, grads)`` updates every ``params[name]`` in place.

    Attributes
    ----------
    lr : float
        Learning rate.
    t : int
        Number of steps taken.
    state : dict of str -> tuple of ndarray
        The optimizer's memory for ``params[name]`` (arrays of its shape and dtype).
    """

    #: Number of state arrays per parameter (``state[name]`` has this many).
    n_slots = 0

    def __init__(self, lr):
        self.lr = check_positive_float(lr, "lr")
        self.t = 0
        self.state: dict[str, tuple] = {}

    def check_step(self, params, grads):
        """Raise unless ``params`` and ``grads`` have the same keys and shapes; return the keys."""
        if params.keys() != grads.keys():
            raise ValueError("params and grads must have the same keys, got "
                             f"{sorted(set(params) ^ set(grads))} in only one of them")
        for name, p in params.items():
            if grads[name].shape != p.shape:
                raise ValueError(f"gradient {name!r} has shape {grads[name].shape}, "
                                 f"parameter has {p.shape}")
        return tuple(params)

    def slots(self, name, p):
        """The state arrays of parameter ``name`` (zeros the first time), checked against ``p``."""
        slots = self.state.get(name)
        if slots is None:
            slots = self.state[name] = tuple(np.zeros_like(p) for _ in range(self.n_slots))
        for s in slots:
            if s.shape != p.shape or s.dtype != p.dtype:
                raise ValueError(
                    f"the optimizer's state for {name!r} has shape {s.shape} and dtype {s.dtype}, "
                    f"but the parameter has shape {p.shape} and dtype {p.dtype}; use a new "
                    "optimizer for a different model")
        return slots

    def step(self, params, grads):
        """Apply one update.

        Parameters
        ----------
        params : dict of str -> ndarray
            Parameters, updated in place.
        grads : dict of str -> ndarray
            Gradients with the same keys and shapes.
        """
        names = self.check_step(params, grads)
        self.t += 1
        for name in names:
            p = params[name]
            self._update(p, grads[name], *self.slots(name, p))

    def _update(self, p, g, *slots):  # pragma: no cover - abstract
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

    n_slots = 1

    def __init__(self, lr=0.01, momentum=0.0):
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def _update(self, p, g, vel):
        t = p.dtype.type                   # scalars in the arrays' dtype: float32 stays float32
        vel *= t(self.momentum)
        vel -= t(self.lr) * g
        p += vel


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

    n_slots = 1

    def __init__(self, lr=0.01, eps=1e-8):
        super().__init__(lr)
        self.eps = check_positive_float(eps, "eps")

    def _update(self, p, g, acc):
        t = p.dtype.type
        acc += g * g
        p -= t(self.lr) * g / (np.sqrt(acc) + t(self.eps))


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
    ``p <- p - lr_t * m / (sqrt(v) + eps_t)`` (:meth:`corrected_step`), which needs no
    ``m_hat`` and ``v_hat`` arrays.
    """

    n_slots = 2

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must each be in [0, 1), got {betas!r}")
        self.b1, self.b2 = float(b1), float(b2)
        self.eps = check_positive_float(eps, "eps")

    def corrected_step(self):
        """``(lr_t, eps_t)`` of step ``t``: ``lr sqrt(1-b2**t)/(1-b1**t)`` and ``eps sqrt(1-b2**t)``."""
        c2 = np.sqrt(1 - self.b2 ** self.t)
        return self.lr * c2 / (1 - self.b1 ** self.t), self.eps * c2

    def _update(self, p, g, m, v):
        t = p.dtype.type
        lr_t, eps_t = self.corrected_step()
        b1, b2 = t(self.b1), t(self.b2)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        p -= t(lr_t) * m / (np.sqrt(v) + t(eps_t))
