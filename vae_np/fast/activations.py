"""Bias + activation forward, and activation backward + bias gradient, in place.

The formulas are the layers' own (:mod:`vae_np.nn.layers`); here ReLU and the identity, the
activations of the book's models, get numba kernels that do each in one pass over memory and,
on the way back, also sum the columns for the bias gradient. Other activations use the layers'
NumPy formulas, in place.
"""
from __future__ import annotations

from ..nn.layers import ACTIVATIONS
from ._jit import njit

__all__ = ["bias_act_forward", "act_backward_bias"]


@njit
def _bias_relu_nb(Z, b):
    n, d = Z.shape
    zero = Z.dtype.type(0)
    for i in range(n):
        for j in range(d):
            v = Z[i, j] + b[j]
            Z[i, j] = v if v > zero else zero
    return Z


@njit
def _bias_add_nb(Z, b):
    n, d = Z.shape
    for i in range(n):
        for j in range(d):
            Z[i, j] += b[j]
    return Z


def bias_act_forward(Z, b, act):
    """Add the bias and apply the activation, in place.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        The product ``X @ W``; overwritten with the result.
    b : ndarray of shape (d,)
        Bias.
    act : str
        A name in :data:`vae_np.nn.layers.ACTIVATIONS`.

    Returns
    -------
    Y : ndarray of shape (n, d)
        ``act(Z + b)`` (the same array as ``Z``).
    """
    if act == "relu":
        return _bias_relu_nb(Z, b)
    if act == "identity":
        return _bias_add_nb(Z, b)
    Z += b
    Z[...] = ACTIVATIONS[act].f(Z)
    return Z


@njit
def _relu_backward_bias_nb(G, Y, db):
    n, d = G.shape
    zero = G.dtype.type(0)
    for j in range(d):
        db[j] = zero
    for i in range(n):
        for j in range(d):
            g = G[i, j] if Y[i, j] > zero else zero
            G[i, j] = g
            db[j] += g
    return G


@njit
def _colsum_nb(G, db):
    n, d = G.shape
    for j in range(d):
        db[j] = G.dtype.type(0)
    for i in range(n):
        for j in range(d):
            db[j] += G[i, j]
    return db


def act_backward_bias(G, Y, act, db):
    """Backward through ``Y = act(Z)`` in place, plus the bias gradient of the layer before.

    Parameters
    ----------
    G : ndarray of shape (n, d)
        On entry ∂L/∂Y; on exit ∂L/∂Z = ``G * act'(Z)`` (overwritten).
    Y : ndarray of shape (n, d)
        The activation's output of the forward pass.
    act : str
        A name in :data:`vae_np.nn.layers.ACTIVATIONS`.
    db : ndarray of shape (d,)
        Overwritten with ``sum_i ∂L/∂Z[i]`` (the gradient of the bias added before ``act``).

    Returns
    -------
    G : ndarray of shape (n, d)
    """
    if act == "relu":
        _relu_backward_bias_nb(G, Y, db)
    elif act == "identity":
        _colsum_nb(G, db)
    else:
        G *= ACTIVATIONS[act].df(Y)
        G.sum(axis=0, out=db)
    return G
