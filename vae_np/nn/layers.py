"""Layers with a hand-written backward pass.

Conventions (the same for every layer):

* ``forward(X)`` returns ``Y`` and keeps what ``backward`` needs.
* ``backward(dY)`` returns ``dX`` (∂L/∂X, with the shape of ``X``) and **adds** ∂L/∂θ into
  ``self.grads[name]`` for every parameter ``self.params[name]``. Call ``zero_grad()`` first.
* ``dY`` is never modified in place.
* Parameters are updated in place by the optimizers, so arrays are never re-bound:
  ``params`` and ``grads`` are read-only :class:`~vae_np.nn.params.ParamDict` mappings.
"""
from __future__ import annotations

import numpy as np

from .._validation import (
    check_float_dtype,
    check_option,
    check_positive_float,
    check_positive_int,
    check_real,
    check_rng,
    check_sizes,
)
from .losses import sigmoid
from .params import ParamDict

__all__ = ["Layer", "Linear", "ReLU", "Tanh", "Sigmoid", "Softplus", "Identity", "MLP",
           "activation_layer", "ACTIVATIONS", "ACTIVATION_NAMES", "LINEAR_INITS", "MLP_INITS"]

#: Initialisations of one Linear layer: He, Glorot, or every parameter drawn from N(0, init_std**2).
LINEAR_INITS = ("he", "glorot", "normal")
#: Initialisations of an MLP: ``"default"`` is He for ReLU hidden layers and Glorot otherwise
#: (and Glorot for the last layer); the others apply one Linear initialisation to every layer.
MLP_INITS = ("default", *LINEAR_INITS)


class Layer:
    """Base class: a layer owns ``params`` and ``grads`` (dicts with the same keys)."""

    def __init__(self):
        name = type(self).__name__
        self.params = ParamDict(what=f"{name}.params")
        self.grads = ParamDict(what=f"{name}.grads")

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


def _input(X, name):
    """``X`` as an ndarray of real numbers (lists converted; no pass over an array's data)."""
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiub":
        X = check_real(X, name, finite=False)
    return X


def _backward_input(layer, dY, expected_shape):
    """Check that ``forward`` ran and that ``dY`` has the shape of its output."""
    owner = type(layer).__name__
    if expected_shape is None:
        raise RuntimeError(f"{owner}.backward was called before {owner}.forward; call "
                           "forward(X) first (backward uses what the forward pass kept)")
    dY = _input(dY, "dY")
    if dY.shape != expected_shape:
        raise ValueError(f"{owner}.backward expects dY of shape {expected_shape} (the shape of the "
                         f"last forward pass's output), got {dY.shape}")
    return dY


