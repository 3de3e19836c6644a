"""The inference gaps of a VAE (Cremer et al., 2018): how far the encoder's ELBO is from log p(x).

For a trained decoder ``p(x|z)`` and an example ``x``,

``log p(x) - ELBO(x; q_encoder) = [log p(x) - ELBO(x; q*)] + [ELBO(x; q*) - ELBO(x; q_encoder)]``

* the **approximation gap** (first bracket): even the best diagonal Gaussian ``q*`` for this ``x``
  is not the true posterior; ``KL(q* || p(z|x))`` remains;
* the **amortization gap** (second bracket): the encoder, one network for all ``x``, does not
  output that best Gaussian.

``q*`` is found by optimising each example's own ``(mu, logvar)``, starting from the encoder's
output, with the decoder fixed (:func:`optimise_local`, Adam on the local variables, a fresh
``eps`` every step); ``log p(x)`` is estimated by importance sampling, with ``q*`` and with the
encoder's ``q`` as proposals (the larger estimate is kept).
Everything is per example, in nats (float64 results).
"""
from __future__ import annotations

import copy

import numpy as np

from .._validation import (
    check_array,
    check_instance,
    check_positive_float,
    check_positive_int,
    check_rng,
    check_seed,
    check_sizes,
)
from ..data import binarize
from ..nn.layers import MLP
from ..nn.losses import (
    kl_normal_std_per_example,
    log_normal_diag,
    log_normal_std,
    logsumexp,
    nll_and_grad,
)
from ..nn.optim import Adam
from ..nn.vae import VAE

__all__ = ["local_elbo", "optimise_local", "local_log_likelihood", "encode_with", "fit_encoder",
           "inference_gaps"]


def _check_local(model, X, mu, logvar, owner):
    check_instance(model, VAE, "model", owner, "a vae_np.VAE")
    X = model._check_X(X)
    mu = check_array(mu, "mu", n_features=model.latent_dim, dtype=np.float64)
    logvar = check_array(logvar, "logvar", n_features=model.latent_dim, dtype=np.float64)
    if not len(X) == len(mu) == len(logvar):
        raise ValueError(f"X, mu and logvar must have the same number of rows, got {len(X)}, "
                         f"{len(mu)} and {len(logvar)}")
    return X, mu, logvar


def _local_elbo(decoder, model, X, mu, logvar, eps, grad):
    """ELBO per example (averaged over the samples in ``eps``) and, if ``grad``, its gradient."""
    n, S, L = eps.shape
    std = np.exp(0.5 * logvar)
    z = mu[:, None, :] + std[:, None, :] * eps                          # (n, S, L)
    out = decoder.forward(z.reshape(n * S, L).astype(model.dtype))
    XS = np.repeat(X, S, axis=0)                                       # row i*S + s is x_i
    log_px = model._log_px(out, XS).reshape(n, S).astype(np.float64).mean(axis=1)
    elbo = log_px - kl_normal_std_per_example(mu, logvar)
    if not grad:
        return elbo, None, None
    # nll_and_grad's dout is d(mean over n*S rows)/d out; the gradient of sum_i ELBO_i is -n times
    _, dout = nll_and_grad(out, XS, model.likelihood, model.obs_std)
    decoder.zero_grad()
    dz = decoder.backward(dout * model.dtype.type(-n)).reshape(n, S, L).astype(np.float64)
    dmu = dz.sum(axis=1) - mu
    dlogvar = (0.5 * dz * eps).sum(axis=1) * std - 0.5 * (np.exp(logvar) - 1)
    return elbo, dmu, dlogvar


def local_elbo(model, X, mu, logvar, eps):
    """The ELBO of each example under its own Gaussian ``q = N(mu, diag(exp(logvar)))``.

    Parameters
    ----------
    model : vae_np.VAE
        Its decoder is used (and not changed: a copy runs the backward pass).
    X : ndarray of shape (n, input_dim)
    mu, logvar : ndarray of shape (n, latent_dim)
        The local variational parameters of each example.
    eps : ndarray of shape (n, S, latent_dim)
        Standard normal noise: ``S`` samples ``z = mu + exp(0.5 logvar) eps`` per example.

    Returns
    -------
    elbo : ndarray of shape (n,)
        ``(1/S) sum_s log p(x|z_s) - KL(q || p(z))`` (closed-form KL), float64.
    dmu, dlogvar : ndarray of shape (n, latent_dim)
        ``d elbo_i / d mu_i`` and ``d elbo_i / d logvar_i`` at this fixed ``eps``: the decoder's
        ``dz`` summed over the samples, minus the KL's ``mu`` and ``0.5 (exp(logvar) - 1)``,
        with ``dz/dlogvar = 0.5 eps exp(0.5 logvar)``.
    """
    X, mu, logvar = _check_local(model, X, mu, logvar, "local_elbo")
    eps = check_array(eps, "eps", ndim=3, n_features=model.latent_dim, dtype=np.float64)
    if len(eps) != len(X):
        raise ValueError(f"eps must have shape (len(X), S, latent_dim), got {eps.shape}")
    return _local_elbo(copy.deepcopy(model.decoder), model, X, mu, logvar, eps, grad=True)


