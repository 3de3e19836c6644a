"""The Autoencoder and the Variational Autoencoder, with hand-written backward passes.

Loss scaling (everywhere in ``vae_np``): the loss is a **sum over pixels and latent dimensions
and a mean over the batch**, so it is in nats per example and does not change with the batch size.
"""
from __future__ import annotations

import numpy as np

from . import _flat, fused, kernels
from ._validation import (check_array, check_positive_float, check_positive_int, check_rng,
                          check_sizes)
from .layers import MLP, ACTIVATION_NAMES
from .losses import (bernoulli_log_prob, bernoulli_nll, gaussian_log_prob, gaussian_nll,
                     kl_normal_std_per_example, log_normal_diag, log_normal_std, logsumexp,
                     sigmoid)

__all__ = ["Autoencoder", "VAE"]

LIKELIHOODS = ("bernoulli", "gaussian")


class _Model:
    """Shared plumbing: parameters, likelihood, decoding, validation."""

    def __init__(self, input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                 seed, dtype):
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.hidden_dims = check_sizes(hidden_dims, "hidden_dims")
        if activation not in ACTIVATION_NAMES:
            raise ValueError(f"unknown activation {activation!r}; use one of {ACTIVATION_NAMES}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; use one of {LIKELIHOODS}")
        self.activation = activation
        self.likelihood = likelihood
        self.obs_std = check_positive_float(obs_std, "obs_std")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = seed
        self.terms = {}

    def _build(self, enc_out):
        rng = np.random.default_rng(self.seed)
        h = list(self.hidden_dims)
        self.encoder = MLP([self.input_dim, *h, enc_out], self.activation, rng=rng,
                           dtype=self.dtype)
        self.decoder = MLP([self.latent_dim, *h[::-1], self.input_dim], self.activation,
                           rng=rng, dtype=self.dtype)
        self._pack()

    def _pack(self):
        """One contiguous buffer for all parameters and one for the gradients (``_flat.py``)."""
        nets = (("enc", self.encoder), ("dec", self.decoder))
        _flat.pack([layer for _, net in nets for layer in net.layers], self.dtype)
        self.params, self.grads = {}, {}
        for prefix, net in nets:
            net.collect_params()
            for k in net.params:
                self.params[f"{prefix}.{k}"] = net.params[k]
                self.grads[f"{prefix}.{k}"] = net.grads[k]

    def __setstate__(self, state):
        # a deep copy or an unpickled model has separate arrays again: back into flat buffers
        self.__dict__.update(state)
        self._pack()

    @property
    def config(self):
        """Constructor arguments (stored in checkpoints)."""
        return dict(input_dim=self.input_dim, hidden_dims=list(self.hidden_dims),
                    latent_dim=self.latent_dim, activation=self.activation,
                    likelihood=self.likelihood, obs_std=self.obs_std, seed=self.seed,
                    dtype=self.dtype.name)

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def zero_grad(self):
        """Set every gradient to zero."""
        self.encoder.zero_grad()
        self.decoder.zero_grad()

    def _check_X(self, X, name="X"):
        return check_array(X, name, n_features=self.input_dim, dtype=self.dtype,
                           unit_interval=self.likelihood == "bernoulli")

    def _check_Z(self, Z, name="Z"):
        return check_array(Z, name, n_features=self.latent_dim, dtype=self.dtype)

    def _nll_and_grad(self, out, X):
        if self.likelihood == "bernoulli":
            return bernoulli_nll(out, X)
        return gaussian_nll(out, X, self.obs_std)

    def _log_px(self, out, X):
        """Per-example log p(x|z) from decoder outputs (logits or means), shape (n,)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_prob(out, X)
        return gaussian_log_prob(out, X, self.obs_std)

    def decode(self, Z):
        """Decode latent codes to pixel means.

        Parameters
        ----------
        Z : ndarray of shape (n, latent_dim)

        Returns
        -------
        ndarray of shape (n, input_dim)
            Bernoulli probabilities ``sigmoid(logits)`` or Gaussian means.
        """
        out = self.decoder.forward(self._check_Z(Z))
        return sigmoid(out).astype(self.dtype) if self.likelihood == "bernoulli" else out

    def __repr__(self):
        return (f"{type(self).__name__}(input_dim={self.input_dim}, hidden_dims="
                f"{list(self.hidden_dims)}, latent_dim={self.latent_dim}, activation="
                f"{self.activation!r}, likelihood={self.likelihood!r}, dtype={self.dtype.name})")


class Autoencoder(_Model):
    """A deterministic autoencoder ``x -> z = enc(x) -> dec(z)``, optionally with noisy codes.

    Parameters
    ----------
    input_dim : int
        Size of one flattened input ``d`` (784 for MNIST).
    hidden_dims : sequence of int
        Hidden widths of the encoder; the decoder mirrors them.
    latent_dim : int
        Size of the code ``k``.
    activation : str
        Hidden activation (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``, ``"identity"``;
        ``"identity"`` with no hidden layers is the linear AE that PCA solves).
    likelihood : {"bernoulli", "gaussian"}
        Reconstruction loss: binary cross-entropy from logits, or squared error / (2 obs_std**2)
        plus a constant.
    obs_std : float
        Gaussian observation std (only for ``likelihood="gaussian"``).
    code_noise : float
        If > 0, training adds ``code_noise * eps`` to the code (a "noisy-code" AE).
    seed : int
        Seed of the initial weights.
    dtype : numpy dtype
        float32 (default, fast) or float64 (gradient checks).

    Attributes
    ----------
    params : dict of str -> ndarray
        ``"enc.{i}.W"`` of shape (d_in, d_out), ``"enc.{i}.b"`` of shape (d_out,), then the decoder's.
    grads : dict of str -> ndarray
        Same keys and shapes; filled by :meth:`loss_and_grads`.
    """

    def __init__(self, input_dim, hidden_dims=(400,), latent_dim=20, activation="relu",
                 likelihood="bernoulli", obs_std=1.0, code_noise=0.0, seed=0,
                 dtype=np.float32):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype)
        if not (np.isfinite(code_noise) and code_noise >= 0):
            raise ValueError(f"code_noise must be a finite number >= 0, got {code_noise!r}")
        self.code_noise = float(code_noise)
        self._build(self.latent_dim)

    @property
    def config(self):
        return {**super().config, "code_noise": self.code_noise}

    def encode(self, X):
        """X : ndarray of shape (n, input_dim). Returns the codes Z of shape (n, latent_dim)."""
        return self.encoder.forward(self._check_X(X)).copy()

    def reconstruct(self, X):
        """X : ndarray of shape (n, input_dim). Returns decode(encode(X)), shape (n, input_dim)."""
        return self.decode(self.encode(X))

    def loss_and_grads(self, X, eps=None, beta=1.0):
        """Reconstruction loss and its gradients for every parameter.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        eps : ndarray of shape (n, latent_dim), optional
            Standard normal noise for the noisy-code AE (ignored when ``code_noise == 0``).
        beta : float
            Unused (kept so AE and VAE share the training loop).

        Returns
        -------
        loss : float
            Negative log-likelihood, summed over pixels, averaged over the batch.
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params`` (overwritten by the next call).
        """
        X = self._check_X(X)
        if eps is not None:
            eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
            if len(eps) != len(X):
                raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        return self._loss_and_grads(X, eps, beta)

    def _loss_and_grads(self, X, eps, beta=1.0):
        Z = self.encoder.forward(X)
        if self.code_noise > 0 and eps is not None:
            Z = Z + self.dtype.type(self.code_noise) * eps
        out = self.decoder.forward(Z)
        loss, dout = self._nll_and_grad(out, X)
        self.zero_grad()
        self.encoder.backward(self.decoder.backward(dout))
        self.terms = {"loss": loss, "recon": loss, "kl": 0.0}
        return loss, self.grads

    def loss_terms(self, X, rng=None, batch_size=1000):
        """Mean reconstruction loss over ``X`` (no noise). Returns dict(loss, recon, kl=0)."""
        X = self._check_X(X)
        batch_size = check_positive_int(batch_size, "batch_size")
        total = 0.0
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            total += -self._log_px(self.decoder.forward(self.encoder.forward(Xb)), Xb).sum()
        loss = total / len(X)
        return {"loss": loss, "recon": loss, "kl": 0.0}


class VAE(_Model):
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
                 likelihood="bernoulli", obs_std=1.0, seed=0, dtype=np.float32):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype)
        self._build(2 * self.latent_dim)

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
        n = check_positive_int(n, "n")
        check_rng(rng)
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
        if not np.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        return self._loss_and_grads(X, eps, beta)

    def _loss_and_grads(self, X, eps, beta=1.0):
        if kernels.get_backend() == "numba" and fused.supports(self):
            # Same numbers, computed with preallocated buffers and fused kernels (the speed
            # appendix); the layer-by-layer code below is the reference ("numpy" backend).
            return fused.vae_loss_and_grads(self, X, eps, beta)
        n = X.shape[0]
        mu, logvar = self._encode(X)
        z, std = kernels.reparameterize(mu, logvar, eps)
        out = self.decoder.forward(z)
        recon, dout = self._nll_and_grad(out, X)
        kl = float(0.5 * (std * std + mu * mu - 1 - logvar).sum(dtype=np.float64) / n)
        self.zero_grad()
        dz = self.decoder.backward(dout)
        dmu, dlogvar = kernels.reparam_backward(dz, eps, std, mu, logvar, beta, 1.0 / n)
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
        n_samples = check_positive_int(n_samples, "n_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        check_rng(rng)
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            mu, logvar = (a.copy() for a in self._encode(Xb))
            kl = kl_normal_std_per_example(mu.astype(np.float64), logvar.astype(np.float64))
            rec = 0.0
            for _ in range(n_samples):
                eps = rng.standard_normal(mu.shape).astype(self.dtype)
                z, _ = kernels.reparameterize(mu, logvar, eps)
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
        batch_size = check_positive_int(batch_size, "batch_size")
        check_rng(rng)
        rec = kl = 0.0
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            mu, logvar = (a.copy() for a in self._encode(Xb))
            eps = rng.standard_normal(mu.shape).astype(self.dtype)
            z, _ = kernels.reparameterize(mu, logvar, eps)
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
        k = check_positive_int(k, "k")
        check_rng(rng)
        if batch_size is None:
            batch_size = max(1, 5000 // k)
        batch_size = check_positive_int(batch_size, "batch_size")
        L = self.latent_dim
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            b = len(Xb)
            mu, logvar = (a.copy() for a in self._encode(Xb))
            eps = rng.standard_normal((k, b, L)).astype(self.dtype)
            z = mu + np.exp(0.5 * logvar) * eps                         # (k, b, L)
            dec = self.decoder.forward(z.reshape(k * b, L))
            log_px = self._log_px(dec, np.tile(Xb, (k, 1))).reshape(k, b).astype(np.float64)
            z64 = z.astype(np.float64)
            log_w = (log_px + log_normal_std(z64)
                     - log_normal_diag(z64, mu.astype(np.float64), logvar.astype(np.float64)))
            out[s:s + b] = logsumexp(log_w, axis=0) - np.log(k)
        return out
