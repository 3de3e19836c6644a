"""The conditional VAE (chapter 7), and the small training loop of the chapter's models.

A conditional VAE models ``p(x | y)`` for a known condition ``y`` (here a digit's label, one-hot):
the encoder is ``q(z | x, y)`` and the decoder ``p(x | z, y)``, each an MLP whose input is the
concatenation of its usual input and ``y``; the prior stays ``p(z) = N(0, I)``. The ELBO is the
VAE's with every distribution conditioned on ``y``:

``log p(x | y) >= E_q(z|x,y)[log p(x | z, y)] - KL(q(z | x, y) || p(z))``.

Because the decoder is told ``y``, the code ``z`` need not carry it: it is free to describe
what the label does not say (the style of the handwriting).
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_array, check_positive_int, check_rng
from .base import Model
from .layers import MLP
from .losses import (
    kl_normal_std,
    kl_normal_std_per_example,
    log_normal_diag,
    log_normal_std,
    logsumexp,
    nll_and_grad,
    sigmoid,
)
from .vae import reparameterize

__all__ = ["ConditionalVAE", "one_hot", "importance_log_mean", "fit_conditional"]


def one_hot(y, n_classes, dtype=np.float32):
    """One-hot rows of integer labels.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels in ``0 .. n_classes - 1``.
    n_classes : int
    dtype : numpy dtype

    Returns
    -------
    ndarray of shape (n, n_classes)
        Row ``i`` is 1 in column ``y[i]`` and 0 elsewhere.
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got shape {y.shape} and dtype "
                         f"{y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got values in "
                         f"[{y.min()}, {y.max()}]")
    out = np.zeros((len(y), n_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def importance_log_mean(log_w):
    """``log (1/k) sum_s exp(log_w[s])`` over the first axis, with log-sum-exp.

    The importance-sampling estimate of a log-likelihood from ``k`` log-weights
    ``log_w[s] = log p(x, z_s) - log q(z_s)``, ``z_s ~ q``: for ``k = 1`` it is the one-sample
    ELBO, and its expectation rises with ``k`` towards the log-likelihood (Burda et al., 2015).

    Parameters
    ----------
    log_w : ndarray of shape (k, n)

    Returns
    -------
    ndarray of shape (n,), float64
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    if log_w.ndim != 2:
        raise ValueError(f"log_w must have shape (k, n), got {log_w.shape}")
    return logsumexp(log_w, axis=0) - math.log(len(log_w))


class ConditionalVAE(Model):
    """A VAE conditioned on a class label: ``q(z | x, y)`` and ``p(x | z, y)``, ``p(z) = N(0, I)``.

    Parameters
    ----------
    input_dim : int
        Size ``d`` of one flattened input (784 for MNIST).
    n_classes : int
        Number of classes ``C``; ``y`` enters both networks as a one-hot vector.
    hidden_dims : sequence of int
        Hidden widths of the encoder (the decoder mirrors them).
    latent_dim : int
        Size ``k`` of the code.
    activation, likelihood, obs_std, seed, dtype
        As for :class:`vae_np.VAE`.

    Attributes
    ----------
    params, grads : dict of str -> ndarray
        Encoder ``"enc.{i}.W"``, ``"enc.{i}.b"``: an MLP from ``d + C`` inputs to ``2k`` outputs
        (``mu`` then ``logvar``); decoder ``"dec.{i}.W"``, ``"dec.{i}.b"``: from ``k + C`` inputs
        to ``d`` outputs (logits or means).
    terms : dict
        ``loss``, ``recon`` and ``kl`` of the last :meth:`loss_and_grads` call.

    Notes
    -----
    Every method that takes labels ``Y`` accepts integer labels of shape (n,) or rows of shape
    (n, C) (one-hot, or any weights: decoding a mixture of two labels is allowed).
    """

    def __init__(self, input_dim, n_classes, hidden_dims=(400,), latent_dim=20,
                 activation="relu", likelihood="bernoulli", obs_std=1.0, seed=0,
                 dtype=np.float32):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype)
        self.n_classes = check_positive_int(n_classes, "n_classes")
        rng = np.random.default_rng(self.seed)
        h, c = list(self.hidden_dims), self.n_classes
        self.encoder = MLP([self.input_dim + c, *h, 2 * self.latent_dim], self.activation,
                           rng=rng, dtype=self.dtype)
        self.decoder = MLP([self.latent_dim + c, *h[::-1], self.input_dim], self.activation,
                           rng=rng, dtype=self.dtype)
        self._pack()

    @property
    def config(self):
        """Constructor arguments."""
        return {**super().config, "n_classes": self.n_classes}

    # ---------------------------------------------------------------------------------- inputs
    def _condition(self, Y, n):
        """Labels (n,) or rows (n, C) -> float rows of shape (n, C) in the model's dtype."""
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = one_hot(Y, self.n_classes, self.dtype)
        else:
            Y = check_array(Y, "Y", n_features=self.n_classes, dtype=self.dtype)
        if len(Y) != n:
            raise ValueError(f"Y must have {n} rows (one label per example), got {len(Y)}")
        return Y

    def _encode(self, X, C):
        h = self.encoder.forward(np.concatenate([X, C], axis=1))
        k = self.latent_dim
        return h[:, :k], h[:, k:]

    def encode(self, X, Y):
        """Parameters of ``q(z | x, y)``.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        Y : ndarray of shape (n,) (int labels) or (n, n_classes)

        Returns
        -------
        mu, logvar : ndarray of shape (n, latent_dim)
        """
        X = self._check_X(X)
        mu, logvar = self._encode(X, self._condition(Y, len(X)))
        return mu.copy(), logvar.copy()

    def decode(self, Z, Y):
        """Pixel means of ``p(x | z, y)``.

        Parameters
        ----------
        Z : ndarray of shape (n, latent_dim)
        Y : ndarray of shape (n,) (int labels) or (n, n_classes)

        Returns
        -------
        ndarray of shape (n, input_dim)
            Bernoulli probabilities or Gaussian means.
        """
        Z = self._check_Z(Z)
        return self._mean(self.decoder.forward(np.concatenate([Z, self._condition(Y, len(Z))],
                                                              axis=1)))

    def _mean(self, out):
        return sigmoid(out).astype(self.dtype) if self.likelihood == "bernoulli" else out

    def reconstruct(self, X, Y):
        """Decode the posterior means: ``decode(encode(X, Y)[0], Y)``, shape (n, input_dim)."""
        return self.decode(self.encode(X, Y)[0], Y)

    def sample(self, Y, rng):
        """Draw ``z ~ N(0, I)`` for each label and decode it with that label.

        Parameters
        ----------
        Y : ndarray of shape (n,) (int labels) or (n, n_classes)
        rng : numpy.random.Generator

        Returns
        -------
        ndarray of shape (n, input_dim)
        """
        check_rng(rng)
        n = len(np.asarray(Y))
        return self.decode(rng.standard_normal((n, self.latent_dim)).astype(self.dtype), Y)

    # ---------------------------------------------------------------------------------- training
    def loss_and_grads(self, X, Y, eps, beta=1.0):
        """Negative conditional ELBO of a batch and its gradient for every parameter.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        Y : ndarray of shape (n,) (int labels) or (n, n_classes)
        eps : ndarray of shape (n, latent_dim)
            The noise of ``z = mu + exp(0.5*logvar) * eps``; the backward pass uses the same one.
        beta : float
            Weight of the KL term.

        Returns
        -------
        loss : float
            ``(1/n) sum_i [-log p(x_i | z_i, y_i) + beta KL(q(z | x_i, y_i) || N(0, I))]``.
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params``.

        Notes
        -----
        The VAE's backward pass, except that the decoder's input is ``[z, y]``: ``dz`` is the
        first ``latent_dim`` columns of its input gradient (the rest, the gradient with respect
        to the label, is not needed). The gradient with respect to the encoder's ``y`` columns
        is likewise computed by ``MLP.backward`` and dropped.
        """
        X = self._check_X(X)
        C = self._condition(Y, len(X))
        eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
        if len(eps) != len(X):
            raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        if not np.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        mu, logvar = self._encode(X, C)
        z, std = reparameterize(mu, logvar, eps)
        out = self.decoder.forward(np.concatenate([z, C], axis=1))
        recon, dout = nll_and_grad(out, X, self.likelihood, self.obs_std)
        kl, dmu_kl, dlogvar_kl = kl_normal_std(mu, logvar)
        self.zero_grad()
        dz = self.decoder.backward(dout)[:, :self.latent_dim]
        dmu = dz + beta * dmu_kl
        dlogvar = 0.5 * dz * eps * std + beta * dlogvar_kl
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1))
        loss = recon + beta * kl
        self.terms = {"loss": loss, "recon": recon, "kl": kl}
        return loss, self.grads

    # ---------------------------------------------------------------------------------- evaluation
    def elbo(self, X, Y, rng, n_samples=1, batch_size=1000):
        """Monte Carlo conditional ELBO of each example (analytic KL), a bound on ``log p(x|y)``.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        Y : ndarray of shape (n,) or (n, n_classes)
        rng : numpy.random.Generator
        n_samples : int
            Samples of ``z`` averaged in the reconstruction term.
        batch_size : int

        Returns
        -------
        ndarray of shape (n,), float64
        """
        X = self._check_X(X)
        C = self._condition(Y, len(X))
        n_samples = check_positive_int(n_samples, "n_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        check_rng(rng)
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb, Cb = X[s:s + batch_size], C[s:s + batch_size]
            mu, logvar = (a.copy() for a in self._encode(Xb, Cb))
            kl = kl_normal_std_per_example(mu.astype(np.float64), logvar.astype(np.float64))
            rec = 0.0
            for _ in range(n_samples):
                z, _ = reparameterize(mu, logvar, rng.standard_normal(mu.shape).astype(self.dtype))
                dec = self.decoder.forward(np.concatenate([z, Cb], axis=1))
                rec = rec + self._log_px(dec, Xb).astype(np.float64)
            out[s:s + batch_size] = rec / n_samples - kl
        return out

    def log_likelihood(self, X, Y, rng, k=100, batch_size=None):
        """Importance-weighted estimate of ``log p(x | y)`` per example, proposal ``q(z | x, y)``.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        Y : ndarray of shape (n,) or (n, n_classes)
        rng : numpy.random.Generator
        k : int
            Importance samples per example (``k = 1``: a one-sample ELBO).
        batch_size : int, optional
            Examples at once (default keeps ``k * batch_size`` near 5,000 rows).

        Returns
        -------
        ndarray of shape (n,), float64
            ``log (1/k) sum_s p(x | z_s, y) p(z_s) / q(z_s | x, y)`` (:func:`importance_log_mean`).
        """
        X = self._check_X(X)
        C = self._condition(Y, len(X))
        k = check_positive_int(k, "k")
        check_rng(rng)
        batch_size = check_positive_int(batch_size or max(1, 5000 // k), "batch_size")
        L = self.latent_dim
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb, Cb = X[s:s + batch_size], C[s:s + batch_size]
            b = len(Xb)
            mu, logvar = (a.copy() for a in self._encode(Xb, Cb))
            z, _ = reparameterize(mu, logvar, rng.standard_normal((k, b, L)).astype(self.dtype))
            dec = self.decoder.forward(np.concatenate([z.reshape(k * b, L), np.tile(Cb, (k, 1))],
                                                      axis=1))
            log_px = self._log_px(dec, np.tile(Xb, (k, 1))).reshape(k, b).astype(np.float64)
            z64 = z.astype(np.float64)
            log_w = (log_px + log_normal_std(z64)
                     - log_normal_diag(z64, mu.astype(np.float64), logvar.astype(np.float64)))
            out[s:s + b] = importance_log_mean(log_w)
        return out


def fit_conditional(model, X, Y=None, *, epochs, batch_size, optimizer, seed, beta=1.0,
                    dynamic_binarization=True):
    """Train a model of this chapter with minibatches, on the reference (pure NumPy) path.

    Like :func:`vae_np.fit` (a fresh permutation per epoch, dynamic binarization, one ``eps``
    per example, a finite check before every update), for models whose loss takes more than
    ``X``: a :class:`ConditionalVAE` (``loss_and_grads(X, Y, eps, beta)``), a
    :class:`vae_np.VAE` or :class:`~vae_np.nn.structured.StructuredCVAE`
    (``loss_and_grads(X, eps, beta)``) or a deterministic network without a latent code
    (``latent_dim == 0``: ``loss_and_grads(X)``).

    Parameters
    ----------
    model : object with ``params``, ``loss_and_grads`` and ``latent_dim`` (0 for no code)
    X : ndarray of shape (n, d), values in [0, 1]
    Y : ndarray of shape (n,) or (n, n_classes), optional
        Labels, passed to ``loss_and_grads`` batch by batch (only for conditional models).
    epochs, batch_size : int
    optimizer : vae_np.nn.optim.Optimizer
    seed : int
        Seed of the order, the binarization and the noise: training is deterministic.
    beta : float
        Weight of the KL term (ignored without a latent code).
    dynamic_binarization : bool
        Draw every pixel of every batch as ``Bernoulli(intensity)``.

    Returns
    -------
    list of float
        The mean training loss of each epoch (nats per example).

    Raises
    ------
    FloatingPointError
        If a loss or gradient is NaN or inf (the parameters are left at the last finite step).
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    X = check_array(X, "X", dtype=model.dtype, unit_interval=dynamic_binarization)
    if Y is not None and len(Y) != len(X):
        raise ValueError(f"Y must have {len(X)} rows like X, got {len(Y)}")
    k = int(getattr(model, "latent_dim", 0))
    rng = np.random.default_rng(seed)
    n = len(X)
    losses = []
    for _ in range(epochs):
        order, total = rng.permutation(n), 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb = X[idx]
            if dynamic_binarization:
                xb = (rng.random(xb.shape, dtype=xb.dtype) < xb).astype(xb.dtype)
            args = (xb,) if Y is None else (xb, np.asarray(Y)[idx])
            if k:
                eps = rng.standard_normal((len(idx), k), dtype=model.dtype)
                loss, grads = model.loss_and_grads(*args, eps, beta)
            else:
                loss, grads = model.loss_and_grads(*args)
            if not math.isfinite(loss) or not all(np.isfinite(g).all() for g in grads.values()):
                raise FloatingPointError(f"the loss or a gradient became NaN/inf in epoch "
                                         f"{len(losses) + 1}; try a smaller learning rate")
            optimizer.step(model.params, grads)
            total += loss * len(idx)
        losses.append(total / n)
    return losses
