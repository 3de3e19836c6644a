"""numba kernels for the elementwise hot paths, each with a pure-NumPy reference.

Every public function here validates nothing (callers inside ``vae_np`` already did) and picks
one of two implementations:

* a small private ``@njit`` kernel (``_*_nb``) that fuses several elementwise passes into one
  loop over memory, and
* a pure-NumPy reference (``*_ref``) that computes the same numbers one temporary at a time.

Which one runs is chosen by :func:`set_backend` (``"numba"`` by default, ``"numpy"`` for the
reference). The backend also picks the VAE's training step: ``"numba"`` runs the fused step of
:mod:`vae_np.fused` (the "fused kernels of the training step" below, writing into preallocated
buffers), ``"numpy"`` the layer-by-layer reference code. At the end, :func:`matmul_bias_act` is a
matrix multiply written from scratch (teaching code for the speed appendix; BLAS is faster). With ``NUMBA_DISABLE_JIT=1`` the numba kernels would run as interpreted Python loops,
thousands of times slower than NumPy, so the library uses the reference path then; the unit tests
still call the interpreted kernels directly on small arrays, which is what that setting is for.

Design rules (see ``shared/DESIGN.md`` §4): ``cache=True``; ``error_model="numpy"`` so ``/``
does not get a Python zero-check that blocks vectorisation; no ``fastmath`` (it would break NaN
and inf handling); scalars are passed already cast to the array dtype so float32 kernels stay
float32; no module globals are read inside a kernel (numba freezes them into its cache).
This llvmlite has no SVML, so ``math.exp`` inside a numba loop is a slow scalar call that stops the
loop from vectorising. Transcendental functions are therefore either evaluated with NumPy's
vectorised routines into preallocated buffers followed by a numba pass for the arithmetic (which
keeps both paths bit-identical), or, in the one place where it pays (the float32 Bernoulli loss,
the largest elementwise pass of a step), written out as polynomials inside the kernel.
"""
from __future__ import annotations

import contextlib
import os

import numba
import numpy as np

__all__ = [
    "set_backend", "get_backend", "backend",
    "bias_act_forward", "act_backward", "bernoulli_nll_grad", "reparameterize",
    "reparam_backward", "sgd_update", "adagrad_update", "adam_update",
]

_JIT = dict(cache=True, nogil=True, error_model="numpy")
_BACKENDS = ("numba", "numpy")
_state = {"backend": "numpy" if numba.config.DISABLE_JIT else "numba"}