def optimise_local(model, X, mu, logvar, rng, steps=300, lr=0.02, n_samples=1):
    """Maximise each example's ELBO over its own ``(mu, logvar)``, the decoder fixed.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    mu, logvar : ndarray of shape (n, latent_dim)
        Where to start (the encoder's output, for the amortization gap).
    rng : numpy.random.Generator
        Source of a fresh ``eps`` at every step.
    steps : int
        Adam steps.
    lr : float
        Adam's learning rate.
    n_samples : int
        Samples of ``z`` per example and step.

    Returns
    -------
    mu, logvar : ndarray of shape (n, latent_dim), float64
        The optimised local parameters (new arrays).

    Notes
    -----
    The objective is the sum of the examples' ELBOs, so each example's variables receive only
    its own gradient; Adam works coordinate by coordinate, so this is one independent optimiser
    per example, run side by side.
    """
    X, mu, logvar = _check_local(model, X, mu, logvar, "optimise_local")
    check_rng(rng, "rng", "optimise_local")
    steps = check_positive_int(steps, "steps", "optimise_local")
    lr = check_positive_float(lr, "lr", "optimise_local")
    n_samples = check_positive_int(n_samples, "n_samples", "optimise_local")
    decoder = copy.deepcopy(model.decoder)
    params = {"mu": mu.copy(), "logvar": logvar.copy()}
    grads = {"mu": np.empty_like(mu), "logvar": np.empty_like(logvar)}
    opt = Adam(lr=lr)
    shape = (len(X), n_samples, model.latent_dim)
    for _ in range(steps):
        eps = rng.standard_normal(shape)
        _, dmu, dlogvar = _local_elbo(decoder, model, X, params["mu"], params["logvar"], eps,
                                      grad=True)
        np.negative(dmu, out=grads["mu"])              # Adam minimises: the negative ELBO
        np.negative(dlogvar, out=grads["logvar"])
        opt.step(params, grads)
    return params["mu"], params["logvar"]


