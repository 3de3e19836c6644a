"""The fused training step: the VAE's loss and gradients with (almost) no allocation.

:meth:`vae_np.VAE.loss_and_grads` written layer by layer (``layers.py``) is the readable version:
every layer allocates its output, every activation its gradient, and each elementwise formula
makes a few NumPy temporaries. This module computes exactly the same numbers for a whole
784-400-20-style VAE step with

* the GEMMs on BLAS, writing into **preallocated buffers** (``np.matmul(..., out=buf)``) and
  straight into the gradient arrays (``dW = X.T @ dZ`` lands in ``grads["W"]``);
* the elementwise work **fused** into few passes over memory (:mod:`vae_np.kernels`): bias +
  activation; activation backward + the bias gradient (a column sum); output bias + Bernoulli
  NLL + its gradient + the output bias gradient; reparameterization + KL; reparameterization
  backward + KL gradient + the encoder's last bias gradient;
* no gradient with respect to the input data (the first layer's ``dX`` is never needed).

The buffers live in a small per-model cache keyed by the batch size, so a training loop reuses
them from step to step (a fresh 400 kB temporary costs page faults on every step).

Which kernels run follows :func:`vae_np.kernels.set_backend`; the model uses this module only
with the ``"numba"`` backend, and the layer-by-layer path with ``"numpy"`` (the reference).
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .layers import Linear

__all__ = ["supports", "vae_loss_and_grads", "clear_workspaces"]

_MAX_WORKSPACES = 4  # batch sizes kept per model (e.g. the full batch and an epoch's last one)


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
    """The encoder's and decoder's stages, built once per model (layers are never re-bound)."""
    plan = model.__dict__.get("_fused_plan")
    if plan is None:
        plan = model.__dict__["_fused_plan"] = (_stages(model.encoder), _stages(model.decoder))
    return plan


def supports(model):
    """Whether :func:`vae_loss_and_grads` can compute this model's step.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder

    Returns
    -------
    bool
        True for a VAE with a Bernoulli likelihood and logits as decoder output.
    """
    from .models import VAE
    return (isinstance(model, VAE) and model.likelihood == "bernoulli"
            and _plan(model)[1][-1][1] == "identity")


class _Workspace:
    """Buffers for one batch size: forward outputs and backward gradients of every layer."""

    def __init__(self, enc, dec, n, k, dtype):
        def bufs(stages):
            return [np.empty((n, lin.params["W"].shape[1]), dtype) for lin, _ in stages]
        self.enc_out, self.enc_grad = bufs(enc), bufs(enc)   # enc_grad[-1] holds [dmu, dlogvar]
        self.dec_out, self.dec_grad = bufs(dec), bufs(dec)[:-1]  # the logits turn into their grad
        d = dec[-1][0].params["W"].shape[1]
        self.std, self.z, self.dz = (np.empty((n, k), dtype) for _ in range(3))
        self.E, self.L = np.empty((n, d), dtype), np.empty((n, d), dtype)
        self.col, self.total = np.empty(d, dtype), np.empty(d, np.float64)


def _workspace(model, enc, dec, n):
    cache = model.__dict__.setdefault("_fused_workspaces", {})
    key = n                       # the architecture and dtype of a model never change
    ws = cache.get(key)
    if ws is None:
        if len(cache) >= _MAX_WORKSPACES:
            cache.clear()
        ws = cache[key] = _Workspace(enc, dec, n, model.latent_dim, model.dtype)
    return ws


def clear_workspaces(model):
    """Free the buffers cached on ``model`` (they are rebuilt on the next step)."""
    model.__dict__.pop("_fused_workspaces", None)


def _forward(stages, X, outs, last_bias=True):
    """``outs[s] = act_s(outs[s-1] @ W_s + b_s)``; the last bias is left out if asked."""
    last = len(stages) - 1
    for s, (lin, act) in enumerate(stages):
        Y = outs[s]
        np.matmul(X, lin.params["W"], out=Y)
        if s < last or last_bias:
            kernels.bias_act_forward(Y, lin.params["b"], act)
        X = Y
    return X


def _backward(stages, X, outs, grads, G, dX=None):
    """Backward through the stages, writing (not adding) every ``W`` and ``b`` gradient.

    ``G`` holds ∂L/∂(pre-activation output of the last stage), whose bias gradient the caller
    has already written. ``dX`` (optional buffer) receives ∂L/∂X.
    """
    for s in range(len(stages) - 1, -1, -1):
        lin = stages[s][0]
        np.matmul((X if s == 0 else outs[s - 1]).T, G, out=lin.grads["W"])
        if s > 0:
            prev, act = stages[s - 1]
            np.matmul(G, lin.params["W"].T, out=grads[s - 1])
            G = kernels.act_backward_bias(grads[s - 1], outs[s - 1], act, prev.grads["b"])
        elif dX is not None:
            np.matmul(G, lin.params["W"].T, out=dX)


def vae_loss_and_grads(model, X, eps, beta=1.0):
    """Negative ELBO of a batch and its gradients, fused (same result as the layer path).

    Parameters
    ----------
    model : vae_np.VAE
        A model for which :func:`supports` is true.
    X : ndarray of shape (n, input_dim)
        C-contiguous batch of ``model.dtype``, values in [0, 1] (already validated).
    eps : ndarray of shape (n, latent_dim)
        C-contiguous standard normal noise of ``model.dtype``.
    beta : float
        Weight of the KL term.

    Returns
    -------
    loss : float
        ``recon + beta * kl`` in nats per example (sum over pixels and latent dimensions, mean
        over the batch).
    grads : dict of str -> ndarray
        ``model.grads``, overwritten with this batch's gradients.
    """
    n = X.shape[0]
    enc, dec = _plan(model)
    ws = _workspace(model, enc, dec, n)
    H = _forward(enc, X, ws.enc_out)                                # (n, 2k): mu, logvar
    kl = kernels.reparam_kl(H, eps, ws.std, ws.z)
    A = _forward(dec, ws.z, ws.dec_out, last_bias=False)            # logits without bias
    out_layer = dec[-1][0]
    nll = kernels.bernoulli_nll_grad_bias(A, out_layer.params["b"], X, 1.0 / n, ws.E, ws.L,
                                          out_layer.grads["b"], ws.col, ws.total)
    # A is now dL/dlogits
    _backward(dec, ws.z, ws.dec_out, ws.dec_grad, A, dX=ws.dz)
    dH = kernels.reparam_backward_bias(ws.dz, eps, ws.std, H, beta / n, ws.enc_grad[-1],
                                       enc[-1][0].grads["b"])
    _backward(enc, X, ws.enc_out, ws.enc_grad, dH)
    recon, kl = nll / n, kl / n
    loss = recon + beta * kl
    model.terms = {"loss": loss, "recon": recon, "kl": kl}
    return loss, model.grads