def _ensure_cache_dir() -> None:
    """Point numba's cache at a writable folder when the package folder is read-only.

    numba writes its cache next to the source (``vae_np/__pycache__``). In a read-only install
    it falls back to a folder under HOME, which may be unwritable too; then compiling a cached
    kernel fails. We make that impossible by choosing a folder in the temp directory.
    ``NUMBA_CACHE_DIR`` set by the user always wins.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    pycache = os.path.join(here, "__pycache__")
    if not os.access(pycache if os.path.isdir(pycache) else here, os.W_OK):
        import tempfile
        path = os.path.join(tempfile.gettempdir(), f"vae_np-numba-cache-{os.getuid()}")
        os.makedirs(path, exist_ok=True)
        numba.config.CACHE_DIR = path


_ensure_cache_dir()


def set_backend(name: str) -> None:
    """Choose the implementation of the fused kernels.

    Parameters
    ----------
    name : {"numba", "numpy"}
        ``"numba"`` runs the compiled kernels; ``"numpy"`` runs the pure-NumPy references.
    """
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; use one of {_BACKENDS}")
    if name == "numba" and numba.config.DISABLE_JIT:
        name = "numpy"  # interpreted kernels would be far too slow; see the module docstring
    _state["backend"] = name


def get_backend() -> str:
    """Return the name of the backend in use (``"numba"`` or ``"numpy"``)."""
    return _state["backend"]


@contextlib.contextmanager
def backend(name: str):
    """Context manager that switches the backend temporarily: ``with backend("numpy"): ...``."""
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _state["backend"] = old


def _use_numba() -> bool:
    return _state["backend"] == "numba"


# --------------------------------------------------------------------------------------------
# Activation codes (ints, so kernels need no strings)
ACTIVATIONS = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "softplus": 4}


# --------------------------------------------------------------------------------------------
# bias + activation, forward
def bias_act_forward_ref(Z, b, act):
    """Reference: ``Y = act(Z + b)``. ``Z`` of shape (n, d) is overwritten and returned."""
    Z += b
    if act == "relu":
        np.maximum(Z, 0, out=Z)
    elif act == "tanh":
        np.tanh(Z, out=Z)
    elif act == "sigmoid":
        _sigmoid_inplace(Z)
    elif act == "softplus":
        np.logaddexp(Z.dtype.type(0), Z, out=Z)
    return Z


def _sigmoid_inplace(Z):
    """Stable logistic function in place: exp of a non-positive number only."""
    E = np.exp(-np.abs(Z))
    pos = Z >= 0
    np.divide(1, 1 + E, out=Z, where=pos)
    np.divide(E, 1 + E, out=Z, where=~pos)
    return Z


@numba.njit(**_JIT)
def _bias_relu_nb(Z, b):
    n, d = Z.shape
    zero = Z.dtype.type(0)
    for i in range(n):
        for j in range(d):
            v = Z[i, j] + b[j]
            Z[i, j] = v if v > zero else zero
    return Z


@numba.njit(**_JIT)
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
        One of ``"identity"``, ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``.

    Returns
    -------
    Y : ndarray of shape (n, d)
        ``act(Z + b)`` (the same array as ``Z``).
    """
    if _use_numba() and act in ("relu", "identity"):
        return _bias_relu_nb(Z, b) if act == "relu" else _bias_add_nb(Z, b)
    return bias_act_forward_ref(Z, b, act)


# --------------------------------------------------------------------------------------------
# activation backward, from the kept output Y (or input for softplus)
def act_backward_ref(dY, Y, act, X=None):
    """Reference: ``dX = dY * act'(X)`` written in terms of the output ``Y``.

    For softplus the derivative is ``sigmoid(X)``, so the input ``X`` is needed.
    """
    if act == "identity":
        return dY.copy()
    if act == "relu":
        return dY * (Y > 0)
    if act == "tanh":
        return dY * (1 - Y * Y)
    if act == "sigmoid":
        return dY * Y * (1 - Y)
    if act == "softplus":
        S = X.copy()
        _sigmoid_inplace(S)
        return dY * S
    raise ValueError(f"unknown activation {act!r}")


@numba.njit(**_JIT)
def _relu_backward_nb(dY, Y, dX):
    n, d = dY.shape
    zero = Y.dtype.type(0)
    for i in range(n):
        for j in range(d):
            dX[i, j] = dY[i, j] if Y[i, j] > zero else zero
    return dX


def act_backward(dY, Y, act, X=None, out=None):
    """Gradient through an activation.

    Parameters
    ----------
    dY : ndarray of shape (n, d)
        ∂L/∂Y. Not modified.
    Y : ndarray of shape (n, d)
        The activation's output from the forward pass.
    act : str
        Activation name.
    X : ndarray of shape (n, d), optional
        The activation's input (needed for softplus only).
    out : ndarray of shape (n, d), optional
        Buffer for the result.

    Returns
    -------
    dX : ndarray of shape (n, d)
        ∂L/∂X.
    """
    if _use_numba() and act == "relu":
        if out is None:
            out = np.empty_like(dY)
        return _relu_backward_nb(dY, Y, out)
    dX = act_backward_ref(dY, Y, act, X)
    if out is not None:
        out[...] = dX
        return out
    return dX


# --------------------------------------------------------------------------------------------
# Bernoulli negative log-likelihood from logits and its gradient, in one pass
def bernoulli_nll_grad_ref(logits, X, scale):
    """Reference for :func:`bernoulli_nll_grad`."""
    E = np.exp(-np.abs(logits))                       # in (0, 1]: never overflows
    nll = np.maximum(logits, 0) - X * logits + np.log1p(E)
    sig = np.where(logits >= 0, 1 / (1 + E), E / (1 + E))
    dlogits = (sig - X) * scale
    return nll.sum(axis=1), dlogits