def local_log_likelihood(model, X, mu, logvar, rng, k=1000, batch_size=None):
    """Importance-sampled ``log p(x)`` with the proposal ``N(mu, diag(exp(logvar)))`` per example.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    mu, logvar : ndarray of shape (n, latent_dim)
    rng : numpy.random.Generator
    k : int
        Importance samples per example.
    batch_size : int, optional
        Examples at once (default keeps ``k * batch_size`` near 5,000 decoded rows).

    Returns
    -------
    ndarray of shape (n,)
        ``log (1/k) sum_s p(x, z_s) / q(z_s)``, ``z_s ~ q``: a stochastic lower bound on
        ``log p(x)`` that tightens as ``k`` grows, and the better the proposal, the faster.
    """
    X, mu, logvar = _check_local(model, X, mu, logvar, "local_log_likelihood")
    check_rng(rng, "rng", "local_log_likelihood")
    k = check_positive_int(k, "k", "local_log_likelihood")
    batch_size = max(1, 5000 // k) if batch_size is None else batch_size
    batch_size = check_positive_int(batch_size, "batch_size", "local_log_likelihood")
    L = model.latent_dim
    out = np.empty(len(X))
    for s in range(0, len(X), batch_size):
        m, lv, Xb = mu[s:s + batch_size], logvar[s:s + batch_size], X[s:s + batch_size]
        b = len(Xb)
        z = m + np.exp(0.5 * lv) * rng.standard_normal((k, b, L))         # (k, b, L)
        dec = model.decoder.forward(z.reshape(k * b, L).astype(model.dtype))
        log_px = model._log_px(dec, np.tile(Xb, (k, 1))).reshape(k, b).astype(np.float64)
        log_w = log_px + log_normal_std(z) - log_normal_diag(z, m, lv)
        out[s:s + b] = logsumexp(log_w, axis=0) - np.log(k)
    return out


def encode_with(encoder, X, latent_dim):
    """``(mu, logvar)`` of an encoder MLP whose output is ``mu`` then ``logvar``, float64.

    Parameters
    ----------
    encoder : vae_np.MLP
        Output width ``2 * latent_dim`` (a VAE's ``model.encoder``, or :func:`fit_encoder`'s).
    X : ndarray of shape (n, input_dim)
    latent_dim : int

    Returns
    -------
    mu, logvar : ndarray of shape (n, latent_dim)
    """
    check_instance(encoder, MLP, "encoder", "encode_with", "a vae_np.MLP")
    latent_dim = check_positive_int(latent_dim, "latent_dim", "encode_with")
    X = check_array(X, "X", n_features=encoder.sizes[0], dtype=encoder.layers[0].params["W"].dtype)
    if encoder.sizes[-1] != 2 * latent_dim:
        raise ValueError(f"the encoder outputs {encoder.sizes[-1]} columns, not 2 * latent_dim "
                         f"= {2 * latent_dim}")
    h = encoder.forward(X).astype(np.float64)
    return h[:, :latent_dim].copy(), h[:, latent_dim:].copy()


def fit_encoder(model, X, hidden_dims, epochs, batch_size=100, lr=1e-3, seed=0):
    """Train a new encoder of the given widths against the model's decoder, kept fixed.

    The encoder maximises the ELBO with one ``z`` per example (dynamically binarized batches for
    a Bernoulli model), the AEVB loop of ``vae_np.fit`` with the decoder frozen. Encoders of
    different sizes trained against one decoder share ``log p(x)`` and the best Gaussian ``q*``,
    so their gaps differ only by amortization.

    Parameters
    ----------
    model : vae_np.VAE
        Supplies the decoder (unchanged), the activation and the dtype.
    X : ndarray of shape (n, input_dim)
    hidden_dims : sequence of int
        Hidden widths of the new encoder (``()``: a linear encoder).
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the initial weights, the order, the noise and the binarization.

    Returns
    -------
    vae_np.MLP
        ``input_dim -> hidden_dims -> 2 * latent_dim``; use it with :func:`encode_with`.
    """
    check_instance(model, VAE, "model", "fit_encoder", "a vae_np.VAE")
    X = model._check_X(X)
    hidden_dims = check_sizes(hidden_dims, "hidden_dims", "fit_encoder")
    epochs = check_positive_int(epochs, "epochs", "fit_encoder")
    batch_size = check_positive_int(batch_size, "batch_size", "fit_encoder")
    lr = check_positive_float(lr, "lr", "fit_encoder")
    rng = np.random.default_rng(check_seed(seed, "seed", "fit_encoder"))
    L = model.latent_dim
    encoder = MLP([model.input_dim, *hidden_dims, 2 * L], model.activation, rng=rng,
                  dtype=model.dtype)
    decoder = copy.deepcopy(model.decoder)
    opt = Adam(lr=lr)
    bernoulli = model.likelihood == "bernoulli"
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[order[s:s + batch_size]]
            Xb = binarize(Xb, rng).astype(model.dtype) if bernoulli else Xb
            h = encoder.forward(Xb).astype(np.float64)
            eps = rng.standard_normal((len(Xb), 1, L))
            _, dmu, dlogvar = _local_elbo(decoder, model, Xb, h[:, :L], h[:, L:], eps, True)
            encoder.zero_grad()   # the loss is the mean negative ELBO of the batch
            encoder.backward((np.concatenate([dmu, dlogvar], axis=1) / -len(Xb))
                             .astype(model.dtype))
            opt.step(encoder.params, encoder.grads)
    return encoder


def inference_gaps(model, X, rng, encoder=None, steps=300, lr=0.02, n_samples=1, k=1000,
                   elbo_samples=100):
    """``log p(x)``, the best Gaussian's ELBO and the encoder's ELBO of every example.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    rng : numpy.random.Generator
    encoder : vae_np.MLP, optional
        The amortized encoder to assess (default ``model.encoder``).
    steps, lr, n_samples
        Of :func:`optimise_local`.
    k : int
        Importance samples of each ``log p(x)`` estimate (proposals ``q*`` and the encoder's
        ``q``; the larger of the two estimates is returned).
    elbo_samples : int
        Samples of ``z`` per example in both ELBO estimates.

    Returns
    -------
    dict of str -> ndarray of shape (n,)
        ``log_px``, ``elbo_opt`` (of ``q*``), ``elbo_enc`` (of the encoder), and the two gaps:
        ``approximation = log_px - elbo_opt`` and ``amortization = elbo_opt - elbo_enc``; also
        ``mu`` and ``logvar`` of ``q*`` (shape (n, latent_dim)).
    """
    check_instance(model, VAE, "model", "inference_gaps", "a vae_np.VAE")
    check_rng(rng, "rng", "inference_gaps")
    elbo_samples = check_positive_int(elbo_samples, "elbo_samples", "inference_gaps")
    X = model._check_X(X)
    mu0, lv0 = encode_with(model.encoder if encoder is None else encoder, X, model.latent_dim)
    mu, lv = optimise_local(model, X, mu0, lv0, rng, steps, lr, n_samples)
    shape = (len(X), elbo_samples, model.latent_dim)
    elbo_enc, _, _ = _local_elbo(model.decoder, model, X, mu0, lv0, rng.standard_normal(shape),
                                 grad=False)
    elbo_opt, _, _ = _local_elbo(model.decoder, model, X, mu, lv, rng.standard_normal(shape),
                                 grad=False)
    # q* is fitted to the ELBO, which favours proposals narrower than the posterior; the
    # encoder's q is often broader. Both estimates are lower bounds in expectation: keep the best
    log_px = np.maximum(local_log_likelihood(model, X, mu, lv, rng, k=k),
                        local_log_likelihood(model, X, mu0, lv0, rng, k=k))
    return {"log_px": log_px, "elbo_opt": elbo_opt, "elbo_enc": elbo_enc,
            "approximation": log_px - elbo_opt, "amortization": elbo_opt - elbo_enc,
            "mu": mu, "logvar": lv}
