"""The elementwise work of the fused step: numba kernels that each make one pass over memory.

* bias + activation forward, and activation backward + the bias gradient (the formulas are the
  layers' own, :mod:`vae_np.nn.layers`; ReLU and the identity, the activations of the book's
  models, get kernels, other activations use the layers' NumPy formulas in place);
* output bias + negative log-likelihood + its gradient + the output bias gradient (the formulas
  of :mod:`vae_np.nn.losses`: ``bernoulli_nll``, ``gaussian_nll``), writing the gradient over
  the logits (or means) buffer.

numba on this platform has no vectorised ``exp``/``log`` (no SVML): ``math.exp`` in a loop is a
scalar call that stops the loop from vectorising. The float64 Bernoulli kernel therefore lets
NumPy's vectorised ``exp`` and ``log1p`` fill scratch buffers between two numba passes; the
float32 kernel, the largest elementwise pass of a training step, writes ``exp`` and ``log1p`` out
as polynomials inside one loop.

The public functions check their arrays' shapes, dtypes, contiguity and writeability (a few
attribute comparisons, no pass over the data) before a kernel runs, since a compiled loop does
not check its indices: a short bias would be read past its end. The fused step, whose buffers
fit by construction, calls the unchecked ``_`` versions.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_float, check_kernel_array, check_option, check_positive_float
from ..nn.layers import ACTIVATION_NAMES, ACTIVATIONS
from ._jit import njit, wide_vectors

__all__ = ["bias_act_forward", "act_backward_bias", "bernoulli_nll_grad_bias",
           "gaussian_nll_grad_bias"]


@njit
def _bias_relu_nb(Z, b):
    wide_vectors()
    n, d = Z.shape
    zero = Z.dtype.type(0)
    for i in range(n):
        for j in range(d):
            v = Z[i, j] + b[j]
            Z[i, j] = zero if v <= zero else v          # NaN stays NaN, as in np.maximum
    return Z


@njit
def _bias_add_nb(Z, b):
    wide_vectors()
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
    owner = "bias_act_forward"
    act = check_option(act, "act", ACTIVATION_NAMES, owner)
    Z = check_kernel_array(Z, "Z", owner, (None, None), writeable=True)
    check_kernel_array(b, "b", owner, (Z.shape[1],), Z.dtype)
    return _bias_act_forward(Z, b, act)


def _bias_act_forward(Z, b, act):
    if act == "relu":
        return _bias_relu_nb(Z, b)
    if act == "identity":
        return _bias_add_nb(Z, b)
    Z += b
    Z[...] = ACTIVATIONS[act].f(Z)
    return Z


@njit
def _relu_backward_bias_nb(G, Y, db):
    wide_vectors()
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
    wide_vectors()
    n, d = G.shape
    for j in range(d):
        db[j] = G.dtype.type(0)
    for i in range(n):
        for j in range(d):
            db[j] += G[i, j]
    return db


def act_backward_bias(G, Y, act, db, GT=None):
    """Backward through ``Y = act(Z)`` in place, plus the bias gradient of the layer before.

    Parameters
    ----------
    G : ndarray of shape (n, d)
        On entry ∂L/∂Y (unless ``GT`` is given); on exit ∂L/∂Z = ``G * act'(Z)`` (overwritten).
    Y : ndarray of shape (n, d)
        The activation's output of the forward pass.
    act : str
        A name in :data:`vae_np.nn.layers.ACTIVATIONS`.
    db : ndarray of shape (d,)
        Overwritten with ``sum_i ∂L/∂Z[i]`` (the gradient of the bias added before ``act``).
    GT : ndarray of shape (d, n), optional
        ∂L/∂Y transposed, read instead of ``G``'s values (``G`` is then only written), as the
        fused step computes it for the decoder's output layer (:mod:`vae_np.fast.step`).

    Returns
    -------
    G : ndarray of shape (n, d)
    """
    owner = "act_backward_bias"
    act = check_option(act, "act", ACTIVATION_NAMES, owner)
    G = check_kernel_array(G, "G", owner, (None, None), writeable=True)
    check_kernel_array(Y, "Y", owner, G.shape, G.dtype)
    check_kernel_array(db, "db", owner, (G.shape[1],), G.dtype, writeable=True)
    if GT is None:
        return _act_backward_bias(G, Y, act, db)
    check_kernel_array(GT, "GT", owner, G.shape[::-1], G.dtype)
    return _act_backward_bias_t(GT, Y, act, db, G)


def _act_backward_bias(G, Y, act, db):
    if act == "relu":
        _relu_backward_bias_nb(G, Y, db)
    elif act == "identity":
        _colsum_nb(G, db)
    else:
        G *= ACTIVATIONS[act].df(Y)
        G.sum(axis=0, out=db)
    return G


@njit
def _relu_backward_bias_t_nb(GT, Y, G, db):
    wide_vectors()
    # _relu_backward_bias_nb reading its input transposed, G = GT.T * (Y > 0), in the same
    # order (db to the same bits). The transpose goes in blocks of 16 rows of G (a cache line
    # of each row of GT): read column by column instead, GT fresh from BLAS cost 3x more.
    n, d = G.shape
    zero = G.dtype.type(0)
    db[:] = zero
    for i0 in range(0, n, 16):
        i1 = min(i0 + 16, n)
        for j in range(d):
            for i in range(i0, i1):
                G[i, j] = GT[j, i]
        for i in range(i0, i1):
            for j in range(d):
                g = G[i, j] if Y[i, j] > zero else zero
                G[i, j] = g
                db[j] += g
    return G


def _act_backward_bias_t(GT, Y, act, db, G):
    if act == "relu":
        return _relu_backward_bias_t_nb(GT, Y, G, db)
    G[...] = GT.T
    return _act_backward_bias(G, Y, act, db)


@njit
def _bias_negabs_nb(A, b, E):
    wide_vectors()
    n, d = A.shape
    for i in range(n):
        for j in range(d):
            a = A[i, j] + b[j]
            A[i, j] = a
            E[i, j] = -abs(a)


@njit
def _bce_grad_bias_nb(A, X, E, L, scale, db):
    wide_vectors()
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


@njit(fastmath={"contract"})
def _bce_grad_bias_f32_nb(A, b, X, scale, db, col, total):
    wide_vectors()
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
    backend does all of it in one pass (``_bce_grad_bias_f32_nb``, inline polynomial ``exp``
    and ``log1p``, a few ulps); float64 takes NumPy's ``exp``/``log1p`` plus two numba passes.
    """
    owner = "bernoulli_nll_grad_bias"
    A, d, dtype = _check_output_stage(A, b, X, scale, db, owner)
    if dtype == np.float64:
        check_kernel_array(E, "E", owner, A.shape, dtype, writeable=True)
        check_kernel_array(L, "L", owner, A.shape, dtype, writeable=True)
    if col is not None:
        check_kernel_array(col, "col", owner, (d,), dtype, writeable=True)
    if total is not None:
        check_kernel_array(total, "total", owner, (d,), np.float64, writeable=True)
    return _bernoulli_nll_grad_bias(A, b, X, scale, E, L, db, col, total)


