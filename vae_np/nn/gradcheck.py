"""Finite-difference gradient checks (the backbone of trust in hand-written backprop).

The idea (CS231n's ``eval_numerical_gradient_array``): for a function ``Y = f(X)`` with an
analytic backward pass, pick a random upstream gradient ``dY`` and check the gradient of the
scalar ``L = sum(f(X) * dY)``, whose exact gradient is what ``backward(dY)`` returns. Central
differences ``(L(x + h) - L(x - h)) / (2h)`` have error O(h**2); in float64 with ``h = 1e-6``
the agreement is typically 1e-9 or better.
Each check returns, per array, the norm-wise relative error of :func:`relative_error`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validation import (
    check_array,
    check_callable,
    check_instance,
    check_positive_float,
    check_real,
    check_rng,
    invalid,
)
from .base import Model
from .layers import Layer

__all__ = ["numerical_gradient", "relative_error", "check_layer", "check_model", "max_error"]


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of a scalar function with respect to an array.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float; it must read ``x`` (which is perturbed in place and restored).
    x : ndarray of any shape, float64
    h : float
        Step size.

    Returns
    -------
    ndarray of the shape of ``x``
    """
    check_callable(f, "f", "numerical_gradient")
    if not isinstance(x, np.ndarray):
        raise invalid("x", "numerical_gradient", "a NumPy array that f reads (it is perturbed "
                      "in place)", x)
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {x.dtype}; build the model "
                        "with dtype=np.float64")
    if not x.flags.writeable:
        raise ValueError("x is read-only, but numerical_gradient perturbs it in place")
    h = check_positive_float(h, "h", "numerical_gradient")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):          # works for views of any layout (x is written in place)
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """Relative error ``||a - n|| / (||a|| + ||n||)`` of two gradient arrays (Euclidean norms).

    The norm-wise form is the standard one for gradient checks: an elementwise ratio is
    dominated by entries that are tiny in both gradients (a saturated tanh unit, a dead ReLU),
    where the finite difference's rounding error (about ``1e-16 * |L| / h``) is larger than the
    entry itself. A wrong formula, a transposed matrix or a missing term changes the whole
    array and shows up as an error of order 1e-2 or more; a correct backward pass in float64
    gives 1e-9 or less. Returns 0 when both arrays are exactly zero.
    """
    a, n = check_real(analytic, "analytic", finite=False), check_real(numeric, "numeric", finite=False)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape}, numeric {n.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def max_error(errors):
    """Largest value of a dict of errors (as returned by the check functions)."""
    if not isinstance(errors, Mapping) or not errors:
        raise invalid("errors", "max_error", "a non-empty dict of name -> error (what "
                      "check_layer and check_model return)", errors)
    return max(errors.values())


def check_layer(layer, X, rng, h=1e-6):
    """Check ``layer.backward`` against finite differences, for its input and every parameter.

    Parameters
    ----------
    layer : vae_np.nn.layers.Layer
        A layer (or an MLP) whose parameters are float64.
    X : ndarray of shape (n, d_in), float64
    rng : numpy.random.Generator
        Source of the random upstream gradient ``dY``.
    h : float

    Returns
    -------
    dict of str -> float
        ``"X"`` and each parameter name, mapped to the max relative error.
    """
    check_instance(layer, Layer, "layer", "check_layer", "a vae_np layer (e.g. vae_np.Linear or an MLP)")
    X = check_array(X, "X", dtype=np.float64).copy()
    check_rng(rng, "rng", "check_layer")
    h = check_positive_float(h, "h", "check_layer")
    _check_float64(layer.params, "check_layer", "layer")
    dY = rng.standard_normal(layer.forward(X).shape)
    layer.zero_grad()
    layer.forward(X)
    dX = layer.backward(dY)
    analytic = {"X": dX.copy(), **{k: g.copy() for k, g in layer.grads.items()}}
    loss = lambda: float(np.sum(layer.forward(X) * dY))  # noqa: E731
    errors = {"X": relative_error(analytic["X"], numerical_gradient(loss, X, h))}
    for name, p in layer.params.items():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, p, h))
    return errors


def check_model(model, X, eps, beta=1.0, h=1e-6, names=None):
    """Check a model's ``loss_and_grads`` for every parameter, with a fixed ``eps``.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
        Built with ``dtype=np.float64``.
    X : ndarray of shape (n, input_dim)
    eps : ndarray of shape (n, latent_dim)
        The noise, fixed so the loss is a deterministic function of the parameters.
    beta : float
    h : float
    names : iterable of str, optional
        Parameters to check (default: all).

    Returns
    -------
    dict of str -> float
        Max relative error per parameter name.
    """
    check_instance(model, Model, "model", "check_model", "a vae_np.VAE or vae_np.Autoencoder")
    h = check_positive_float(h, "h", "check_model")
    _check_float64(model.params, "check_model", "model")
    if names is None:
        names = list(model.params)
    else:
        if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
            raise invalid("names", "check_model", "a list of parameter names", names,
                          f"For one parameter write names=[{names!r}].")
        names = list(names)
        unknown = [k for k in names if not isinstance(k, str) or k not in model.params]
        if unknown or not names:
            raise invalid("names", "check_model", f"a non-empty list of names among "
                          f"{list(model.params)}", names,
                          f"Not a parameter name: {unknown[0]!r}." if unknown else "")
    _, grads = model.loss_and_grads(X, eps, beta)
    analytic = {k: g.copy() for k, g in grads.items()}
    loss = lambda: model.loss_and_grads(X, eps, beta)[0]  # noqa: E731
    return {k: relative_error(analytic[k], numerical_gradient(loss, model.params[k], h))
            for k in names}


def _check_float64(params, owner, what):
    dtypes = {p.dtype for p in params.values()}
    if dtypes and dtypes != {np.dtype(np.float64)}:
        raise TypeError(f"{owner} needs a float64 {what} (finite differences in float32 are "
                        f"mostly rounding error), got dtype {sorted(map(str, dtypes))}; build it "
                        "with dtype=np.float64")