class Linear(Layer):
    """Affine layer ``Y = X @ W + b``.

    Parameters
    ----------
    d_in, d_out : int
        Input and output sizes.
    rng : numpy.random.Generator
        Source of the initial weights.
    init : {"he", "glorot", "normal"}
        He (``std = sqrt(2/d_in)``, for ReLU) or Glorot (``std = sqrt(2/(d_in+d_out))``) weights
        with zero biases; or ``"normal"``: weights **and biases** drawn from
        ``N(0, init_std**2)``, the initialisation of Kingma & Welling (2013), whose
        "N(0, 0.01)" we read as a standard deviation of 0.01.
    init_std : float
        Standard deviation of the ``"normal"`` initialisation (> 0; unused otherwise).
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

    def __init__(self, d_in, d_out, rng, init="he", dtype=np.float32, init_std=0.01):
        super().__init__()
        d_in = check_positive_int(d_in, "d_in", "Linear")
        d_out = check_positive_int(d_out, "d_out", "Linear")
        check_rng(rng, "rng", "Linear")
        init = check_option(init, "init", LINEAR_INITS, "Linear")
        init_std = check_positive_float(init_std, "init_std", "Linear")
        dtype = check_float_dtype(dtype, "dtype", "Linear")
        std = {"he": np.sqrt(2.0 / d_in), "glorot": np.sqrt(2.0 / (d_in + d_out)),
               "normal": init_std}[init]
        self.params._bind("W", (rng.standard_normal((d_in, d_out)) * std).astype(dtype))
        # the paper draws every parameter from N(0, 0.01**2); He and Glorot start biases at zero
        b = rng.standard_normal(d_out) * std if init == "normal" else np.zeros(d_out)
        self.params._bind("b", b.astype(dtype))
        for k, v in self.params.items():
            self.grads._bind(k, np.zeros_like(v))
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
        X = _input(X, "X")
        if X.ndim != 2 or X.shape[1] != W.shape[0]:
            raise ValueError(f"Linear expects X of shape (n, {W.shape[0]}), got {X.shape}")
        self._X = X
        return X @ W + self.params["b"]

    def backward(self, dY):
        """Parameters: dY of shape (n, d_out). Returns dX of shape (n, d_in).

        Raises ``RuntimeError`` before the first ``forward``."""
        W = self.params["W"]
        X = self._X
        dY = _backward_input(self, dY, None if X is None else (X.shape[0], W.shape[1]))
        gW, gb = self.grads["W"], self.grads["b"]
        gW += X.T @ dY
        gb += dY.sum(axis=0)
        return dY @ W.T


class _Activation(Layer):
    """Elementwise activation ``Y = f(X)``; keeps its output, since every derivative here is
    cheapest written in terms of ``Y``.

    Subclasses define the pair ``f(X)`` and ``df(Y)`` (the derivative ``f'(X)`` as a function of
    the output). These two static methods are the one home of each activation's formulas.
    """

    name = "identity"
    _Y = None

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
        self._Y = self.f(_input(X, "X"))
        return self._Y

    def backward(self, dY):
        """dY : ndarray of shape (n, d). Returns dX = dY * f'(X) of shape (n, d).

        Raises ``RuntimeError`` before the first ``forward``."""
        Y = self._Y
        dY = _backward_input(self, dY, None if Y is None else Y.shape)
        return dY * self.df(Y)


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
    return ACTIVATIONS[check_option(name, "name", ACTIVATION_NAMES, "activation_layer")]()


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
    rng : numpy.random.Generator, optional
        Source of the initial weights (default ``np.random.default_rng(0)``).
    dtype : numpy dtype
    init : {"default", "he", "glorot", "normal"}
        ``"default"``: He for ReLU hidden layers, Glorot otherwise and for the last layer. The
        others give every Linear layer that initialisation (see :class:`Linear`).
    init_std : float
        Standard deviation of ``init="normal"`` (> 0; unused otherwise).

    Attributes
    ----------
    layers : list of Layer
    params, grads : dict
        ``"{i}.W"``, ``"{i}.b"`` for the i-th layer (views of the layers' own arrays).
    """

    def __init__(self, sizes, activation="relu", out_activation="identity", rng=None,
                 dtype=np.float32, init="default", init_std=0.01):
        super().__init__()
        sizes = list(check_sizes(sizes, "sizes", "MLP", min_len=2))   # input and output at least
        check_option(activation, "activation", ACTIVATION_NAMES, "MLP")
        check_option(out_activation, "out_activation", ACTIVATION_NAMES, "MLP")
        dtype = check_float_dtype(dtype, "dtype", "MLP")
        rng = np.random.default_rng(0) if rng is None else check_rng(rng, "rng", "MLP")
        init = check_option(init, "init", MLP_INITS, "MLP")
        init_std = check_positive_float(init_std, "init_std", "MLP")
        hidden_init = init
        if init == "default":
            hidden_init = "he" if activation == "relu" else "glorot"
        self.layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            layer_init = "glorot" if last and init == "default" else hidden_init
            self.layers.append(Linear(a, b, rng, init=layer_init, dtype=dtype,
                                      init_std=init_std))
            act = out_activation if last else activation
            if act != "identity":
                self.layers.append(activation_layer(act))
        self.collect_params()
        self.sizes = sizes

    def collect_params(self):
        """(Re)build ``params`` and ``grads`` from the layers' own dicts."""
        self.params, self.grads = ParamDict(what="MLP.params"), ParamDict(what="MLP.grads")
        for i, layer in enumerate(self.layers):
            for k in layer.params:
                self.params._bind(f"{i}.{k}", layer.params[k])
                self.grads._bind(f"{i}.{k}", layer.grads[k])

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