@numba.njit(**_JIT)
def _bernoulli_nll_grad_nb(logits, X, E, L, scale, nll_rows, dlogits):
    # E = exp(-|logits|), L = log1p(E) were computed by NumPy (vectorised) beforehand.
    n, d = logits.shape
    zero = logits.dtype.type(0)
    one = logits.dtype.type(1)
    for i in range(n):
        acc = 0.0
        for j in range(d):
            a = logits[i, j]
            x = X[i, j]
            e = E[i, j]
            pos = a if a > zero else zero
            acc += pos - x * a + L[i, j]
            inv = one / (one + e)
            sig = inv if a >= zero else e * inv
            dlogits[i, j] = (sig - x) * scale
        nll_rows[i] = acc
    return nll_rows, dlogits


def bernoulli_nll_grad(logits, X, scale, out=None):
    """Per-example Bernoulli NLL from logits and the scaled gradient, stable for any logit.

    Parameters
    ----------
    logits : ndarray of shape (n, d)
        Decoder outputs before the sigmoid.
    X : ndarray of shape (n, d)
        Targets in [0, 1].
    scale : float
        Factor applied to the gradient (``1/n`` for a batch mean).
    out : ndarray of shape (n, d), optional
        Buffer for the gradient.

    Returns
    -------
    nll : ndarray of shape (n,)
        ``sum_j softplus(a_ij) - x_ij a_ij`` (float64 accumulation).
    dlogits : ndarray of shape (n, d)
        ``scale * (sigmoid(a) - x)``.

    Notes
    -----
    ``softplus(a) = max(a, 0) + log1p(exp(-|a|))`` and ``sigmoid(a)`` is evaluated from the same
    ``exp(-|a|)``, so no exponential of a positive number is ever taken.
    """
    if not _use_numba():
        nll, d = bernoulli_nll_grad_ref(logits, X, scale)
        if out is not None:
            out[...] = d
            d = out
        return nll, d
    E = np.abs(logits)
    np.negative(E, out=E)
    np.exp(E, out=E)
    L = np.log1p(E)
    if out is None:
        out = np.empty_like(logits)
    nll = np.empty(logits.shape[0], dtype=np.float64)
    return _bernoulli_nll_grad_nb(logits, X, E, L, logits.dtype.type(scale), nll, out)


# --------------------------------------------------------------------------------------------
# reparameterization z = mu + exp(0.5 logvar) * eps, and its backward pass
def reparameterize_ref(mu, logvar, eps):
    """Reference: ``std = exp(0.5*logvar)``, ``z = mu + std*eps``; returns ``(z, std)``."""
    std = np.exp(0.5 * logvar)
    return mu + std * eps, std


def reparameterize(mu, logvar, eps):
    """Sample ``z = mu + exp(0.5*logvar) * eps``.

    Parameters
    ----------
    mu, logvar, eps : ndarray of shape (n, k)

    Returns
    -------
    z : ndarray of shape (n, k)
    std : ndarray of shape (n, k)
        ``exp(0.5*logvar)``, kept for the backward pass.
    """
    return reparameterize_ref(mu, logvar, eps)


def reparam_backward_ref(dz, eps, std, mu, logvar, beta, scale):
    """Reference for :func:`reparam_backward`."""
    dmu = dz + beta * scale * mu
    dlogvar = 0.5 * dz * eps * std + beta * scale * 0.5 * (std * std - 1)
    return dmu, dlogvar


@numba.njit(**_JIT)
def _reparam_backward_nb(dz, eps, std, mu, beta_scale, dmu, dlogvar):
    n, k = dz.shape
    half = dz.dtype.type(0.5)
    one = dz.dtype.type(1)
    for i in range(n):
        for j in range(k):
            s = std[i, j]
            dmu[i, j] = dz[i, j] + beta_scale * mu[i, j]
            dlogvar[i, j] = half * dz[i, j] * eps[i, j] * s + beta_scale * half * (s * s - one)
    return dmu, dlogvar


