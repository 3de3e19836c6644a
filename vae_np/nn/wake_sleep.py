"""Wake-sleep (Hinton et al., 1995): the algorithm AEVB was compared with, for a VAE's two MLPs.

A :class:`~vae_np.nn.vae.VAE` has a generative model ``p_theta(z) p_theta(x|z)`` (the decoder)
and a recognition model ``q_phi(z|x)`` (the encoder). AEVB follows the gradient of one objective,
the ELBO, for both. Wake-sleep gives each network its own, easier objective:

* **wake** (updates theta): encode a data batch, draw ``z ~ q_phi(z|x)``, and treat the pair
  ``(x, z)`` as if it were fully observed: maximise ``log p_theta(x|z) + log p(z)``. No gradient
  flows into the encoder (``z`` is data to the decoder).
* **sleep** (updates phi): *dream* a batch from the generative model, ``z ~ p(z)`` and
  ``x ~ p_theta(x|z)``, and fit the encoder to recover the ``z`` that made each ``x``: maximise
  ``log q_phi(z|x)``. No gradient flows into the decoder.

The sleep phase minimises ``KL(p_theta(z|x) || q_phi(z|x))`` averaged over the model's own
dreams, not the ELBO's ``KL(q || p)`` on the data: that mismatch is why wake-sleep has no single
objective and can converge to a worse bound. Here one training step computes the wake gradient
(for the decoder's parameters) and the sleep gradient (for the encoder's) from the same current
parameters and applies them in **one** optimizer update, so any :class:`~vae_np.nn.optim.Optimizer`
keeps one state per parameter.

Scaling as everywhere in ``vae_np``: losses are sums over pixels and latent dimensions and means
over the batch (nats per example).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import (
    check_array,
    check_bool,
    check_float,
    check_instance,
    check_positive_int,
    check_seed,
)
from .losses import log_normal_diag, log_normal_std, nll_and_grad, sigmoid
from .optim import Optimizer
from .vae import VAE, reparameterize

__all__ = ["dream", "wake_loss_and_grads", "sleep_loss_and_grads", "wake_sleep_loss_and_grads",
           "fit_wake_sleep", "WakeSleepHistory"]


def _check_model(model, owner):
    return check_instance(model, VAE, "model", owner, "a vae_np.VAE (its encoder is the "
                          "recognition model, its decoder the generative model)")


def _check_pair(model, X, noise, noise_name, n_features, owner):
    X = model._check_X(X)
    noise = check_array(noise, noise_name, n_features=n_features, dtype=model.dtype)
    if len(noise) != len(X):
        raise ValueError(f"{owner}: {noise_name} must have {len(X)} rows like X, got {len(noise)}")
    return X, noise


def dream(model, Z, U):
    """Dream data from the generative model: ``x ~ p_theta(x|z)`` for given codes ``z``.

    Parameters
    ----------
    model : vae_np.VAE
    Z : ndarray of shape (n, latent_dim)
        Codes, for the sleep phase drawn from the prior ``N(0, I)``.
    U : ndarray of shape (n, input_dim)
        The sampling noise, so that a dream is a function of its inputs: uniform on [0, 1) for
        the Bernoulli likelihood (``x = [u < sigmoid(logits)]``), standard normal for the
        Gaussian one (``x = mean + obs_std * u``).

    Returns
    -------
    ndarray of shape (n, input_dim), of the model's dtype
    """
    _check_model(model, "dream")
    Z = model._check_Z(Z)
    U = check_array(U, "U", n_features=model.input_dim, dtype=model.dtype)
    if len(U) != len(Z):
        raise ValueError(f"dream: U must have {len(Z)} rows like Z, got {len(U)}")
    out = model.decoder.forward(Z)
    if model.likelihood == "bernoulli":
        return (U < sigmoid(out)).astype(model.dtype)
    return (out + model.dtype.type(model.obs_std) * U).astype(model.dtype)


def _wake(model, X, eps):
    """The wake phase into the decoder's gradients only: loss and the decoder's backward."""
    mu, logvar = model._encode(X)
    z, _ = reparameterize(mu, logvar, eps)           # a sample of q(z|x), held fixed below
    nll, dout = nll_and_grad(model.decoder.forward(z), X, model.likelihood, model.obs_std)
    model.decoder.zero_grad()
    model.decoder.backward(dout)
    # -log p(z) is a constant for theta (the prior has no parameters): reported, not differentiated
    return nll - float(log_normal_std(z.astype(np.float64)).mean())


def _sleep(model, Z, X):
    """The sleep phase into the encoder's gradients only: ``-mean log q(z|x)`` and its backward."""
    mu, logvar = model._encode(X)
    n = len(X)
    loss = -float(log_normal_diag(Z.astype(np.float64), mu.astype(np.float64),
                                  logvar.astype(np.float64)).mean())
    r = Z - mu
    inv_var = np.exp(-logvar)
    dmu = -r * inv_var / n                             # d/dmu of 0.5 (z - mu)**2 / var
    dlogvar = 0.5 * (1 - r * r * inv_var) / n          # d/dlogvar of 0.5 (r**2 e^-logvar + logvar)
    model.encoder.zero_grad()
    model.encoder.backward(np.concatenate([dmu, dlogvar], axis=1).astype(model.dtype, copy=False))
    return loss


