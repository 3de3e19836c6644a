"""The Variational Autoencoder (chapters 4 and 5), with its backward pass written out."""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_float, check_positive_int, check_rng
from .base import Model
from .losses import (
    kl_normal_std,
    kl_normal_std_per_example,
    log_normal_diag,
    log_normal_std,
    logsumexp,
    nll_and_grad,
)

__all__ = ["VAE", "reparameterize"]


def reparameterize(mu, logvar, eps):
    """The sampling layer ``z = mu + exp(0.5*logvar) * eps``.

    Parameters
    ----------
    mu, logvar, eps : ndarray of shape (n, k)
        Means, log-variances and standard normal noise.

    Returns
    -------
    z : ndarray of shape (n, k)
    std : ndarray of shape (n, k)
        ``exp(0.5*logvar)``, kept for the backward pass.
    """
    std = np.exp(0.5 * logvar)
    return mu + std * eps, std


class VAE(Model):
    """A Variational Autoencoder with a diagonal-Gaussian encoder and an MLP decoder.

    Generative model ``p(z) = N(0, I)``, ``p(x|z)`` Bernoulli (logits from the decoder) or
    Gaussian (means from the decoder, fixed ``obs_std``). Inference model
    ``q(z|x) = N(mu(x), diag(exp(logvar(x))))``. Training maximizes the ELBO

    ``ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x)``

    with the reparameterization ``z = mu + exp(0.5*logvar) * eps``, ``eps ~ N(0, I)``.

    Parameters
    ----------
    input_dim : int
        Size of one flattened input ``d`` (784 for MNIST).
    hidden_dims : sequence of int
        Hidden widths of the encoder; the decoder mirrors them. ``(400,)`` gives 784-400-20.
    latent_dim : int
        Size of the latent code ``k``.
    activation : str
        Hidden activation: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"`` or ``"identity"``.
    likelihood : {"bernoulli", "gaussian"}
        ``"bernoulli"`` needs data in [0, 1]; its loss is binary cross-entropy from logits.
        ``"gaussian"`` has loss ``sum (x - mean)**2 / (2 obs_std**2)`` plus a constant.
    obs_std : float
        Standard deviation of the Gaussian likelihood (ignored for Bernoulli).
    seed : int
        Seed of the initial weights.
    dtype : numpy dtype
        float32 (default, fast) or float64 (gradient checks).
    init : {"default", "he", "glorot", "normal"}
        Initialisation of both MLPs (:class:`~vae_np.nn.layers.MLP`). ``"default"`` is He for
        ReLU and Glorot otherwise; ``"normal"`` draws every weight and bias from
        ``N(0, init_std**2)``, as Kingma & Welling (2013) did with ``init_std=0.01``.
    init_std : float
        Standard deviation of ``init="normal"`` (> 0; unused otherwise).

    Attributes
    ----------
    params : dict of str -> ndarray
        In a stable order: encoder ``"enc.{i}.W"`` of shape (d_in, d_out) and ``"enc.{i}.b"`` of
        shape (d_out,), whose last layer outputs ``2*latent_dim`` columns (``mu`` then
        ``logvar``), then the decoder ``"dec.{i}.W"``, ``"dec.{i}.b"``.
    grads : dict of str -> ndarray
        Same keys and shapes, filled by :meth:`loss_and_grads`.
    terms : dict
        ``loss``, ``recon`` and ``kl`` of the last :meth:`loss_and_grads` call.

    Examples
    --------
    >>> import numpy as np, vae_np
    >>> model = vae_np.VAE(784, [400], 20, seed=0)
    >>> X = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    >>> eps = np.random.default_rng(1).standard_normal((8, 20)).astype(np.float32)
    >>> loss, grads = model.loss_and_grads(X, eps)
    >>> grads["enc.0.W"].shape
    (784, 400)
    """

    def __init__(self, input_dim, hidden_dims=(400,), latent_dim=20, activation="relu",
                 likelihood="bernoulli", obs_std=1.0, seed=0, dtype=np.float32, init="default",
                 init_std=0.01):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype, init=init, init_std=init_std)
        self._build(2 * self.latent_dim)

    @property
    def config(self):
        """Constructor arguments (stored in checkpoints), with the initialisation."""
        return {**super().config, "init": self.init, "init_std": self.init_std}

    # ---------------------------------------------------------------------------------- encoder
    def _encode(self, X):
        h = self.encoder.forward(X)
        k = self.latent_dim
        return h[:, :k], h[:, k:]

    def encode(self, X):
        """Parameters of q(z|x).

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)

        Returns
        -------
        mu : ndarray of shape (n, latent_dim)
        logvar : ndarray of shape (n, latent_dim)
            Log-variances: the std is ``exp(0.5 * logvar)``.
        """
        mu, logvar = self._encode(self._check_X(X))
        return mu.copy(), logvar.copy()

    def reconstruct(self, X):
        """Decode the posterior means: X of shape (n, input_dim) -> shape (n, input_dim)."""
        return self.decode(self.encode(X)[0])

    def sample(self, n, rng):
        """Draw ``z ~ N(0, I)`` and decode it.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator

        Returns
        -------
        ndarray of shape (n, input_dim)
            Pixel probabilities (Bernoulli) or means (Gaussian) of ``p(x|z)``.
        """
        n = check_positive_int(n, "n", "VAE.sample")
        check_rng(rng, "rng", "VAE.sample")
        return self.decode(rng.standard_normal((n, self.latent_dim)).astype(self.dtype))

    # ---------------------------------------------------------------------------------- training
    def loss_and_grads(self, X, eps, beta=1.0):
        """Negative ELBO of a batch and its gradient for every parameter.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
            Data (in [0, 1] for the Bernoulli likelihood).
        eps : ndarray of shape (n, latent_dim)
            Standard normal noise of the reparameterization ``z = mu + exp(0.5*logvar)*eps``.
            Passing it makes the call deterministic; the backward pass uses this same ``eps``.
        beta : float
            Weight of the KL term (1 for the ELBO; other values give a beta-VAE).

        Returns
        -------
        loss : float
            ``(1/n) sum_i [-log p(x_i|z_i) + beta * KL(q(z|x_i) || p(z))]``: summed over pixels
            and latent dimensions, averaged over the batch (nats per example).
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params`` (overwritten by the next call).

        Notes
        -----
        Backward through the sampling layer: ``dmu = dz + beta*mu/n`` and
        ``dlogvar = 0.5*dz*eps*std + beta*0.5*(std**2 - 1)/n`` with ``std = exp(0.5*logvar)``.
        """
        X = self._check_X(X)
        eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
        if len(eps) != len(X):
            raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        beta = check_float(beta, "beta", "VAE.loss_and_grads", low=0.0)
        # forward: encoder -> sampling layer -> decoder -> likelihood, plus the KL term
        mu, logvar = self._encode(X)
        z, std = reparameterize(mu, logvar, eps)
        out = self.decoder.forward(z)
        recon, dout = nll_and_grad(out, X, self.likelihood, self.obs_std)
        kl, dmu_kl, dlogvar_kl = kl_normal_std(mu, logvar)
        # backward: decoder -> sampling layer (the same eps) -> encoder
        self.encoder.zero_grad()
        self.decoder.zero_grad()
        dz = self.decoder.backward(dout)
        dmu = dz + beta * dmu_kl
        dlogvar = 0.5 * dz * eps * std + beta * dlogvar_kl
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1))
        loss = recon + beta * kl
        self.terms = {"loss": loss, "recon": recon, "kl": kl}
        return loss, self.grads

    # ---------------------------------------------------------------------------------- evaluation
    def elbo(self, X, rng, n_samples=1, batch_size=1000):
        """Monte Carlo estimate of the ELBO of each example (analytic KL, sampled reconstruction).

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        rng : numpy.random.Generator
            Source of ``eps`` (the ELBO is an expectation over q; it is *not* evaluated at the mean).
        n_samples : int
            Number of ``z`` samples per example averaged in the reconstruction term.
        batch_size : int
            Rows processed at once (memory only; does not change the result).

        Returns
        -------
        ndarray of shape (n,)
            ``log p(x|z) - KL(q(z|x) || p(z))`` per example, in nats (float64).
        """
        X = self._check_X(X)
        check_rng(rng, "rng", "VAE.elbo")
        n_samples = check_positive_int(n_samples, "n_samples", "VAE.elbo")
        batch_size = check_positive_int(batch_size, "batch_size", "VAE.elbo")
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            mu, logvar = (a.copy() for a in self._encode(Xb))
            kl = kl_normal_std_per_example(mu.astype(np.float64), logvar.astype(np.float64))
            rec = 0.0
            for _ in range(n_samples):
                eps = rng.standard_normal(mu.shape).astype(self.dtype)
                z, _ = reparameterize(mu, logvar, eps)
                rec = rec + self._log_px(self.decoder.forward(z), Xb).astype(np.float64)
            out[s:s + batch_size] = rec / n_samples - kl
        return out

    def loss_terms(self, X, rng, batch_size=1000):
        """Mean negative ELBO over ``X`` (one sample of z per example) and its two terms.

        Returns
        -------
        dict
            ``loss`` = ``recon`` + ``kl`` in nats per example.
        """
        X = self._check_X(X)
        check_rng(rng, "rng", "VAE.loss_terms")
        batch_size = check_positive_int(batch_size, "batch_size", "VAE.loss_terms")
        rec = kl = 0.0
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            mu, logvar = (a.copy() for a in self._encode(Xb))
            eps = rng.standard_normal(mu.shape).astype(self.dtype)
            z, _ = reparameterize(mu, logvar, eps)
            rec += -self._log_px(self.decoder.forward(z), Xb).sum(dtype=np.float64)
            kl += kl_normal_std_per_example(mu.astype(np.float64),
                                            logvar.astype(np.float64)).sum()
        rec, kl = rec / len(X), kl / len(X)
        return {"loss": rec + kl, "recon": rec, "kl": kl}

    def log_likelihood(self, X, rng, k=100, batch_size=None):
        """Importance-weighted estimate of ``log p(x)`` per example (Burda et al., 2015).

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        rng : numpy.random.Generator
        k : int
            Number of importance samples from ``q(z|x)``; the bound tightens as ``k`` grows and
            equals the ELBO for ``k = 1``.
        batch_size : int, optional
            Examples processed at once (default keeps ``k * batch_size`` near 5,000 rows).

        Returns
        -------
        ndarray of shape (n,)
            ``log (1/k) sum_s p(x, z_s) / q(z_s|x)``, ``z_s ~ q(z|x)``, computed with
            log-sum-exp (float64).
        """
        X = self._check_X(X)
        check_rng(rng, "rng", "VAE.log_likelihood")
        k = check_positive_int(k, "k", "VAE.log_likelihood")
        if batch_size is None:
            batch_size = max(1, 5000 // k)
        batch_size = check_positive_int(batch_size, "batch_size", "VAE.log_likelihood")
        L = self.latent_dim
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            b = len(Xb)
            mu, logvar = (a.copy() for a in self._encode(Xb))
            eps = rng.standard_normal((k, b, L)).astype(self.dtype)
            z, _ = reparameterize(mu, logvar, eps)                     # (k, b, L)
            dec = self.decoder.forward(z.reshape(k * b, L))
            log_px = self._log_px(dec, np.tile(Xb, (k, 1))).reshape(k, b).astype(np.float64)
            z64 = z.astype(np.float64)
            log_w = (log_px + log_normal_std(z64)
                     - log_normal_diag(z64, mu.astype(np.float64), logvar.astype(np.float64)))
            out[s:s + b] = logsumexp(log_w, axis=0) - np.log(k)
        return out
