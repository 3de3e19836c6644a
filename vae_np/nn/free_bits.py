"""Free bits (Kingma et al., 2016): a floor under the KL of every latent dimension.

A VAE pays ``KL(q(z_j|x) || p(z_j))`` for every dimension ``j`` it uses. Early in training the
decoder cannot yet use the code, so the cheapest way to lower the loss is to make ``q(z_j|x)``
equal the prior: the dimension *collapses* and may never recover. Free bits give each dimension
``lambda`` nats for free: the objective charges

``sum_j max(lambda, KL_j)``,   ``KL_j = (1/n) sum_i KL(q(z_j|x_i) || p(z_j))``

(the KL of dimension ``j`` averaged over the minibatch, as in the paper), so below ``lambda`` a
dimension gets no gradient pushing it towards the prior, and the reconstruction term alone
decides how much it carries. The objective is the ELBO again once every ``KL_j >= lambda``.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_float
from .losses import kl_normal_std, kl_normal_std_per_example, nll_and_grad
from .vae import VAE, reparameterize

__all__ = ["FreeBitsVAE", "free_bits_kl"]


def free_bits_kl(mu, logvar, free_bits):
    """The floored KL term ``sum_j max(lambda, KL_j)`` of a batch, and its gradients.

    Parameters
    ----------
    mu, logvar : ndarray of shape (n, k)
        Posterior means and log-variances.
    free_bits : float
        ``lambda >= 0``, nats per latent dimension (0 gives the ordinary KL term).

    Returns
    -------
    floored : float
        ``sum_j max(lambda, KL_j)`` with ``KL_j`` the batch mean of dimension ``j``'s KL.
    kl_per_dim : ndarray of shape (k,)
        ``KL_j`` (float64); they sum to the ordinary mean KL per example.
    dmu, dlogvar : ndarray of shape (n, k)
        ∂floored/∂mu and ∂floored/∂logvar: the KL's gradients ``mu / n`` and
        ``0.5 (exp(logvar) - 1) / n`` in the dimensions with ``KL_j > lambda``, zero in the
        others (at ``KL_j = lambda`` exactly the floor is taken: a subgradient).
    """
    mu = check_array(mu, "mu")
    logvar = check_array(logvar, "logvar", n_features=mu.shape[1], dtype=mu.dtype)
    free_bits = check_float(free_bits, "free_bits", "free_bits_kl", low=0.0)
    if logvar.shape != mu.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {mu.shape} and "
                         f"{logvar.shape}")
    _, dmu, dlogvar = kl_normal_std(mu, logvar)
    # per-dimension batch means of the closed-form KL: the per-example formula applied to the
    # transposed arrays sums over the examples instead of over the dimensions
    kl_per_dim = kl_normal_std_per_example(mu.T.astype(np.float64),
                                           logvar.T.astype(np.float64)) / len(mu)
    above = kl_per_dim > free_bits
    floored = float(np.where(above, kl_per_dim, free_bits).sum())
    return floored, kl_per_dim, dmu * above, dlogvar * above


class FreeBitsVAE(VAE):
    """A VAE whose KL term is ``sum_j max(free_bits, KL_j)`` (Kingma et al., 2016).

    Parameters
    ----------
    input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std, seed, dtype, init, init_std
        As for :class:`~vae_np.nn.vae.VAE`.
    free_bits : float
        ``lambda >= 0``, the KL (nats) each latent dimension may carry for free per example.

    Attributes
    ----------
    terms : dict
        Of the last :meth:`loss_and_grads` call: ``loss`` (the free-bits objective),
        ``recon``, ``kl`` (the *actual* mean KL, the rate, without the floor: what ``fit``
        records as ``train_kl``) and ``kl_floored`` (``sum_j max(lambda, KL_j)``).

    Notes
    -----
    ``vae_np.fit`` trains it on the pure-NumPy reference path (it overrides
    :meth:`loss_and_grads`). Evaluation (``elbo``, ``log_likelihood``) is the VAE's: the
    floor changes what is optimized, not the model.
    """

    def __init__(self, input_dim, hidden_dims=(400,), latent_dim=20, activation="relu",
                 likelihood="bernoulli", obs_std=1.0, seed=0, dtype=np.float32, free_bits=0.5,
                 init="default", init_std=0.01):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype, init=init, init_std=init_std)
        self.free_bits = check_float(free_bits, "free_bits", "FreeBitsVAE", low=0.0)

    @property
    def config(self):
        """Constructor arguments (those of the VAE, plus ``free_bits``)."""
        return {**super().config, "free_bits": self.free_bits}

    def loss_and_grads(self, X, eps, beta=1.0):
        """Reconstruction term plus ``beta`` times the floored KL, and the gradients.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        eps : ndarray of shape (n, latent_dim)
            Standard normal noise of ``z = mu + exp(0.5*logvar) * eps``.
        beta : float
            Weight of the (floored) KL term.

        Returns
        -------
        loss : float
            ``(1/n) sum_i -log p(x_i|z_i) + beta * sum_j max(free_bits, KL_j)`` (nats per
            example).
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params``.
        """
        X = self._check_X(X)
        eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
        if len(eps) != len(X):
            raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        beta = check_float(beta, "beta", "FreeBitsVAE.loss_and_grads", low=0.0)
        mu, logvar = self._encode(X)
        z, std = reparameterize(mu, logvar, eps)
        out = self.decoder.forward(z)
        recon, dout = nll_and_grad(out, X, self.likelihood, self.obs_std)
        floored, kl_per_dim, dmu_kl, dlogvar_kl = free_bits_kl(mu, logvar, self.free_bits)
        self.encoder.zero_grad()
        self.decoder.zero_grad()
        dz = self.decoder.backward(dout)
        dmu = dz + beta * dmu_kl
        dlogvar = 0.5 * dz * eps * std + beta * dlogvar_kl
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1))
        loss = recon + beta * floored
        self.terms = {"loss": loss, "recon": recon, "kl": float(kl_per_dim.sum()),
                      "kl_floored": floored}
        return loss, self.grads
