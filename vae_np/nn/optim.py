"""Optimizers that update parameter arrays in place, in plain NumPy.

An optimizer keeps its state per parameter name, so one instance serves one model::

    opt = Adam(lr=1e-3)
    loss, grads = model.loss_and_grads(X, eps)
    opt.step(model.params, grads)

Each class writes its update rule once, in ``_update`` (and in its Notes). ``vae_np.fit`` may run
the same rule as one compiled call over all parameters at once (:func:`vae_np.fast.flat.optimizer_step`,
tested against these classes); the state it keeps is this ``state`` dict either way.

The state belongs to the parameter arrays it was built for: an optimizer remembers them (by
weak reference) and refuses to step other arrays with that state (another model, even one of the
same shape, would otherwise silently inherit the first model's momentum). A copy or an unpickled
optimizer adopts the arrays of its first step, so ``copy.deepcopy((model, optimizer))`` and
pickles of the pair keep working.
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping

import numpy as np

from .._validation import check_float, check_positive_float, invalid
from .params import ParamDict

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam", "flush_subnormals"]


def flush_subnormals(a):
    """Set the entries of ``a`` smaller in magnitude than the smallest normal float to 0, in place.

    Parameters
    ----------
    a : ndarray of float
        A momentum or moment estimate (NaN and inf are left as they are).

    Returns
    -------
    a : ndarray
        The same array.

    Notes
    -----
    Why the optimizers do this: a running average whose gradient stays zero (a dead ReLU unit,
    a pixel that is no longer on in any batch) shrinks by the same factor every step, by 0.9 for
    Adam's ``m``, sinks among the subnormal numbers (below 1.2e-38 in float32) and never
    reaches 0: once it is 4 times the smallest subnormal, ``0.9 * m`` rounds back to ``m``.
    Arithmetic on subnormal numbers can be much slower on x86 CPUs: measured on an Intel Xeon
    (``benchmarks/bench_subnormals.py``), after 2,100 Adam steps of the book's MNIST VAE some
    22,000 entries of ``m`` were subnormal and a training step took about a quarter longer.
    The update such an ``m`` makes, ``lr * m / (sqrt(v) + eps)``, is below 1e-30 with the
    default settings, and a ``v`` below 1.2e-38 is far below ``eps**2``: neither moves a
    parameter of any ordinary size.
    """
    a[np.abs(a) < np.finfo(a.dtype).tiny] = 0
    return a


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
        self.lr = check_positive_float(lr, "lr", type(self).__name__)
        self.t = 0
        self.state: dict[str, tuple] = {}
        self._owners = {}       # name -> weak reference to the parameter array of state[name]
        self._checked = None    # the last (params, grads) ParamDicts checked, while unchanged

    def __getstate__(self):
        # weak references cannot be copied or pickled: a copy adopts the arrays of its first step
        state = dict(self.__dict__)
        state["_owners"], state["_checked"] = {}, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_owners", {})
        self.__dict__.setdefault("_checked", None)

    def check_step(self, params, grads):
        """Validate one step's arguments and return the parameter names, in order.

        Raises unless ``params`` and ``grads`` are mappings with the same keys, of NumPy arrays
        with the same shapes, and unless the state kept for a name (if any) belongs to this very
        parameter array (not to another model's). A model's own ``params`` and ``grads`` (read-only
        :class:`~vae_np.nn.params.ParamDict` mappings) are checked once, not on every step.
        """
        last = self._checked
        if (last is not None and last[0]() is params and last[1]() is grads
                and last[2] == (params._version, grads._version)):
            return last[3]
        owner = f"{type(self).__name__}.step"
        for arg, d in (("params", params), ("grads", grads)):
            if not isinstance(d, Mapping):
                raise invalid(arg, owner, "a dict of str -> ndarray (e.g. model.params)", d)
        if params.keys() != grads.keys():
            raise ValueError("params and grads must have the same keys, got "
                             f"{sorted(set(params) ^ set(grads), key=str)} in only one of them")
        owners, state = self._owners, self.state
        for name, p in params.items():
            g = grads[name]
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                arg, bad = ("params", p) if not isinstance(p, np.ndarray) else ("grads", g)
                raise invalid(f"{arg}[{name!r}]", owner, "a NumPy array (updated in place)", bad)
            if g.shape != p.shape:
                raise ValueError(f"gradient {name!r} has shape {g.shape}, "
                                 f"parameter has {p.shape}")
            ref = owners.get(name)
            if ref is None or name not in state:
                owners[name] = weakref.ref(p)
            elif ref() is not p:
                raise ValueError(
                    f"this optimizer's state for {name!r} belongs to another parameter array "
                    "(another model, or an earlier copy of this one): stepping this one with it "
                    "would carry that model's momentum over; use a new optimizer for each model "
                    "(e.g. vae_np.Adam(lr=1e-3)), or copy model and optimizer together "
                    "(copy.deepcopy((model, optimizer)))")
        names = tuple(params)
        self._checked = None
        if isinstance(params, ParamDict) and isinstance(grads, ParamDict):
            self._checked = (weakref.ref(params), weakref.ref(grads),
                             (params._version, grads._version), names)
        return names

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
    ``v <- momentum * v - lr * g``; ``p <- p + v``. An entry of ``v`` smaller in magnitude
    than the smallest normal float is set to 0 (:func:`flush_subnormals`).
    """

    n_slots = 1

    def __init__(self, lr=0.01, momentum=0.0):
        super().__init__(lr)
        self.momentum = check_float(momentum, "momentum", "SGD", low=0.0, high=1.0,
                                    high_open=True)

    def _update(self, p, g, vel):
        t = p.dtype.type                   # scalars in the arrays' dtype: float32 stays float32
        vel *= t(self.momentum)
        vel -= t(self.lr) * g
        flush_subnormals(vel)
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
        self.eps = check_positive_float(eps, "eps", "Adagrad")

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
    ``m_hat`` and ``v_hat`` arrays. Entries of ``m`` and ``v`` smaller in magnitude than the
    smallest normal float are set to 0 (:func:`flush_subnormals`: subnormal numbers would slow
    every later step down).
    """

    n_slots = 2

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(lr)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise invalid("betas", "Adam", "a pair (beta1, beta2) of floats, each in the range "
                          "[0.0, 1.0)", betas, "The default is (0.9, 0.999).")
        self.b1, self.b2 = (check_float(b, f"betas[{i}]", "Adam", low=0.0, high=1.0,
                                        high_open=True) for i, b in enumerate(betas))
        self.eps = check_positive_float(eps, "eps", "Adam")

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
        flush_subnormals(m)
        flush_subnormals(v)
        p -= t(lr_t) * m / (np.sqrt(v) + t(eps_t))