def reparam_backward(dz, eps, std, mu, logvar, beta, scale, dmu=None, dlogvar=None):
    """Gradients of ``loss = f(z) + beta * scale * KL`` w.r.t. ``mu`` and ``logvar``.

    Parameters
    ----------
    dz : ndarray of shape (n, k)
        ∂f/∂z from the decoder.
    eps, std, mu, logvar : ndarray of shape (n, k)
        The noise, ``exp(0.5*logvar)``, and the encoder outputs of the forward pass.
    beta : float
        Weight of the KL term.
    scale : float
        Factor of the KL term (``1/n`` for a batch mean).

    Returns
    -------
    dmu, dlogvar : ndarray of shape (n, k)

    Notes
    -----
    With ``KL = 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar)``:
    ``dmu = dz + beta*scale*mu`` and
    ``dlogvar = 0.5*dz*eps*std + beta*scale*0.5*(std**2 - 1)``.
    """
    if not _use_numba():
        return reparam_backward_ref(dz, eps, std, mu, logvar, beta, scale)
    if dmu is None:
        dmu = np.empty_like(dz)
    if dlogvar is None:
        dlogvar = np.empty_like(dz)
    return _reparam_backward_nb(dz, eps, std, mu, dz.dtype.type(beta * scale), dmu, dlogvar)


# --------------------------------------------------------------------------------------------
# optimizer updates (in place)
def sgd_update_ref(p, g, vel, lr, momentum):
    """Reference SGD with momentum: ``v = momentum*v - lr*g``; ``p += v``."""
    vel *= momentum
    vel -= lr * g
    p += vel


@numba.njit(**_JIT)
def _sgd_update_nb(p, g, vel, lr, momentum):
    p1, g1, v1 = p.reshape(-1), g.reshape(-1), vel.reshape(-1)
    for i in range(p1.size):
        v = momentum * v1[i] - lr * g1[i]
        v1[i] = v
        p1[i] += v


def sgd_update(p, g, vel, lr, momentum):
    """In-place SGD-with-momentum step on one parameter array (contiguous arrays)."""
    if _use_numba():
        t = p.dtype.type
        _sgd_update_nb(p, g, vel, t(lr), t(momentum))
    else:
        sgd_update_ref(p, g, vel, p.dtype.type(lr), p.dtype.type(momentum))


def adagrad_update_ref(p, g, acc, lr, eps):
    """Reference Adagrad: ``acc += g**2``; ``p -= lr * g / (sqrt(acc) + eps)``."""
    acc += g * g
    p -= lr * g / (np.sqrt(acc) + eps)


@numba.njit(**_JIT)
def _adagrad_update_nb(p, g, acc, lr, eps):
    p1, g1, a1 = p.reshape(-1), g.reshape(-1), acc.reshape(-1)
    for i in range(p1.size):
        gi = g1[i]
        a = a1[i] + gi * gi
        a1[i] = a
        p1[i] -= lr * gi / (np.sqrt(a) + eps)


def adagrad_update(p, g, acc, lr, eps):
    """In-place Adagrad step on one parameter array (contiguous arrays)."""
    t = p.dtype.type
    if _use_numba():
        _adagrad_update_nb(p, g, acc, t(lr), t(eps))
    else:
        adagrad_update_ref(p, g, acc, t(lr), t(eps))


def adam_update_ref(p, g, m, v, lr_t, b1, b2, eps_t):
    """Reference Adam step (Kingma & Ba, Algorithm 1, with the efficient bias correction).

    ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g**2``; ``p -= lr_t * m / (sqrt(v) + eps_t)``
    where ``lr_t = lr*sqrt(1-b2**t)/(1-b1**t)`` and ``eps_t = eps*sqrt(1-b2**t)``, which is
    exactly ``p -= lr * m_hat / (sqrt(v_hat) + eps)``.
    """
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    p -= lr_t * m / (np.sqrt(v) + eps_t)


@numba.njit(**_JIT)
def _adam_update_nb(p, g, m, v, lr_t, b1, b2, one_minus_b1, one_minus_b2, eps_t):
    p1, g1, m1, v1 = p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in range(p1.size):
        gi = g1[i]
        mi = b1 * m1[i] + one_minus_b1 * gi
        vi = b2 * v1[i] + one_minus_b2 * gi * gi
        m1[i] = mi
        v1[i] = vi
        p1[i] -= lr_t * mi / (np.sqrt(vi) + eps_t)


