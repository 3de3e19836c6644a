"""The fused training step: a model's loss and gradients with (almost) no allocation.

:meth:`vae_np.VAE.loss_and_grads` and :meth:`vae_np.Autoencoder.loss_and_grads`, written layer
by layer in :mod:`vae_np.nn`, are the readable versions: every layer allocates its output, every
activation its gradient, and each elementwise formula makes a few NumPy temporaries. This module
computes the same numbers (to float rounding) for a whole step with

* the GEMMs on BLAS, writing into **preallocated buffers** (``np.matmul(..., out=buf)``) and
  straight into the gradient arrays (``dW = X.T @ dZ`` lands in ``grads``);
* the elementwise work **fused** into few passes over memory: bias + activation; activation
  backward + the bias gradient; output bias + likelihood + its gradient + the output bias
  gradient (:mod:`~vae_np.fast.elementwise`); the sampling layer + the KL term, and their
  backward pass (:mod:`~vae_np.fast.reparam`);
* no gradient with respect to the input data (the first layer's ``dX`` is never needed);
* the input gradient of the decoder's output layer computed transposed, ``W @ G.T`` (with its
  inner dimension of 784, 9-14% less time for BLAS than ``G @ W.T`` on an AVX-512 CPU, and the
  same numbers bit for bit there: ``benchmarks/README.md``; BLAS does not promise that, the tests
  compare with the reference to float rounding), read back transposed by the activation's
  backward pass;
* the finite check of that layer's weight gradient replaced by a bound, when the bound holds
  (:mod:`~vae_np.fast.finite`);
* on mostly-zero batches (binarized images), the encoder's first layer on the sparse kernels of
  :mod:`~vae_np.fast.sparse`: its forward product and weight gradient cost time in proportion to
  the batch's nonzeros (the choice is :func:`vae_np.fast.backends.set_first_layer`'s).

The buffers are kept per model and batch size, so a training loop reuses them from step to step
(a fresh temporary of a few hundred kB costs page faults on every step). The public functions
check their arguments' shapes, dtypes and contiguity (attribute comparisons only: a few
microseconds per step, no pass over the data), since a compiled loop reads past the end of a
short array without noticing. Inside the step the unchecked kernels run on buffers that fit by
construction.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from .._validation import check_float, check_kernel_array, invalid
from ..nn import VAE, Autoencoder, Linear
from . import backends, finite, sparse
from .elementwise import (
    _act_backward_bias,
    _act_backward_bias_t,
    _bernoulli_nll_grad_bias,
    _bias_act_forward,
    _gaussian_nll_grad_bias,
)
from .reparam import _reparam_backward_bias, _reparam_kl

__all__ = ["supports", "loss_and_grads", "clear_workspaces"]

_MAX_WORKSPACES = 4  # batch sizes kept per model (e.g. the full batch and an epoch's last one)

# Per model: its stage plan and its buffers by batch size. Weak keys: a copy of a model starts
# with none, and nothing here keeps a model alive.
_plans = weakref.WeakKeyDictionary()
_workspaces = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- the step
def _stages(mlp):
    """The MLP as a list of ``(Linear, activation name)`` pairs."""
    stages = []
    for layer in mlp.layers:
        if isinstance(layer, Linear):
            stages.append([layer, "identity"])
        else:
            stages[-1][1] = layer.name
    return stages


def _plan(model):
    """The encoder's and decoder's stages, built once per model (its layers are never re-bound)."""
    plan = _plans.get(model)
    if plan is None:
        enc, dec = _stages(model.encoder), _stages(model.decoder)
        fused = dec[-1][1] == "identity" and (
            not isinstance(model, Autoencoder) or enc[-1][1] == "identity")
        plan = _plans[model] = (enc, dec, fused)
    return plan


def supports(model):
    """Whether :func:`loss_and_grads` can compute this model's step.

    Parameters
    ----------
    model : object

    Returns
    -------
    bool
        True for a ``VAE`` or an ``Autoencoder`` (either likelihood) whose decoder ends in a
        Linear layer (logits or means), as every model built by ``vae_np`` does. False for a
        subclass that computes its own loss (one that overrides ``loss_and_grads``, such as an
        importance-weighted objective): its step is its own reference code.
    """
    for base in (VAE, Autoencoder):
        if isinstance(model, base):
            return type(model).loss_and_grads is base.loss_and_grads and _plan(model)[2]
    return False


def _is_batch(a, rows, cols, dtype):
    """The checks of ``check_kernel_array`` for a batch, at the cost of a few comparisons."""
    return (type(a) is np.ndarray and a.ndim == 2 and a.shape[1] == cols
            and (rows is None or a.shape[0] == rows) and a.dtype == dtype
            and a.flags.c_contiguous)


class _Workspace:
    """Buffers for one batch size: forward outputs and backward gradients of every layer."""

    def __init__(self, enc, dec, n, k, dtype):
        def bufs(stages):
            return [np.empty((n, lin.params["W"].shape[1]), dtype) for lin, _ in stages]
        self.enc_out, self.enc_grad = bufs(enc), bufs(enc)   # enc_grad[-1]: grad of its output
        self.dec_out, self.dec_grad = bufs(dec), bufs(dec)[:-1]  # the logits turn into their grad
        # the output layer's input gradient, transposed (see _backward); None for one stage
        self.dec_grad_t = np.empty(self.dec_grad[-1].shape[::-1], dtype) if self.dec_grad else None
        d = dec[-1][0].params["W"].shape[1]
        self.std, self.z, self.dz = (np.empty((n, k), dtype) for _ in range(3))
        self.E, self.L = np.empty((n, d), dtype), np.empty((n, d), dtype)
        self.col, self.total = np.empty(d, dtype), np.empty(d, np.float64)
        self.index = None          # the nonzeros of the batch (sparse first layer), when used
        self.proven_finite = None  # the decoder's last weight gradient, if a bound proved it finite


def _workspace(model, enc, dec, n):
    cache = _workspaces.setdefault(model, {})
    ws = cache.get(n)              # the architecture and dtype of a model never change
    if ws is None:
        if len(cache) >= _MAX_WORKSPACES:
            cache.clear()
        ws = cache[n] = _Workspace(enc, dec, n, model.latent_dim, model.dtype)
    return ws


def clear_workspaces(model):
    """Free the buffers kept for ``model`` (they are rebuilt on its next step)."""
    if not isinstance(model, (VAE, Autoencoder)):
        raise invalid("model", "clear_workspaces", "a vae_np.VAE or vae_np.Autoencoder", model)
    _workspaces.pop(model, None)


def _sparse_index(ws, X, build=sparse._index_batch):
    """The index of the nonzeros of ``X`` if the first layer takes the sparse kernels for this
    batch (the :func:`~vae_np.fast.backends.set_first_layer` mode and the batch's density
    decide), else None. ``build(X, index)`` fills it (the several-core step only counts here)."""
    mode = backends.get_first_layer()
    if mode == "dense":
        return None
    density = 1.0 if mode == "sparse" else sparse.AUTO_MAX_DENSITY
    index = ws.index
    if index is None or index.max_density != density:
        index = ws.index = sparse.SparseIndex(X.shape[0], X.shape[1], density)
    return index if build(X, index) else None


def _forward(stages, X, outs, last_bias=True, index=None):
    """``outs[s] = act_s(outs[s-1] @ W_s + b_s)``; the last bias is left out if asked. With the
    ``index`` of the nonzeros of ``X``, the first stage runs on the sparse kernel."""
    last = len(stages) - 1
    for s, (lin, act) in enumerate(stages):
        Y = outs[s]
        if s == 0 and index is not None:           # only for the encoder (last_bias is True)
            sparse._sparse_forward(X, index, lin.params["W"], lin.params["b"], act, Y)
            X = Y
            continue
        np.matmul(X, lin.params["W"], out=Y)
        if s < last or last_bias:
            _bias_act_forward(Y, lin.params["b"], act)
        X = Y
    return X


def _backward(stages, X, outs, grads, G, dX=None, index=None, GT=None):
    """Backward through the stages, writing (not adding) every ``W`` and ``b`` gradient.

    ``G`` holds ∂L/∂(pre-activation output of the last stage), whose bias gradient the caller
    has already written. ``dX`` (optional buffer) receives ∂L/∂X. With the ``index`` of the
    nonzeros of ``X``, the first stage's weight gradient runs on the sparse kernel, which
    also counts its NaN/inf values: that count is returned (else None). With ``GT`` (a buffer
    of the shape of ``grads[-1].T``), the last stage's input gradient is computed transposed,
    ``W @ G.T``: ``G @ W.T`` to float rounding (bit for bit with OpenBLAS where measured), and
    the cheaper product when ``W`` is the decoder's output layer (its inner dimension is the
    data's).
    """
    last = len(stages) - 1
    for s in range(last, -1, -1):
        lin = stages[s][0]
        if s == 0 and index is not None:          # the encoder's first stage (no dX)
            return sparse._sparse_weight_grad(X, index, G, lin.grads["W"])
        np.matmul((X if s == 0 else outs[s - 1]).T, G, out=lin.grads["W"])
        if s > 0:
            prev, act = stages[s - 1]
            if s == last and GT is not None:
                np.matmul(lin.params["W"], G.T, out=GT)
                G = _act_backward_bias_t(GT, outs[s - 1], act, prev.grads["b"], grads[s - 1])
                continue
            np.matmul(G, lin.params["W"].T, out=grads[s - 1])
            G = _act_backward_bias(grads[s - 1], outs[s - 1], act, prev.grads["b"])
        elif dX is not None:
            np.matmul(G, lin.params["W"].T, out=dX)


def _decode_loss(model, dec, ws, z, X):
    """Decoder forward from ``z``, the likelihood's NLL (summed over the batch) and its gradient,
    and the decoder backward into its parameter gradients and ``ws.dz`` (= ∂L/∂z)."""
    n = X.shape[0]
    A = _forward(dec, z, ws.dec_out, last_bias=False)            # logits/means without bias
    out_layer = dec[-1][0]
    if model.likelihood == "bernoulli":
        nll = _bernoulli_nll_grad_bias(A, out_layer.params["b"], X, 1.0 / n, ws.E, ws.L,
                                       out_layer.grads["b"], ws.col, ws.total)
    else:
        nll = _gaussian_nll_grad_bias(A, out_layer.params["b"], X, model.obs_std, 1.0 / n,
                                      out_layer.grads["b"])
    # A now holds ∂L/∂(decoder output)
    _backward(dec, z, ws.dec_out, ws.dec_grad, A, dX=ws.dz, GT=ws.dec_grad_t)
    ws.proven_finite = _proven_finite(ws.dec_out[-2] if len(dec) > 1 else z, A,
                                      out_layer.grads["W"])
    return nll


# Batches up to this size: the rounding of a sum of n terms stays below a factor (1 + u)^n <= e
# (u = 2^-24 for float32), inside the margin of _proven_finite.
_MAX_BOUNDED_ROWS = 2 ** 24


def _proven_finite(X, G, dW):
    """``dW`` (= ``X.T @ G``, just written by BLAS) if a bound proves all its values finite,
    else None (then it is counted like the other gradients).

    Every value of ``dW`` is a sum of ``n`` products ``X[i, j] * G[i, c]``, each at most
    ``max|X| * max|G|`` in size, so in any summation order, with rounding, it is at most
    ``n * max|X| * max|G| * (1 + u)^n``: finite when ``n * max|X| * max|G|`` is below a quarter
    of the largest float. Finding the two maxima reads ``X`` and ``G`` (the batch's activations
    and output gradient, still in the cache), which costs less than reading the larger ``dW``;
    a NaN or inf in either makes a maximum inf and the bound fail.
    """
    n = X.shape[0]
    if n > _MAX_BOUNDED_ROWS:
        return None
    bound = n * finite.max_abs(X) * finite.max_abs(G)       # NaN (inf * 0) fails the test too
    return dW if bound <= 0.25 * float(np.finfo(dW.dtype).max) else None


def _checked_step_args(model, X, eps, beta, owner):
    """The checks of a step's arguments (attribute comparisons only); returns the model's
    encoder and decoder stages and ``beta`` as a float."""
    if not (isinstance(model, (VAE, Autoencoder)) and (plan := _plan(model))[2]):
        raise invalid("model", owner, "a vae_np.VAE or vae_np.Autoencoder whose decoder ends in a "
                      "Linear layer (see fast.step.supports); use model.loss_and_grads", model)
    # every step: the cheap test first, the full check (and its message) only if it fails
    if not _is_batch(X, None, model.input_dim, model.dtype):
        check_kernel_array(X, "X", owner, (None, model.input_dim), model.dtype)
    if X.shape[0] == 0:
        raise ValueError(f"{owner}: X is empty (shape {X.shape})")
    if (eps is not None or isinstance(model, VAE)) and \
            not _is_batch(eps, X.shape[0], model.latent_dim, model.dtype):
        check_kernel_array(eps, "eps", owner, (X.shape[0], model.latent_dim), model.dtype)
    if not (type(beta) is float and 0.0 <= beta < math.inf):
        beta = check_float(beta, "beta", owner, low=0.0)
    return plan[0], plan[1], beta


def loss_and_grads(model, X, eps, beta=1.0):
    """The model's loss on a batch and its gradients, fused (the numbers of the reference path).

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
        A model for which :func:`supports` is true.
    X : ndarray of shape (n, input_dim)
        C-contiguous batch of ``model.dtype`` whose values are already validated (in [0, 1] for
        a Bernoulli likelihood, finite): only its shape, dtype and layout are checked here.
    eps : ndarray of shape (n, latent_dim)
        C-contiguous standard normal noise of ``model.dtype`` (for an Autoencoder, used only
        when ``code_noise > 0``, and may be None).
    beta : float
        Weight of the KL term (VAE only).

    Returns
    -------
    loss : float
        In nats per example (sum over pixels and latent dimensions, mean over the batch).
    grads : dict of str -> ndarray
        ``model.grads``, overwritten with this batch's gradients. Whether they are all finite
        is counted as they are written: :func:`vae_np.fast.finite.gradients_finite` tells.
    """
    enc, dec, beta = _checked_step_args(model, X, eps, beta, "fast.step.loss_and_grads")
    n = X.shape[0]
    ws = _workspace(model, enc, dec, n)
    index = _sparse_index(ws, X)
    H = _forward(enc, X, ws.enc_out, index=index)
    if isinstance(model, VAE):                                      # H = [mu, logvar]
        kl = _reparam_kl(H, eps, ws.std, ws.z) / n
        recon = _decode_loss(model, dec, ws, ws.z, X) / n
        dH = _reparam_backward_bias(ws.dz, eps, ws.std, H, beta / n, ws.enc_grad[-1],
                                    enc[-1][0].grads["b"])
    else:                                                           # H = the code
        z = H
        if model.code_noise > 0 and eps is not None:
            z = ws.z
            np.multiply(eps, model.dtype.type(model.code_noise), out=z)
            z += H
        kl = 0.0
        recon = _decode_loss(model, dec, ws, z, X) / n
        dH = ws.dz
        dH.sum(axis=0, out=enc[-1][0].grads["b"])
    bad = _backward(enc, X, ws.enc_out, ws.enc_grad, dH, index=index)  # counted if sparse
    counted = enc[0][0].grads["W"] if bad is not None else None   # the step's finite check:
    proven = ws.proven_finite
    finite.record(model, (bad or 0) + finite.count_nonfinite(
        g for g in model.grads.values() if g is not counted and g is not proven) == 0)
    loss = recon + beta * kl
    model.terms = {"loss": loss, "recon": recon, "kl": kl}
    return loss, model.grads
