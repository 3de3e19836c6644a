"""Layers with a hand-written backward pass.

Conventions (the same for every layer):

* ``forward(X)`` returns ``Y`` and keeps what ``backward`` needs.
* ``backward(dY)`` returns ``dX`` (∂L/∂X, with the shape of ``X``) and **adds** ∂L/∂θ into
  ``self.grads[name]`` for every parameter ``self.params[name]``. Call ``zero_grad()`` first.
* ``dY`` is never modified in place.
* Parameters are updated in place by the optimizers, so arrays are never re-bound.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .losses import sigmoid

__all__ = ["Layer", "Linear", "ReLU", "Tanh", "Sigmoid", "Softplus", "Identity", "MLP",
           "activation_layer", "ACTIVATIONS", "ACTIVATION_NAMES"]


class Layer:
    """Base class: a layer owns ``params`` and ``grads`` (dicts with the same keys)."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dY):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, X):
        return self.forward(X)

    def zero_grad(self):
        """Set every gradient accumulator to zero."""
        for g in self.grads.values():
            g.fill(0)


class Linear(Layer):
    """Affine layer ``Y = X @ W + b``.

    Parameters
    ----------
    d_in, d_out : int
        Input and output sizes.
    rng : numpy.random.Generator
        Source of the initial weights.
    init : {"he", "glorot"}
        He (``std = sqrt(2/d_in)``, for ReLU) or Glorot (``std = sqrt(2/(d_in+d_out))``).
    dtype : numpy dtype
        float32 (fast) or float64 (gradient checks).

    Attributes
    ----------
    params : dict
        ``W`` of shape (d_in, d_out) and ``b`` of shape (d_out,).

    Notes
    -----
    Backward: ``dW = X.T @ dY``, ``db = dY.sum(0)``, ``dX = dY @ W.T``.
    """

    def __init__(self, d_in, d_out, rng, init="he", dtype=np.float32):
        super().__init__()
        check_positive_int(d_in, "d_in")
        check_positive_int(d_out, "d_out")
        if init == "he":
            std = np.sqrt(2.0 / d_in)
        elif init == "glorot":
            std = np.sqrt(2.0 / (d_in + d_out))
        else:
            raise ValueError(f"unknown init {init!r}; use 'he' or 'glorot'")
        self.params["W"] = (rng.standard_normal((d_in, d_out)) * std).astype(dtype)
        self.params["b"] = np.zeros(d_out, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._X = None

    def forward(self, X):
        """Compute ``Y = X @ W + b``.

        Parameters
        ----------
        X : ndarray of shape (n, d_in)

        Returns
        -------
        Y : ndarray of shape (n, d_out)
        """
        W = self.params["W"]
        if X.ndim != 2 or X.shape[1] != W.shape[0]:
            raise ValueError(f"Linear expects X of shape (n, {W.shape[0]}), got {X.shape}")
        self._X = X
        return X @ W + self.params["b"]

    def backward(self, dY):
        """Parameters: dY of shape (n, d_out). Returns dX of shape (n, d_in)."""
        self.grads["W"] += self._X.T @ dY
        self.grads["b"] += dY.sum(axis=0)
        return dY @ self.params["W"].T


class _Activation(Layer):
    """Elementwise activation ``Y = f(X)``; keeps its output, since every derivative here is
    cheapest written in terms of ``Y``.

    Subclasses define the pair ``f(X)`` and ``df(Y)`` (the derivative ``f'(X)`` as a function of
    the output). These two static methods are the one home of each activation's formulas.
    """

    name = "identity"

    @staticmethod
    def f(X):
        """The activation of ``X`` (a new array of the same shape and dtype)."""
        return X.copy()

    @staticmethod
    def df(Y):
        """``f'(X)`` written in terms of the output ``Y = f(X)`` (same shape)."""
        return np.ones_like(Y)

    def forward(self, X):
        """X : ndarray of shape (n, d). Returns Y = f(X) of shape (n, d) (a new array)."""
        self._Y = self.f(X)
        return self._Y

    def backward(self, dY):
        """dY : ndarray of shape (n, d). Returns dX = dY * f'(X) of shape (n, d)."""
        return dY * self.df(self._Y)


class Identity(_Activation):
    """``Y = X``; derivative 1."""
    name = "identity"


class ReLU(_Activation):
    """``Y = max(X, 0)``; ``f'(X) = (Y > 0)``."""
    name = "relu"

    @staticmethod
    def f(X):
        return np.maximum(X, 0)

    @staticmethod
    def df(Y):
        return (Y > 0).astype(Y.dtype)


class Tanh(_Activation):
    """``Y = tanh(X)``; ``f'(X) = 1 - Y**2``."""
    name = "tanh"

    @staticmethod
    def f(X):
        return np.tanh(X)

    @staticmethod
    def df(Y):
        return 1 - Y * Y


class Sigmoid(_Activation):
    """``Y = 1 / (1 + exp(-X))``, computed stably; ``f'(X) = Y (1 - Y)``."""
    name = "sigmoid"

    @staticmethod
    def f(X):
        return sigmoid(X).astype(X.dtype, copy=False)

    @staticmethod
    def df(Y):
        return Y * (1 - Y)


class Softplus(_Activation):
    """``Y = log(1 + exp(X))``, computed as ``logaddexp(0, X)``; ``f'(X) = sigmoid(X)``.

    In terms of the output, ``sigmoid(X) = 1 - exp(-Y) = -expm1(-Y)`` (``expm1`` keeps the small
    values accurate when ``X`` is very negative and ``Y`` tiny).
    """
    name = "softplus"

    @staticmethod
    def f(X):
        return np.logaddexp(X.dtype.type(0), X)

    @staticmethod
    def df(Y):
        return -np.expm1(-Y)


ACTIVATIONS = {c.name: c for c in (Identity, ReLU, Tanh, Sigmoid, Softplus)}
ACTIVATION_NAMES = tuple(ACTIVATIONS)


def activation_layer(name: str) -> Layer:
    """Return a new activation layer from its name (``"relu"``, ``"tanh"``, ...)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; use one of {ACTIVATION_NAMES}")
    return ACTIVATIONS[name]()


class MLP(Layer):
    """A stack ``Linear → act → Linear → act → ... → Linear [→ out_activation]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, e.g. ``[784, 400, 40]``: two Linear layers.
    activation : str
        Hidden activation.
    out_activation : str
        Activation after the last Linear (``"identity"`` for logits).
    rng : numpy.random.Generator
    dtype : numpy dtype

    Attributes
    ----------
    layers : list of Layer
    params, grads : dict
        ``"{i}.W"``, ``"{i}.b"`` for the i-th layer (views of the layers' own arrays).
    """

    def __init__(self, sizes, activation="relu", out_activation="identity", rng=None,
                 dtype=np.float32):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least two sizes (input and output), got {sizes}")
        activation_layer(activation), activation_layer(out_activation)  # validate names
        rng = np.random.default_rng(0) if rng is None else rng
        init = "he" if activation == "relu" else "glorot"
        self.layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            self.layers.append(Linear(a, b, rng, init=init if not last else "glorot", dtype=dtype))
            act = out_activation if last else activation
            if act != "identity":
                self.layers.append(activation_layer(act))
        self.collect_params()
        self.sizes = sizes

    def collect_params(self):
        """(Re)build ``params`` and ``grads`` from the layers' own dicts."""
        self.params, self.grads = {}, {}
        for i, layer in enumerate(self.layers):
            for k in layer.params:
                self.params[f"{i}.{k}"] = layer.params[k]
                self.grads[f"{i}.{k}"] = layer.grads[k]

    def forward(self, X):
        """X : ndarray of shape (n, sizes[0]). Returns Y of shape (n, sizes[-1])."""
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, dY):
        """dY : ndarray of shape (n, sizes[-1]). Returns dX of shape (n, sizes[0])."""
        for layer in reversed(self.layers):
            dY = layer.backward(dY)
        return dY

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()