def _check_output_stage(A, b, X, scale, db, owner):
    """The arguments that the likelihood kernels share: A (n, d), b (d,), X (n, d), db (d,)."""
    A = check_kernel_array(A, "A", owner, (None, None), writeable=True)
    d, dtype = A.shape[1], A.dtype
    check_kernel_array(b, "b", owner, (d,), dtype)
    check_kernel_array(X, "X", owner, A.shape, dtype)
    check_kernel_array(db, "db", owner, (d,), dtype, writeable=True)
    check_float(scale, "scale", owner)
    return A, d, dtype


def _bernoulli_nll_grad_bias(A, b, X, scale, E, L, db, col=None, total=None):
    t = A.dtype.type
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


@njit
def _gaussian_grad_bias_nb(A, b, X, scale, db):
    wide_vectors()
    # On exit A holds scale * (mean - x) and db its column sums; returns sum (x - mean)**2.
    n, d = A.shape
    zero = A.dtype.type(0)
    for j in range(d):
        db[j] = zero
    acc = 0.0
    for i in range(n):
        for j in range(d):
            r = A[i, j] + b[j] - X[i, j]
            acc += r * r
            g = r * scale
            A[i, j] = g
            db[j] += g
    return acc


def gaussian_nll_grad_bias(A, b, X, obs_std, scale, db):
    """Bias, Gaussian NLL (fixed ``obs_std``) and its gradient, for a whole batch, in place.

    Parameters
    ----------
    A : ndarray of shape (n, d)
        On entry ``H @ W`` (means without the bias); on exit ``scale * (m - x) / obs_std**2``
        with ``m = H @ W + b``, the gradient w.r.t. the means.
    b : ndarray of shape (d,)
        Bias of the output layer.
    X : ndarray of shape (n, d)
        Targets.
    obs_std : float
        The fixed observation noise ``s``.
    scale : float
        Factor of the gradient (``1/n`` for a batch mean).
    db : ndarray of shape (d,)
        Overwritten with the bias gradient (the column sums of the gradient).

    Returns
    -------
    nll : float
        ``sum_ij 0.5 * [(x_ij - m_ij)**2 / s**2 + log(2 pi s**2)]`` over the batch (not divided
        by ``n``), accumulated in float64.
    """
    owner = "gaussian_nll_grad_bias"
    _check_output_stage(A, b, X, scale, db, owner)
    obs_std = check_positive_float(obs_std, "obs_std", owner)
    return _gaussian_nll_grad_bias(A, b, X, obs_std, scale, db)


def _gaussian_nll_grad_bias(A, b, X, obs_std, scale, db):
    t = A.dtype.type
    n, d = A.shape
    sq = _gaussian_grad_bias_nb(A, b, X, t(scale / obs_std ** 2), db)
    return 0.5 * sq / obs_std ** 2 + 0.5 * n * d * (np.log(2 * np.pi) + 2 * np.log(obs_std))
