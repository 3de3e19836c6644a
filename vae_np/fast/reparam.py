"""The sampling layer and the KL term of a VAE, fused: two kernels for the step of fast.step.

Forward, from the encoder output ``H = [mu, logvar]`` and the noise ``eps``: the sample
``z = mu + exp(0.5*logvar)*eps`` and the KL term ``KL(N(mu, std**2) || N(0, I))``, in one pass
(plus NumPy's vectorised ``exp``); backward, the gradient with respect to ``H`` of
``f(z) + beta/n * KL`` and the encoder's last bias gradient, in another. Their reference is
:meth:`vae_np.nn.VAE.loss_and_grads` with :func:`vae_np.nn.losses.kl_normal_std`; the tests
compare them with it.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_float, check_kernel_array
from ._jit import njit

__all__ = ["reparam_kl", "reparam_backward_bias"]


@njit
def _half_logvar_nb(H, S):
    n, k = S.shape
    half = H.dtype.type(0.5)
    for i in range(n):
        for j in range(k):
            S[i, j] = H[i, k + j] * half


@njit
def _reparam_kl_nb(H, eps, S, Z):
    n, k = S.shape
    one = H.dtype.type(1)
    acc = 0.0
    for i in range(n):
        for j in range(k):
            mu = H[i, j]
            s = S[i, j]
            Z[i, j] = mu + s * eps[i, j]
            acc += s * s + mu * mu - one - H[i, k + j]
    return 0.5 * acc


def reparam_kl(H, eps, S, Z):
    """Reparameterized sample and the KL term, from the encoder output, into buffers.

    Parameters
    ----------
    H : ndarray of shape (n, 2k)
        Encoder output: ``mu = H[:, :k]``, ``logvar = H[:, k:]``.
    eps : ndarray of shape (n, k)
        Standard normal noise.
    S : ndarray of shape (n, k)
        Overwritten with ``std = exp(0.5 * logvar)`` (kept for the backward pass).
    Z : ndarray of shape (n, k)
        Overwritten with ``z = mu + std * eps``.

    Returns
    -------
    kl : float
        ``0.5 * sum_ij (std**2 + mu**2 - 1 - logvar)`` over the batch (not divided by ``n``),
        accumulated in float64.
    """
    owner = "reparam_kl"
    H = check_kernel_array(H, "H", owner, (None, None))
    n, k = _check_halves(H, owner)
    for name, a in (("eps", eps), ("S", S), ("Z", Z)):
        check_kernel_array(a, name, owner, (n, k), H.dtype, writeable=name != "eps")
    return _reparam_kl(H, eps, S, Z)


def _check_halves(H, owner):
    """``(n, k)`` of an encoder output H of shape (n, 2k)."""
    if H.shape[1] % 2:
        raise ValueError(f"{owner}: H must have an even number of columns (mu, then logvar), got "
                         f"shape {H.shape}")
    return H.shape[0], H.shape[1] // 2


def _reparam_kl(H, eps, S, Z):
    _half_logvar_nb(H, S)
    np.exp(S, out=S)
    return float(_reparam_kl_nb(H, eps, S, Z))


@njit
def _reparam_backward_bias_nb(dz, eps, S, H, beta_scale, dH, db):
    n, k = S.shape
    half = H.dtype.type(0.5)
    one = H.dtype.type(1)
    for j in range(2 * k):
        db[j] = H.dtype.type(0)
    for i in range(n):
        for j in range(k):
            s = S[i, j]
            g = dz[i, j]
            dmu = g + beta_scale * H[i, j]
            dlv = beta_scale * half * (s * s - one) + half * g * eps[i, j] * s
            dH[i, j] = dmu
            dH[i, k + j] = dlv
            db[j] += dmu
            db[k + j] += dlv
    return dH


def reparam_backward_bias(dz, eps, S, H, beta_scale, dH, db):
    """Gradient w.r.t. the encoder output of ``f(z) + beta_scale * KL``, and its bias gradient.

    Parameters
    ----------
    dz : ndarray of shape (n, k)
        ∂f/∂z from the decoder.
    eps, S : ndarray of shape (n, k)
        The noise and ``std = exp(0.5*logvar)`` of the forward pass.
    H : ndarray of shape (n, 2k)
        Encoder output (``mu`` then ``logvar``).
    beta_scale : float
        ``beta / n``.
    dH : ndarray of shape (n, 2k)
        Overwritten with ``[dmu, dlogvar]``.
    db : ndarray of shape (2k,)
        Overwritten with the column sums of ``dH`` (the last encoder bias gradient).

    Returns
    -------
    dH : ndarray of shape (n, 2k)

    Notes
    -----
    ``dmu = dz + beta_scale*mu``; ``dlogvar = 0.5*dz*eps*std + beta_scale*0.5*(std**2 - 1)``.
    """
    owner = "reparam_backward_bias"
    H = check_kernel_array(H, "H", owner, (None, None))
    n, k = _check_halves(H, owner)
    for name, a in (("dz", dz), ("eps", eps), ("S", S)):
        check_kernel_array(a, name, owner, (n, k), H.dtype)
    check_kernel_array(dH, "dH", owner, H.shape, H.dtype, writeable=True)
    check_kernel_array(db, "db", owner, (2 * k,), H.dtype, writeable=True)
    beta_scale = check_float(beta_scale, "beta_scale", owner, low=0.0)
    return _reparam_backward_bias(dz, eps, S, H, beta_scale, dH, db)


def _reparam_backward_bias(dz, eps, S, H, beta_scale, dH, db):
    return _reparam_backward_bias_nb(dz, eps, S, H, H.dtype.type(beta_scale), dH, db)