def wake_loss_and_grads(model, X, eps):
    """The wake phase: ``-(1/n) sum_i [log p_theta(x_i|z_i) + log p(z_i)]`` and its theta-gradient.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
        A data batch.
    eps : ndarray of shape (n, latent_dim)
        Standard normal noise: ``z = mu + exp(0.5*logvar) * eps`` is a sample of ``q_phi(z|x)``.

    Returns
    -------
    loss : float
        ``-log p(x, z)`` per example, in nats (the ``log p(z)`` term has no parameters).
    grads : dict of str -> ndarray
        ``model.grads``: the decoder's ``"dec.*"`` entries hold ∂loss/∂theta at fixed ``z``; the
        encoder's ``"enc.*"`` entries are zero (the wake phase does not train the encoder).

    Notes
    -----
    Backward: the decoder's backward pass from ``dlogits = (sigmoid(logits) - x) / n``, exactly
    the VAE's reconstruction gradient, stopped at ``z``.
    """
    _check_model(model, "wake_loss_and_grads")
    X, eps = _check_pair(model, X, eps, "eps", model.latent_dim, "wake_loss_and_grads")
    loss = _wake(model, X, eps)
    model.encoder.zero_grad()
    return loss, model.grads


def sleep_loss_and_grads(model, Z, X):
    """The sleep phase: ``-(1/n) sum_i log q_phi(z_i|x_i)`` on dreamed pairs and its phi-gradient.

    Parameters
    ----------
    model : vae_np.VAE
    Z : ndarray of shape (n, latent_dim)
        The codes the dreams were made from (``z ~ p(z)``).
    X : ndarray of shape (n, input_dim)
        The dreams, ``x ~ p_theta(x|z)`` (:func:`dream`).

    Returns
    -------
    loss : float
        ``-log q(z|x)`` per example, in nats.
    grads : dict of str -> ndarray
        ``model.grads``: the encoder's ``"enc.*"`` entries hold ∂loss/∂phi; the decoder's are zero.

    Notes
    -----
    With ``r = z - mu`` and ``v = exp(logvar)``: ``dmu = -r / (v n)`` and
    ``dlogvar = 0.5 (1 - r**2 / v) / n``, then the encoder's backward pass.
    """
    _check_model(model, "sleep_loss_and_grads")
    X, Z = _check_pair(model, X, Z, "Z", model.latent_dim, "sleep_loss_and_grads")
    loss = _sleep(model, Z, X)
    model.decoder.zero_grad()
    return loss, model.grads


def wake_sleep_loss_and_grads(model, X, eps, Z, U):
    """One wake-sleep step's gradients: wake into the decoder, then sleep into the encoder.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
        The data batch of the wake phase.
    eps : ndarray of shape (n, latent_dim)
        Noise of the wake phase's ``z ~ q(z|x)``.
    Z : ndarray of shape (m, latent_dim)
        Prior samples for the dreams.
    U : ndarray of shape (m, input_dim)
        Sampling noise of the dreams (see :func:`dream`).

    Returns
    -------
    wake_loss, sleep_loss : float
        As in :func:`wake_loss_and_grads` and :func:`sleep_loss_and_grads`.
    grads : dict of str -> ndarray
        ``model.grads``: wake gradients in ``"dec.*"``, sleep gradients in ``"enc.*"``, both
        computed from the parameters as they were before this step.
    """
    _check_model(model, "wake_sleep_loss_and_grads")
    X, eps = _check_pair(model, X, eps, "eps", model.latent_dim, "wake_sleep_loss_and_grads")
    wake = _wake(model, X, eps)
    dreams = dream(model, Z, U)
    return wake, _sleep(model, model._check_Z(Z), dreams), model.grads