def adam_update(p, g, m, v, lr_t, b1, b2, eps_t):
    """In-place Adam step on one parameter array (contiguous arrays). See :func:`adam_update_ref`."""
    t = p.dtype.type
    lr_t, b1, b2, eps_t = t(lr_t), t(b1), t(b2), t(eps_t)
    if _use_numba():
        _adam_update_nb(p, g, m, v, lr_t, b1, b2, t(1) - b1, t(1) - b2, eps_t)
    else:
        adam_update_ref(p, g, m, v, lr_t, b1, b2, eps_t)


# --------------------------------------------------------------------------------------------
# Fused kernels of the training step (used by :mod:`vae_np.fused`).
#
# Each works in place on preallocated buffers and also writes the bias gradient (a column sum)
# in the same pass over memory, so that a training step allocates (almost) nothing. Every one
# has a NumPy reference (``*_ref``) that computes the same numbers with NumPy operations.

def act_backward_bias_ref(G, Y, act, db):
    """Reference for :func:`act_backward_bias`."""
    if act == "relu":
        G *= Y > 0
    elif act == "tanh":
        G *= 1 - Y * Y
    elif act == "sigmoid":
        G *= Y * (1 - Y)
    elif act == "softplus":
        G *= -np.expm1(-Y)
    elif act != "identity":
        raise ValueError(f"unknown activation {act!r}")
    G.sum(axis=0, out=db)
    return G


@numba.njit(**_JIT)
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


