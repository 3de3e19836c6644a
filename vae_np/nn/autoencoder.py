"""The deterministic autoencoder (chapter 2), with an optional noisy code."""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_float, check_positive_int, check_rng
from .base import Model
from .losses import nll_and_grad

__all__ = ["Autoencoder"]


class Autoencoder(Model):
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
    init, init_std
        Initialisation of both MLPs, as for :class:`~vae_np.nn.vae.VAE`.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``"enc.{i}.W"`` of shape (d_in, d_out), ``"enc.{i}.b"`` of shape (d_out,), then the decoder's.
    grads : dict of str -> ndarray
        Same keys and shapes; filled by :meth:`loss_and_grads`.
    """

    def __init__(self, input_dim, hidden_dims=(400,), latent_dim=20, activation="relu",
                 likelihood="bernoulli", obs_std=1.0, code_noise=0.0, seed=0,
                 dtype=np.float32, init="default", init_std=0.01):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype, init=init, init_std=init_std)
        self.code_noise = check_float(code_noise, "code_noise", "Autoencoder", low=0.0)
        self._build(self.latent_dim)

    @property
    def config(self):
        return {**super().config, "code_noise": self.code_noise, "init": self.init,
                "init_std": self.init_std}

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
            Unused (kept so AE and VAE share the training loop); must still be a float >= 0.

        Returns
        -------
        loss : float
            Negative log-likelihood, summed over pixels, averaged over the batch.
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params`` (overwritten by the next call).
        """
        X = self._check_X(X)
        check_float(beta, "beta", "Autoencoder.loss_and_grads", low=0.0)
        if eps is not None:
            eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
            if len(eps) != len(X):
                raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        Z = self.encoder.forward(X)
        if self.code_noise > 0 and eps is not None:
            Z = Z + self.dtype.type(self.code_noise) * eps
        out = self.decoder.forward(Z)
        loss, dout = nll_and_grad(out, X, self.likelihood, self.obs_std)
        self.encoder.zero_grad()
        self.decoder.zero_grad()
        self.encoder.backward(self.decoder.backward(dout))
        self.terms = {"loss": loss, "recon": loss, "kl": 0.0}
        return loss, self.grads

    def loss_terms(self, X, rng=None, batch_size=1000):
        """Mean reconstruction loss over ``X`` (no noise). Returns dict(loss, recon, kl=0).

        ``rng`` is unused (no sampling), accepted so that AE and VAE share the training loop;
        if given it must be a ``numpy.random.Generator``.
        """
        X = self._check_X(X)
        if rng is not None:
            check_rng(rng, "rng", "Autoencoder.loss_terms")
        batch_size = check_positive_int(batch_size, "batch_size", "Autoencoder.loss_terms")
        total = 0.0
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            total += -self._log_px(self.decoder.forward(self.encoder.forward(Xb)), Xb).sum()
        loss = total / len(X)
        return {"loss": loss, "recon": loss, "kl": 0.0}