@dataclass
class WakeSleepHistory:
    """Per-epoch record of :func:`fit_wake_sleep` (nats per example, means over the epoch).

    Attributes
    ----------
    epoch : list of int
    wake_loss : list of float
        ``-log p(x, z)`` with ``z ~ q(z|x)`` on the training batches.
    sleep_loss : list of float
        ``-log q(z|x)`` on the dreams.
    """
    epoch: list = field(default_factory=list)
    wake_loss: list = field(default_factory=list)
    sleep_loss: list = field(default_factory=list)


def fit_wake_sleep(model, X, epochs, batch_size, optimizer, seed, dynamic_binarization=False,
                   weight_decay=0.0):
    """Train a VAE's two networks by wake-sleep, with ``vae_np.fit``'s conventions.

    The data side is drawn exactly as :func:`vae_np.fit` draws it from the same ``seed``: a fresh
    permutation per epoch, the same batches, the same dynamic binarization and the same wake
    noise ``eps``. The dreams (``batch_size`` of them per step) come from a second generator
    seeded by ``[seed, 1]``, so they do not shift that stream. Pure NumPy (the reference path).

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
        Training data (in [0, 1] for a Bernoulli likelihood).
    epochs, batch_size : int
    optimizer : vae_np.nn.optim.Optimizer
        One update per step with the wake (decoder) and sleep (encoder) gradients together.
    seed : int
        Seed of the order, binarization, wake noise and dreams: training is deterministic.
    dynamic_binarization : bool
        Resample every batch as ``x ~ Bernoulli(intensities)`` (Bernoulli likelihood only).
    weight_decay : float
        Adds ``weight_decay * theta`` to every gradient, as ``vae_np.fit`` does (``1 / len(X)``
        is MAP training under a ``N(0, I)`` prior on the parameters).

    Returns
    -------
    WakeSleepHistory

    Raises
    ------
    FloatingPointError
        If a loss or gradient is NaN or inf (the parameters are left at the last finite step).
    """
    owner = "fit_wake_sleep"
    _check_model(model, owner)
    check_instance(optimizer, Optimizer, "optimizer", owner,
                   "a vae_np optimizer instance such as vae_np.Adagrad(lr=0.02)")
    epochs = check_positive_int(epochs, "epochs", owner)
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    seed = check_seed(seed, "seed", owner)
    dynamic_binarization = check_bool(dynamic_binarization, "dynamic_binarization", owner)
    weight_decay = check_float(weight_decay, "weight_decay", owner, low=0.0)
    bernoulli = model.likelihood == "bernoulli"
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype, unit_interval=bernoulli)
    if dynamic_binarization and not bernoulli:
        raise ValueError("dynamic_binarization needs likelihood='bernoulli'")
    rng, dream_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    n, dt = len(X), model.dtype
    batch_size = min(batch_size, n)
    decay = dt.type(weight_decay)
    history = WakeSleepHistory()
    for epoch in range(1, epochs + 1):
        order, sums = rng.permutation(n), np.zeros(2)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb = np.take(X, idx, axis=0)
            if dynamic_binarization:       # the same draws as vae_np.fit: u < x, u uniform
                u = rng.random(xb.shape, dtype=dt)
                xb = np.less(u, xb).astype(dt)
            eps = rng.standard_normal(model.noise_shape(len(idx)), dtype=dt)
            Z = dream_rng.standard_normal((len(idx), model.latent_dim), dtype=dt)
            U = (dream_rng.random((len(idx), model.input_dim), dtype=dt) if bernoulli
                 else dream_rng.standard_normal((len(idx), model.input_dim), dtype=dt))
            wake, sleep, grads = wake_sleep_loss_and_grads(model, xb, eps, Z, U)
            if not (math.isfinite(wake) and math.isfinite(sleep)
                    and all(np.isfinite(g).all() for g in grads.values())):
                raise FloatingPointError(f"a wake-sleep loss or gradient became NaN/inf at epoch "
                                         f"{epoch}; try a smaller learning rate")
            if weight_decay:
                for name, p in model.params.items():
                    grads[name] += decay * p
            optimizer.step(model.params, grads)
            sums += len(idx) * np.array([wake, sleep])
        history.epoch.append(epoch)
        history.wake_loss.append(float(sums[0] / n))
        history.sleep_loss.append(float(sums[1] / n))
    return history