@numba.njit(**_JIT)
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
        Activation name.
    db : ndarray of shape (d,)
        Overwritten with ``sum_i ∂L/∂Z[i]`` (the gradient of the bias added before ``act``).

    Returns
    -------
    G : ndarray of shape (n, d)

    Notes
    -----
    Every derivative is written in terms of the output: relu ``Y > 0``, tanh ``1 - Y**2``,
    sigmoid ``Y (1 - Y)``, softplus ``sigmoid(Z) = 1 - exp(-Y) = -expm1(-Y)``.
    """
    if _use_numba() and act == "relu":
        _relu_backward_bias_nb(G, Y, db)
        return G
    if _use_numba() and act == "identity":
        _colsum_nb(G, db)
        return G
    return act_backward_bias_ref(G, Y, act, db)


def bernoulli_nll_grad_bias_ref(A, b, X, scale, E, L, db):
    """Reference for :func:`bernoulli_nll_grad_bias`."""
    A += b
    np.abs(A, out=E)
    np.negative(E, out=E)
    np.exp(E, out=E)                                  # exp(-|a|) in (0, 1]
    np.log1p(E, out=L)
    inv = 1 / (1 + E)
    sig = np.where(A >= 0, inv, E * inv)
    nll = np.maximum(A, 0) - X * A + L
    np.subtract(sig, X, out=A)
    A *= scale
    A.sum(axis=0, out=db)
    return float(nll.sum())


@numba.njit(**_JIT)
def _bias_negabs_nb(A, b, E):
    n, d = A.shape
    for i in range(n):
        for j in range(d):
            a = A[i, j] + b[j]
            A[i, j] = a
            E[i, j] = -abs(a)


@numba.njit(**_JIT)
def _bce_grad_bias_nb(A, X, E, L, scale, db):
    # E = exp(-|a|) and L = log1p(E) were computed by NumPy (vectorised SIMD) beforehand.
    # On exit A holds the gradient and E the per-pixel NLL (summed by NumPy afterwards: a
    # floating-point reduction inside this loop would stop it from being vectorised).
    n, d = A.shape
    zero = A.dtype.type(0)
    one = A.dtype.type(1)
    for j in range(d):
        db[j] = zero
    for i in range(n):
        for j in range(d):
            a = A[i, j]
            x = X[i, j]
            e = E[i, j]
            pos = a if a > zero else zero
            E[i, j] = pos - x * a + L[i, j]
            inv = one / (one + e)
            sig = inv if a >= zero else e * inv
            g = (sig - x) * scale
            A[i, j] = g
            db[j] += g


@numba.njit(**_JIT)
def _bce_grad_bias_f32_nb(A, b, X, scale, db, col, total):
    # float32 only: the whole of bernoulli_nll_grad_bias in one pass over memory. exp(-|a|) and
    # log1p are evaluated inline with polynomials (so the loop vectorises; math.exp would be a
    # scalar call without SVML). A few float32 ulps (<= 4 measured); NaN logits give NaN loss
    # and grad. The loss is summed per column in float32 over blocks of 32 rows, then in float64
    # (``total``), so its rounding does not grow with the batch size.
    #   exp(t), t = -|a| in [-104, 0]: t = k ln2 + r, |r| <= ln2/2 (Cody-Waite), exp(r) by its
    #     Taylor polynomial of degree 7 (error < 6e-9), 2**k = 2**k1 * 2**k2 built from the
    #     exponent bits (both halves normal numbers, so denormal results round once).
    #   log1p(e), e in [0, 1]: log(y) = 2 atanh(s), s = (y-1)/(y+1), with y = 1+e or (1+e)/2
    #     (then + ln 2) so that |s| <= 0.172; five terms of the series (error < 3e-9).
    n, d = A.shape
    zero, one, two = np.float32(0), np.float32(1), np.float32(2)
    for j in range(d):
        db[j] = zero
        col[j] = zero
        total[j] = 0.0
    for i in range(n):
        for j in range(d):
            a = A[i, j] + b[j]
            x = X[i, j]
            t = -abs(a)
            t = t if t > np.float32(-104) else np.float32(-104)   # exp(-104) is 0 in float32
            k = np.floor(t * np.float32(1.4426950408889634) + np.float32(0.5))
            r = (t - k * np.float32(0.693145751953125)) - k * np.float32(1.4286067653302105e-06)
            p = one + r * (one + r * (np.float32(1 / 2) + r * (np.float32(1 / 6) + r * (
                np.float32(1 / 24) + r * (np.float32(1 / 120) + r * (
                    np.float32(1 / 720) + r * np.float32(1 / 5040)))))))
            k1 = np.int32(k) >> 1
            k2 = np.int32(k) - k1
            e = (p * np.int32((k1 + 127) << 23).view(np.float32)) \
                * np.int32((k2 + 127) << 23).view(np.float32)                   # exp(-|a|)
            big = e > np.float32(0.41421356)
            s = (e - one if big else e) / (e + (np.float32(3) if big else two))
            q = s * s
            log1p_e = two * s * (one + q * (np.float32(1 / 3) + q * (np.float32(1 / 5) + q * (
                np.float32(1 / 7) + q * np.float32(1 / 9))))) \
                + (np.float32(0.6931471805599453) if big else zero)
            col[j] += (a if a > zero else zero) - x * a + log1p_e
            inv = one / (one + e)
            g = ((inv if a >= zero else e * inv) - x) * scale
            g = g if a == a else a                                            # NaN stays NaN
            A[i, j] = g
            db[j] += g
        if i % 32 == 31 or i == n - 1:
            for j in range(d):
                total[j] += col[j]
                col[j] = zero


def bernoulli_nll_grad_bias(A, b, X, scale, E, L, db, col=None, total=None):
    """Bias, Bernoulli NLL from logits and its gradient, for a whole batch, in place.

    Parameters
    ----------
    A : ndarray of shape (n, d)
        On entry ``H @ W`` (logits without the bias); on exit ``scale * (sigmoid(a) - x)``
        with ``a = H @ W + b``, the gradient w.r.t. the logits.
    b : ndarray of shape (d,)
        Bias of the output layer.
    X : ndarray of shape (n, d)
        Targets in [0, 1].
    scale : float
        Factor of the gradient (``1/n`` for a batch mean).
    E, L : ndarray of shape (n, d)
        Scratch buffers (not touched by the float32 numba kernel).
    db : ndarray of shape (d,)
        Overwritten with the bias gradient ``sum_i scale * (sigmoid(a_i) - x_i)``.
    col, total : ndarray of shape (d,), float32 and float64, optional
        Scratch for the float32 numba kernel's per-column loss sums (allocated if not given).

    Returns
    -------
    nll : float
        ``sum_ij softplus(a_ij) - x_ij a_ij`` over the whole batch (not divided by ``n``).

    Notes
    -----
    ``softplus(a) = max(a, 0) + log1p(exp(-|a|))``; ``sigmoid(a)`` comes from the same
    ``exp(-|a|)``, so no exponential of a positive number is ever taken. In float32 the numba
    backend does all of it in one pass (:func:`_bce_grad_bias_f32_nb`, inline polynomial ``exp``
    and ``log1p``, a few ulps); float64 takes NumPy's ``exp``/``log1p`` plus two numba passes.
    """
    t = A.dtype.type
    if not _use_numba():
        return bernoulli_nll_grad_bias_ref(A, b, X, t(scale), E, L, db)
    if A.dtype == np.float32:
        col = np.empty_like(db) if col is None else col
        total = np.empty(db.shape, np.float64) if total is None else total
        _bce_grad_bias_f32_nb(A, b, X, t(scale), db, col, total)
        return float(total.sum())
    _bias_negabs_nb(A, b, E)
    np.exp(E, out=E)
    np.log1p(E, out=L)
    _bce_grad_bias_nb(A, X, E, L, t(scale), db)
    return float(E.sum())


def reparam_kl_ref(H, eps, S, Z):
    """Reference for :func:`reparam_kl`."""
    k = eps.shape[1]
    mu, logvar = H[:, :k], H[:, k:]
    np.multiply(logvar, H.dtype.type(0.5), out=S)
    np.exp(S, out=S)
    np.multiply(S, eps, out=Z)
    Z += mu
    return float(0.5 * (S * S + mu * mu - 1 - logvar).sum(dtype=np.float64))


@numba.njit(**_JIT)
def _half_logvar_nb(H, S):
    n, k = S.shape
    half = H.dtype.type(0.5)
    for i in range(n):
        for j in range(k):
            S[i, j] = H[i, k + j] * half


@numba.njit(**_JIT)
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
    if not _use_numba():
        return reparam_kl_ref(H, eps, S, Z)
    _half_logvar_nb(H, S)
    np.exp(S, out=S)
    return float(_reparam_kl_nb(H, eps, S, Z))


def reparam_backward_bias_ref(dz, eps, S, H, beta_scale, dH, db):
    """Reference for :func:`reparam_backward_bias`."""
    k = eps.shape[1]
    t = H.dtype.type
    dmu, dlogvar = dH[:, :k], dH[:, k:]
    np.multiply(H[:, :k], t(beta_scale), out=dmu)
    dmu += dz
    np.multiply(S, S, out=dlogvar)
    dlogvar -= 1
    dlogvar *= t(beta_scale) * t(0.5)
    dlogvar += t(0.5) * dz * eps * S
    dH.sum(axis=0, out=db)
    return dH


@numba.njit(**_JIT)
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
    if not _use_numba():
        return reparam_backward_bias_ref(dz, eps, S, H, beta_scale, dH, db)
    return _reparam_backward_bias_nb(dz, eps, S, H, H.dtype.type(beta_scale), dH, db)


@numba.njit(**_JIT)
def _any_nonfinite_nb(bits, mask):
    # An IEEE float is inf or NaN exactly when all its exponent bits are set. Integer work,
    # so the loop vectorises (a float reduction would not, without reassociation).
    found = 0
    for i in range(bits.size):
        found |= (bits[i] & mask) == mask
    return found


_EXP_MASKS = {np.dtype(np.float32): (np.int32, 0x7F800000),
              np.dtype(np.float64): (np.int64, 0x7FF0000000000000)}


def all_finite(a):
    """``np.isfinite(a).all()`` without a temporary boolean array.

    Parameters
    ----------
    a : ndarray of any shape, float32 or float64

    Returns
    -------
    bool
    """
    if not _use_numba() or a.dtype not in _EXP_MASKS or not a.flags.c_contiguous:
        return bool(np.isfinite(a).all())
    itype, mask = _EXP_MASKS[a.dtype]
    return not _any_nonfinite_nb(a.reshape(-1).view(itype), itype(mask))


# --------------------------------------------------------------------------------------------
# A matrix multiply written from scratch, with the bias + activation fused into its epilogue.
#
# Teaching code (see the speed appendix): it is tested against ``act(X @ W + b)`` and measured
# against BLAS on the VAE's shapes, and the training step uses BLAS because BLAS measured faster.

def matmul_bias_act_ref(A, B, b, act):
    """Reference for :func:`matmul_bias_act`: ``act(A @ B + b)`` with NumPy (BLAS)."""
    return bias_act_forward_ref(A @ B, b, act)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _matmul_bias_act_nb(A, B, bias, relu, C, kc, nc):
    # C = A @ B, computed block by block: a (kc x nc) panel of B stays in cache while the rows
    # of A stream past it; four rows of C are updated per pass so that each value of B loaded
    # from cache is used four times. The innermost loop runs over contiguous 1-D row slices,
    # which LLVM vectorises (AVX2/AVX-512; with 2-D indexing it did not, ~10x slower);
    # "contract" only lets it fuse a*b + c into one FMA instruction (no other fast-math).
    m, k = A.shape
    n = B.shape[1]
    zero = C.dtype.type(0)
    C[:, :] = zero
    for j0 in range(0, n, nc):
        j1 = min(j0 + nc, n)
        w = j1 - j0
        for p0 in range(0, k, kc):
            p1 = min(p0 + kc, k)
            i = 0
            while i + 4 <= m:
                c0, c1, c2, c3 = C[i, j0:j1], C[i + 1, j0:j1], C[i + 2, j0:j1], C[i + 3, j0:j1]
                for p in range(p0, p1):
                    a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
                    bp = B[p, j0:j1]
                    for j in range(w):
                        bv = bp[j]
                        c0[j] += a0 * bv
                        c1[j] += a1 * bv
                        c2[j] += a2 * bv
                        c3[j] += a3 * bv
                i += 4
            while i < m:                                   # the last m % 4 rows
                c0 = C[i, j0:j1]
                for p in range(p0, p1):
                    a0 = A[i, p]
                    bp = B[p, j0:j1]
                    for j in range(w):
                        c0[j] += a0 * bp[j]
                i += 1
        # epilogue on the finished column block, while it is still in cache
        bb = bias[j0:j1]
        for i in range(m):
            c0 = C[i, j0:j1]
            for j in range(w):
                v = c0[j] + bb[j]
                c0[j] = (v if v > zero else zero) if relu else v
    return C


def matmul_bias_act(A, B, b, act="identity", out=None, kc=256, nc=512):
    """``act(A @ B + b)`` with the numba kernel (BLAS-free), bias and activation fused.

    Parameters
    ----------
    A : ndarray of shape (m, k)
    B : ndarray of shape (k, n)
    b : ndarray of shape (n,)
    act : {"identity", "relu"}
        Activation applied in the epilogue.
    out : ndarray of shape (m, n), optional
        Output buffer.
    kc, nc : int
        Block sizes along ``k`` and ``n`` (a ``kc x nc`` panel of ``B`` is reused from cache).

    Returns
    -------
    C : ndarray of shape (m, n)

    Notes
    -----
    Falls back to :func:`matmul_bias_act_ref` (BLAS) with the ``"numpy"`` backend. Arrays must
    share one float dtype; they are made C-contiguous.
    """
    if act not in ("identity", "relu"):
        raise ValueError(f"matmul_bias_act supports 'identity' and 'relu', got {act!r}")
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0] or b.shape != (B.shape[1],):
        raise ValueError(f"shapes do not fit: A {A.shape}, B {B.shape}, b {b.shape}; need "
                         "A (m, k), B (k, n), b (n,)")
    if not _use_numba():
        C = matmul_bias_act_ref(A, B, b, act)
        if out is not None:
            out[...] = C
            return out
        return C
    dt = np.result_type(A, B, b)
    A, B, b = (np.ascontiguousarray(x, dtype=dt) for x in (A, B, b))
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), dtype=dt)
    return _matmul_bias_act_nb(A, B, b, act == "relu", out, int(kc), int(nc))
